/** prepare's ports over the in-memory fakes, each one reachable for assertions. */
import type { FlowJob } from 'bullmq';
import pino from 'pino';
import type { PricingOverride } from '../../src/cost/price.ts';
import { DEFAULT_FILE_LIMITS, type FileLimits } from '../../src/media/limits.ts';
import type { RunSpec } from '../../src/runs/types.ts';
import type { PreparePorts } from '../../src/workers/prepare-ports.ts';
import { fakeSpec } from './infer.ts';
import { FakeMedia } from './media.ts';
import { FakeRuns } from './runs.ts';
import { MemoryStorage } from './storage.ts';

export interface FakePrepare {
  ports: PreparePorts;
  runs: FakeRuns;
  /** the run's source and destination (spec.source, spec.destination) */
  src: MemoryStorage;
  dst: MemoryStorage;
  media: FakeMedia;
  /** flows added, in order; finalize job ids already there (a redone job finds its own) */
  flows: FlowJob[];
  finalizeIds: Set<string>;
}

export function fakePrepare(
  opts: { spec?: Partial<RunSpec>; limits?: Partial<FileLimits>; pricing?: PricingOverride; signal?: AbortSignal; stopPollMs?: number; tmpDir?: string } = {},
): FakePrepare {
  const spec = fakeSpec(opts.spec);
  const runs = new FakeRuns();
  const src = new MemoryStorage();
  const dst = new MemoryStorage();
  const media = new FakeMedia();
  const flows: FlowJob[] = [];
  const finalizeIds = new Set<string>();
  const ports: PreparePorts = {
    spec: async (runId) => ({ ...spec, runId }),
    runs,
    storage: (location) => {
      if (location === spec.source) return src;
      if (location === spec.destination) return dst;
      throw new Error(`fakePrepare: no storage at ${location}`);
    },
    media,
    flows: {
      exists: async (runId, fileId, generation) => finalizeIds.has(`${runId}.${fileId}.${generation}`),
      async add(flow) {
        flows.push(flow);
        const d = flow.data as { runId: string; fileId: string; generation: number };
        finalizeIds.add(`${d.runId}.${d.fileId}.${d.generation}`);
      },
    },
    limits: { ...DEFAULT_FILE_LIMITS, ...opts.limits },
    pricing: opts.pricing,
    tmpDir: opts.tmpDir,
    log: pino({ level: 'silent' }),
    signal: opts.signal,
    stopPollMs: opts.stopPollMs,
  };
  return { ports, runs, src, dst, media, flows, finalizeIds };
}
