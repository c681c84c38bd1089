/**
 * A run's progress over time, for the dashboard's chart: one compact sample per finished file (at most one
 * per sampling interval across all workers), in a capped Redis list next to the run's other keys.
 */
import type { Redis } from 'ioredis';
import { LEDGER_RETENTION_MS } from '../cost/ledger.ts';
import type { Logger } from '../util/logger.ts';
import type { RunStore } from './store.ts';
import type { RunSpec } from './types.ts';

export interface Sample {
  /** epoch ms */
  t: number;
  /** terminal files (succeeded, failed, skipped, not run): throughput is this count's slope */
  done: number;
  failed: number;
  costMicros: number;
  mediaMs: number;
}

/** Enough points for a chart, few enough that reading the whole series every second is cheap. */
export const SERIES_MAX = 2000;
/** Kept as long as the run's ledger, so the chart lives as long as the cost it shows. */
export const SERIES_RETENTION_MS = LEDGER_RETENTION_MS;

export function seriesKey(keyPrefix: string, runId: string): string {
  return `${keyPrefix}:run:${runId}:series`;
}

export async function appendSample(redis: Redis, keyPrefix: string, runId: string, sample: Sample, maxSamples = SERIES_MAX): Promise<void> {
  const key = seriesKey(keyPrefix, runId);
  // An array, not an object: 2000 samples x many runs stay small in Redis and on the wire.
  const row = JSON.stringify([sample.t, sample.done, sample.failed, sample.costMicros, sample.mediaMs]);
  await redis.multi().rpush(key, row).ltrim(key, -maxSamples, -1).pexpire(key, SERIES_RETENTION_MS).exec();
}

export async function readSeries(redis: Redis, keyPrefix: string, runId: string): Promise<Sample[]> {
  const rows = await redis.lrange(seriesKey(keyPrefix, runId), 0, -1);
  const out: Sample[] = [];
  for (const row of rows) {
    const a = JSON.parse(row) as unknown;
    if (!Array.isArray(a) || a.length < 5) continue; // a foreign or older row is skipped, not fatal to the chart
    const [t, done, failed, costMicros, mediaMs] = a.map(Number);
    out.push({ t, done, failed, costMicros, mediaMs });
  }
  return out;
}

/**
 * How far apart samples may be, given how long the run has been going: 1 s at first, then 1/300 of the
 * elapsed time, so a day-long run still spans its whole history in about SERIES_MAX samples
 * (300 + 300 ln(T / 300 s) samples over T) instead of showing only its last half hour.
 */
export function sampleIntervalMs(elapsedMs: number): number {
  return Math.max(1000, Math.floor(Math.max(0, elapsedMs) / 300));
}

export interface SampleDeps {
  redis: Redis;
  keyPrefix: string;
  runs: RunStore;
  /** the run's spending so far (the workers' Costs): a port, so runs/ does not import workers/ */
  costs: { totals(runId: string): Promise<{ costMicros: number }> };
  log: Logger;
  /** cached by the worker's context: specs never change */
  spec(runId: string): Promise<RunSpec>;
}

/**
 * Called by a worker after a file became terminal. A gate key (SET NX PX) lets one sample through per
 * interval across every worker, so a run finishing hundreds of files a second costs one SET per file
 * (the spec is cached); the file that ends the run always samples, so the chart ends on the final
 * numbers. Never throws: a missing chart point must not fail the job that finished the file.
 */
export async function sampleProgress(deps: SampleDeps, runId: string, opts: { ended?: boolean; now?: number } = {}): Promise<void> {
  try {
    const now = opts.now ?? Date.now();
    if (!opts.ended) {
      const spec = await deps.spec(runId);
      const interval = sampleIntervalMs(now - Date.parse(spec.createdAt));
      const open = await deps.redis.set(`${seriesKey(deps.keyPrefix, runId)}:gate`, '1', 'PX', interval, 'NX');
      if (open !== 'OK') return;
    }
    const state = await deps.runs.state(runId);
    if (!state) return;
    const totals = await deps.costs.totals(runId);
    await appendSample(deps.redis, deps.keyPrefix, runId, {
      t: now,
      done: state.counts.terminal,
      failed: state.counts.failed,
      costMicros: totals.costMicros,
      mediaMs: state.counts.media_ms,
    });
  } catch (err) {
    deps.log.debug({ err: (err as Error).message, runId }, 'progress sample skipped');
  }
}
