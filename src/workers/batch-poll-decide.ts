/**
 * What the poller (batch-poll) does with a batch, as data: when to read it again, and where each line of an
 * ended batch goes: answered, failed like a real-time request would have (its file fails, or is re-planned
 * smaller), or sent again in a later batch (a transient error, an expired or cancelled batch).
 */
import type { BatchStatus } from '../models/batch-api.ts';

export { windowSeconds } from '../models/batch-api.ts';

import { FAILURE_CODES, isFailureCode } from '../util/failure-codes.ts';

/**
 * The wait before the next read: a tenth of the batch's age, between the first wait and the longest. A
 * batch that answers in seconds (the test model, a short queue) is read again soon; one that takes hours
 * costs a read every few minutes, not thousands.
 */
export function pollDelayMs(ageMs: number, firstMs: number, maxMs: number): number {
  return Math.round(Math.min(maxMs, Math.max(firstMs, ageMs / 10)));
}

export const TERMINAL: ReadonlySet<BatchStatus> = new Set(['completed', 'failed', 'expired', 'cancelled']);

export type LineFate = { kind: 'resend' } | { kind: 'fail'; code: string; message: string };

/** A code a later batch may answer: the failure table retries or waits it in real time (the provider's blips). */
function transient(code: string): boolean {
  if (code === 'service_unknown') return true; // an unknown code on a line (batch_expired, batch_cancelled): the line never ran
  return isFailureCode(code) && (FAILURE_CODES[code].queue === 'retry' || FAILURE_CODES[code].queue === 'wait');
}

/**
 * An error line, classified as the real-time error it would be: a transient one goes again (until the line
 * has gone `maxSends` times), anything else fails its line with its code (input_too_large re-plans the file,
 * content_blocked is recorded as a result, the rest fail the file).
 */
export function errorLineFate(code: string, message: string, sends: number, maxSends: number): LineFate {
  if (transient(code)) return unansweredFate(sends, maxSends, `the Batch API answered ${code}: ${message}`);
  return { kind: 'fail', code: isFailureCode(code) ? code : 'batch_failed', message };
}

/** A line a batch ended without answering (expired, cancelled, failed as a whole): sent again, a few times. */
export function unansweredFate(sends: number, maxSends: number, why: string): LineFate {
  if (sends <= maxSends) return { kind: 'resend' };
  return { kind: 'fail', code: 'batch_failed', message: `${why}; sent in ${sends} batches, none answered it (OMNIBATCH_BATCH_MAX_RESUBMITS ${maxSends})` };
}

/** Why an ended batch left lines unanswered, for their messages. */
export function unansweredWhy(status: BatchStatus, errors?: { code?: string; message?: string }[]): string {
  if (status === 'failed') {
    const first = errors?.[0];
    return `the batch failed validation${first ? ` (${first.code ?? 'error'}: ${first.message ?? ''})` : ''}`;
  }
  return `the batch ended ${status} before answering the line`;
}
