/**
 * Queue policy in one table: attempts, backoff and retention per stage. Why these numbers:
 * - prepare is ffmpeg work: a few attempts (storage blips); its lock is renewed while ffmpeg runs.
 * - infer is the API call: most failures are transient (5xx, cut streams, timeouts), so more attempts with
 *   exponential backoff and jitter; 429s do not spend attempts (worker.rateLimit).
 * - notify is a webhook POST: a receiver may be down for a while, so many attempts with a long exponential
 *   backoff (8 to 17 minutes in all); a Retry-After from the receiver replaces the backoff (notifyBackoff).
 * - finished jobs are trimmed: their facts live in the run state, the ledger and the outputs.
 */
import type { DefaultJobOptions } from 'bullmq';
import type { Stage } from './catalog.ts';

export interface StagePolicy {
  job: DefaultJobOptions;
  /** how often a stalled job (its worker died) may come back before it fails */
  maxStalledCount: number;
}

export const NOTIFY_BACKOFF = 'notify';
const MAX_NOTIFY_DELAY_MS = 10 * 60_000;

const keep = { removeOnComplete: { age: 3600, count: 1000 }, removeOnFail: { age: 7 * 24 * 3600, count: 10_000 } };

export const QUEUE_POLICY: Readonly<Record<Stage, StagePolicy>> = Object.freeze({
  scan: { job: { attempts: 5, backoff: { type: 'exponential', delay: 2000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  prepare: { job: { attempts: 4, backoff: { type: 'exponential', delay: 2000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  infer: { job: { attempts: 6, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  finalize: { job: { attempts: 5, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  report: { job: { attempts: 8, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  notify: { job: { attempts: 10, backoff: { type: NOTIFY_BACKOFF, delay: 2000 }, ...keep }, maxStalledCount: 10 },
  // --via batch. A line job waits delayed for its answer (no attempt spent), so its attempts are infer's.
  'batch-line': { job: { attempts: 6, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  // Uploads and creates: the provider's Files/Batches endpoints may blink; a redone job finds what was done.
  'batch-submit': { job: { attempts: 8, backoff: { type: 'exponential', delay: 2000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
  // A poll waits by delaying itself (no attempt spent); attempts are for failed reads of the batch or its files.
  'batch-poll': { job: { attempts: 10, backoff: { type: 'exponential', delay: 2000, jitter: 0.5 }, ...keep }, maxStalledCount: 10 },
});

/**
 * BullMQ's custom backoff (Worker settings.backoffStrategy), used by the notify queue: the receiver's
 * Retry-After when its error carries one (capped at 10 min), else exponential with equal jitter from the job's
 * delay. Pure; BullMQ calls it only for jobs whose backoff type is NOTIFY_BACKOFF.
 */
export function notifyBackoff(
  attemptsMade: number,
  _type: string | undefined,
  err: Error | undefined,
  job: { opts: DefaultJobOptions } | undefined,
  random: () => number = Math.random,
): number {
  const retryAfter = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  if (typeof retryAfter === 'number' && retryAfter >= 0) return Math.min(MAX_NOTIFY_DELAY_MS, retryAfter);
  const b = job?.opts.backoff;
  const base = typeof b === 'object' && b.delay ? b.delay : 2000;
  const exp = Math.min(MAX_NOTIFY_DELAY_MS, base * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** The scanner pauses while more than this many prepare jobs wait, so Redis memory stays bounded. */
export const SCAN_BACKPRESSURE = { maxWaitingPrepare: 2000, pollMs: 500 };
