/**
 * `--batch-fallback realtime`: when a batch that has not ended must give up its lines so that they can still be
 * answered in real time before the `--deadline`, as data. The poller (batch-poll) asks at each read of a
 * batch that has not ended.
 *
 * The last moment real time can start is the deadline minus the predicted real-time wall time of what is left
 * (the run's lines not yet answered). A batch whose completion window ends before that moment is left alone:
 * it ends by then (completed, or expired and its lines sent again). Otherwise, once the poller's next read
 * would come too late, the batch is cancelled at the provider, with an allowance for the cancel to end: what it
 * answered meanwhile is kept (paid once, at the Batch rate) and what it never answered goes in real time. If
 * the provider is still cancelling at the last moment, its lines go in real time at once, and an answer the
 * batch gives for them later is ignored (the deadline comes first; the line is recorded once).
 */
import { formatSpan } from './deadline.ts';

export interface FallbackFacts {
  nowMs: number;
  deadlineMs: number;
  /** the batch's creation, by the provider's clock */
  batchCreatedMs: number;
  /** the completion window */
  windowMs: number;
  /** the predicted real-time wall time of the run's unanswered lines */
  leftWallMs: number;
  /** when the poller would read the batch again (its age-based wait) */
  nextPollMs: number;
  /** how long a cancel at the provider is given to end before its lines go in real time regardless */
  cancelAllowanceMs: number;
  /** when this batch was cancelled for the deadline (undefined: not yet) */
  fellBackAtMs?: number;
}

export type FallbackStep =
  /** the batch may still answer in time, or is sure to end first: read it again as usual */
  | { kind: 'wait' }
  /** cancel it at the provider: its answers are kept, what it never answered goes in real time */
  | { kind: 'cancel'; reason: string }
  /** cancelled, still ending: read it again soon */
  | { kind: 'cancelling' }
  /** the last moment came while the provider was still cancelling: the lines go in real time now */
  | { kind: 'force'; reason: string };

/** The last moment what is left can start in real time and still end by the deadline. */
export function latestRealtimeStartMs(f: Pick<FallbackFacts, 'deadlineMs' | 'leftWallMs'>): number {
  return f.deadlineMs - f.leftWallMs;
}

export function shouldFallBack(f: FallbackFacts): FallbackStep {
  const latest = latestRealtimeStartMs(f);
  if (f.fellBackAtMs !== undefined) {
    if (f.nowMs + f.nextPollMs < latest) return { kind: 'cancelling' };
    return {
      kind: 'force',
      reason: `the batch had not ended ${formatSpan((f.nowMs - f.fellBackAtMs) / 1000)} after it was cancelled: its lines go in real time now, and a late answer from it is ignored`,
    };
  }
  if (f.batchCreatedMs + f.windowMs <= latest) return { kind: 'wait' };
  if (f.nowMs + f.nextPollMs + f.cancelAllowanceMs < latest) return { kind: 'wait' };
  const age = formatSpan(Math.max(0, f.nowMs - f.batchCreatedMs) / 1000);
  return {
    kind: 'cancel',
    reason:
      `the batch (${age} old, of a ${formatSpan(f.windowMs / 1000)} window) may still run past the deadline ${new Date(f.deadlineMs).toISOString()}, ` +
      `and what is left takes about ${formatSpan(f.leftWallMs / 1000)} in real time: it goes in real time now`,
  };
}

/**
 * The predicted real-time wall time of the lines left: the run's planned wall time in the share of its lines
 * not yet answered (a simple proportion: the planner's wall time is bound by requests or tokens, both of which
 * scale with the lines).
 */
export function leftWallMs(plannedWallS: number, lines: { total: number; left: number }): number {
  if (lines.total <= 0 || lines.left <= 0) return 0;
  return Math.ceil((plannedWallS * 1000 * Math.min(lines.left, lines.total)) / lines.total);
}
