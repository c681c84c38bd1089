/**
 * Once per `vitest run`: the CLI bundle the tests start as a process (test/helpers/cli-bundle.ts), in a folder of
 * its own under node_modules/.cache (packages resolve from there; two runs at once never share one), removed at
 * the end. Its path reaches the test files through vitest's provide/inject.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { buildCliBundle } from './helpers/cli-bundle.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

declare module 'vitest' {
  export interface ProvidedContext {
    cliBundle: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const parent = path.join(REPO_ROOT, 'node_modules/.cache/omnibatch-cli');
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(path.join(parent, 'run-'));
  project.provide('cliBundle', await buildCliBundle(REPO_ROOT, dir));
  return () => rm(dir, { recursive: true, force: true });
}
