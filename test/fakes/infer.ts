/** infer's ports over the in-memory fakes, each one reachable for assertions. */
import pino from 'pino';
import type { InferPayload } from '../../src/jobs/catalog.ts';
import type { RunSpec } from '../../src/runs/types.ts';
import type { InferPorts } from '../../src/workers/infer.ts';
import { type Answer, ScriptedClient } from './client.ts';
import { FakeCosts } from './costs.ts';
import { FakeRuns } from './runs.ts';
import { MemoryStorage } from './storage.ts';

export interface FakeInfer {
  ports: InferPorts;
  runs: FakeRuns;
  costs: FakeCosts;
  storage: MemoryStorage;
  client: ScriptedClient;
  /** delays asked for (ms), and budget alerts told */
  delays: number[];
  alerts: string[];
}

/** One 30-s audio chunk of file f1 in run r1. */
export const fakePayload: InferPayload = {
  runId: 'r1',
  fileId: 'f1',
  key: 'a.mp3',
  chunk: 0,
  chunks: 1,
  startS: 0,
  endS: 30,
  stagingKey: 'staging/r1/f1/0/chunk.mp3',
  format: 'mp3',
  kind: 'audio',
};

export function fakeSpec(over: Partial<RunSpec> = {}): RunSpec {
  return {
    runId: 'r1',
    createdAt: '2026-01-01T00:00:00.000Z',
    source: 'mem://in/',
    destination: 'mem://out/',
    task: 'transcribe',
    model: 'qwen3-omni-flash',
    protocol: 'chat',
    region: 'intl',
    force: false,
    fingerprint: 'f',
    inputMode: 'base64',
    ...over,
  };
}

export function fakeInfer(
  opts: { spec?: Partial<RunSpec>; answers?: Answer[]; tpm?: number; tpmRoom?: number; canDelay?: boolean; tmpDir?: string } = {},
): FakeInfer {
  const spec = fakeSpec(opts.spec);
  const runs = new FakeRuns();
  const costs = new FakeCosts(opts.tpmRoom);
  const storage = new MemoryStorage();
  const client = new ScriptedClient(opts.answers ?? []);
  const delays: number[] = [];
  const alerts: string[] = [];
  const ports: InferPorts = {
    spec: async (runId) => ({ ...spec, runId }),
    runs,
    costs,
    client,
    storage: () => storage,
    tpm: opts.tpm,
    tmpDir: opts.tmpDir,
    log: pino({ level: 'silent' }),
    ...(opts.canDelay !== false && {
      async delay(ms: number): Promise<never> {
        delays.push(ms);
        throw Object.assign(new Error('delayed'), { name: 'DelayedError' });
      },
    }),
    async budgetSettled(_spec, d) {
      alerts.push(d.runId);
    },
  };
  return { ports, runs, costs, storage, client, delays, alerts };
}
