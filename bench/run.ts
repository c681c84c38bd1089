/**
 * The benchmark runner.
 *
 *   npm run bench -- [scenario ...] [--quick] [--json]
 *
 * Runs the named scenarios (all by default) one after the other: each prints one JSON line
 * {"scenario","metric","value","target","pass",...}, writes bench/results/<scenario>.json (--quick:
 * bench/results/quick/<scenario>.json, so a quick run never overwrites the recorded figures), and the
 * runner ends with a table on stderr (with --json, stdout holds only the JSON lines). Exit code 1 when a
 * scenario with a target missed it or failed to run.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeAll } from './lib/harness.ts';
import { failed, parseArgs, type ScenarioResult, table, writeResult } from './lib/result.ts';

type Scenario = (opts: { quick: boolean }) => Promise<ScenarioResult>;

const SCENARIOS: Record<string, () => Promise<Scenario>> = {
  saturation: async () => (await import('./scenarios/saturation.ts')).run,
  overhead: async () => (await import('./scenarios/overhead.ts')).run,
  prep: async () => (await import('./scenarios/prep.ts')).run,
  memory: async () => (await import('./scenarios/memory.ts')).run,
  'rate-limit': async () => (await import('./scenarios/rate-limit.ts')).run,
  tokens: async () => (await import('./scenarios/tokens.ts')).run,
  'vs-sequential': async () => (await import('./scenarios/vs-sequential.ts')).run,
  'scale-out': async () => (await import('./scenarios/scale-out.ts')).run,
  tpm: async () => (await import('./scenarios/tpm.ts')).run,
  'cue-timing': async () => (await import('./scenarios/cue-timing.ts')).run,
  batch: async () => (await import('./scenarios/batch.ts')).run,
  eta: async () => (await import('./scenarios/eta.ts')).run,
};

const HERE = path.dirname(fileURLToPath(import.meta.url));

export async function runSuite(
  registry: Record<string, () => Promise<Scenario>>,
  resultsDir: string,
  argv: readonly string[],
  quickDir = resultsDir,
): Promise<number> {
  const { names, quick, json } = parseArgs(argv, Object.keys(registry));
  const say = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
  const stop = async (sig: string) => {
    process.stderr.write(`\n${sig}: stopping, cleaning up\n`);
    await closeAll();
    process.exit(130);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  const results: ScenarioResult[] = [];
  const started = Date.now();
  for (const name of names) {
    const t0 = Date.now();
    if (!json) say(`# ${name}${quick ? ' (quick)' : ''} ...`);
    let r: ScenarioResult;
    try {
      r = await (await registry[name]())({ quick });
    } catch (err) {
      r = failed(name, err, quick);
    }
    r.seconds = Math.round((Date.now() - t0) / 100) / 10;
    results.push(r);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    await writeResult(quick ? quickDir : resultsDir, r);
  }
  say('');
  say(table(results));
  say(`\n${results.length} scenario(s) in ${Math.round((Date.now() - started) / 1000)} s${quick ? ' (quick)' : ''}`);
  return results.some((r) => r.pass === false) ? 1 : 0;
}

/** A runner's main: the suite on the command line's scenarios, every started process closed, the exit code. */
export async function runMain(registry: Record<string, () => Promise<Scenario>>, resultsDir: string, quickDir: string): Promise<never> {
  let code = 1;
  try {
    code = await runSuite(registry, resultsDir, process.argv.slice(2), quickDir);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    code = 2;
  } finally {
    await closeAll();
  }
  process.exit(code);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runMain(SCENARIOS, path.join(HERE, 'results'), path.join(HERE, 'results', 'quick'));
}
