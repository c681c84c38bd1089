/**
 * The CLI as one esbuild bundle, for the tests that start it as a process: `node <bundle>/main.js` starts in about
 * 1.0 CPU-s where `node bin/omnibatch.js` (tsx compiling and resolving each import through its loader) takes
 * 2.0-2.4; the suite starts the CLI ~150 times on a 2-core machine. Built once per `vitest run` by
 * test/global-setup.ts from the checkout's own sources (never stale); test/helpers/cli.ts uses it when it is there,
 * and test/cli/entry.test.ts keeps bin/omnibatch.js itself under test.
 *
 * Same code, two differences a bundle would otherwise bring, removed here: packages stay imports (resolved from
 * node_modules as the sources resolve them: the bundle lives under node_modules/.cache), and each source file's
 * `import.meta.url` stays its own file's URL (demo media, the dashboard's client script and createRequire look
 * beside their source).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** Each .ts source's `import.meta.url` replaced by its own file's URL, as tsx would give it. */
const ownFileUrls: Plugin = {
  name: 'own-file-urls',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      return { contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

/** Bundles `<root>/src/cli/main.ts` into `outDir` (main.js and its command chunks); returns main.js's path. */
export async function buildCliBundle(root: string, outDir: string): Promise<string> {
  await build({
    entryPoints: [path.join(root, 'src/cli/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    splitting: true,
    outdir: outDir,
    logLevel: 'error',
    // bin/omnibatch.js's one setting before main.ts loads
    banner: { js: "process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';" },
    plugins: [ownFileUrls],
  });
  return path.join(outDir, 'main.js');
}
