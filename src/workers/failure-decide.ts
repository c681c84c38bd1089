/**
 * What a failed attempt becomes, decided once from the failure table (util/failure-codes.ts) and the job's
 * attempts, pure: used by the worker bootstrap for every job (index.ts), by its failed-event path for the jobs
 * BullMQ failed without running them to the end, and by the report handler for its last attempt.
 */
import { type FailureCode, queueBehaviour } from '../util/failure-codes.ts';

export interface FailureFacts {
  /** the thrown value's name: BullMQ's own RateLimitError and DelayedError are instructions, not failures */
  errorName?: string;
  code: FailureCode;
  /** attempts made before this one */
  attemptsMade: number;
  /** the job's attempts (jobs/policy.ts); absent means one */
  attempts?: number;
  /** the service's Retry-After, when it gave one */
  retryAfterMs?: number;
}

export type FailureDecision =
  /** BullMQ's own control flow (a rate-limited or delayed job): rethrown untouched, no attempt spent */
  | { kind: 'pass-through' }
  /** the queue pauses for `waitMs` and the job runs again without spending an attempt */
  | { kind: 'rate-limit'; waitMs: number }
  /** thrown back to BullMQ, which backs off and tries again */
  | { kind: 'retry' }
  /** the job fails for good: its stage's failure hook ends the file (or the run, for `stop_run`) */
  | { kind: 'final'; stopRun: boolean; replan: boolean };

/** The longest a rate-limited queue waits without a Retry-After, and the first step of that backoff. */
export const RATE_LIMIT_MAX_WAIT_MS = 60_000;
const RATE_LIMIT_FIRST_WAIT_MS = 2_000;

export function decideFailure(f: FailureFacts): FailureDecision {
  if (f.errorName === 'RateLimitError' || f.errorName === 'DelayedError') return { kind: 'pass-through' };
  const queue = queueBehaviour(f.code);
  if (queue === 'wait') {
    const backoff = Math.min(RATE_LIMIT_MAX_WAIT_MS, RATE_LIMIT_FIRST_WAIT_MS * 2 ** Math.min(5, f.attemptsMade));
    return { kind: 'rate-limit', waitMs: f.retryAfterMs ?? backoff };
  }
  if (queue === 'retry' && f.attemptsMade + 1 < (f.attempts ?? 1)) return { kind: 'retry' };
  return { kind: 'final', stopRun: queue === 'stop_run', replan: queue === 'replan' };
}

/** True when a failure of this attempt is final: a code the table does not retry, or the job's attempts are spent. */
export function isFinalAttempt(f: FailureFacts): boolean {
  return decideFailure(f).kind === 'final';
}
