/**
 * Queue policy in one table: attempts, backoff and retention per stage. Why these numbers:
 * - prepare is ffmpeg work: a few attempts (storage blips); its lock is renewed while ffmpeg runs.
 * - infer is the API call: most failures are transient (5xx, cut streams, timeouts), so more attempts with
 *   exponential backoff and jitter; 429s do not spend attempts (worker.rateLimit).
 * - finished jobs are trimmed: their facts live in the run state, the ledger and the outputs.
 */
import type { DefaultJobOptions } from 'bullmq';
import type { Stage } from './catalog.ts';

export interface StagePolicy {
  job: DefaultJobOptions;
  /** how often a stalled job (its worker died) may come back before it fails */
  maxStalledCount: number;
}

const keep = { removeOnComplete: { age: 3600, count: 1000 }, removeOnFail: { age: 7 * 24 * 3600, count: 10_000 } };

export const QUEUE_POLICY: Readonly<Record<Stage, StagePolicy>> = Object.freeze({
  scan: { job: { attempts: 5, backoff: { type: 'exponential', delay: 2000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  prepare: { job: { attempts: 4, backoff: { type: 'exponential', delay: 2000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  infer: { job: { attempts: 6, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  finalize: { job: { attempts: 5, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  report: { job: { attempts: 8, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
});

/** The scanner pauses while more than this many prepare jobs wait, so Redis memory stays bounded. */
export const SCAN_BACKPRESSURE = { maxWaitingPrepare: 2000, pollMs: 500 };
