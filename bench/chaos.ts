/**
 * The chaos suite.
 *
 *   npm run chaos -- [scenario ...] [--json]
 *
 * Same output as the benchmark runner: one JSON line per scenario, bench/results/chaos/<scenario>.json, a closing
 * table; each scenario passes or fails. `secrets` runs last and reports on every scenario that ran before it
 * (each one scans its logs, Redis keys and outputs for the API key before cleaning up). Needs
 * --openssl-legacy-provider (the npm script passes it) for s3rver in this process.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioResult } from './lib/result.ts';
import { runMain } from './run.ts';

type Scenario = (opts: { quick: boolean }) => Promise<ScenarioResult>;

const CHAOS: Record<string, () => Promise<Scenario>> = {
  'kill-9': async () => (await import('./chaos/kill9.ts')).run,
  'api-faults': async () => (await import('./chaos/api-faults.ts')).run,
  'redis-restart': async () => (await import('./chaos/redis-restart.ts')).run,
  'storage-faults': async () => (await import('./chaos/storage-faults.ts')).run,
  'bad-inputs': async () => (await import('./chaos/bad-inputs.ts')).run,
  hostile: async () => (await import('./chaos/hostile.ts')).run,
  secrets: async () => (await import('./chaos/secrets.ts')).run,
};

const HERE = path.dirname(fileURLToPath(import.meta.url));

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runMain(CHAOS, path.join(HERE, 'results', 'chaos'), path.join(HERE, 'results', 'quick', 'chaos'));
}
