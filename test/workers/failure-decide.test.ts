/**
 * decideFailure: every branch of "what a failed attempt becomes", from the failure table and the job's attempts,
 * without BullMQ, Redis or a worker (the bootstrap, the failed-event path and the report handler all use it).
 */
import { describe, expect, it } from 'vitest';
import { FAILURE_CODES, type FailureCode } from '../../src/util/failure-codes.ts';
import { decideFailure, type FailureFacts, isFinalAttempt, RATE_LIMIT_MAX_WAIT_MS } from '../../src/workers/failure-decide.ts';

const facts = (over: Partial<FailureFacts>): FailureFacts => ({ code: 'internal', attemptsMade: 0, attempts: 5, ...over });

describe('decideFailure', () => {
  it.each([
    ['BullMQ rate limit passes through', { errorName: 'RateLimitError', code: 'server_error' }, { kind: 'pass-through' }],
    ['BullMQ delay passes through', { errorName: 'DelayedError', code: 'internal' }, { kind: 'pass-through' }],
    ['429 with Retry-After waits that long', { code: 'rate_limited', retryAfterMs: 1234 }, { kind: 'rate-limit', waitMs: 1234 }],
    ['TPM 429 without Retry-After backs off from 2 s', { code: 'quota_exceeded' }, { kind: 'rate-limit', waitMs: 2000 }],
    ['a rate limit never spends the last attempt', { code: 'rate_limited', attemptsMade: 4, attempts: 5 }, { kind: 'rate-limit', waitMs: 32_000 }],
    ['weather with attempts left retries', { code: 'server_error', attemptsMade: 3, attempts: 5 }, { kind: 'retry' }],
    ['weather at the last attempt is final', { code: 'server_error', attemptsMade: 4, attempts: 5 }, { kind: 'final', stopRun: false, replan: false }],
    ['a job with no attempts set has one', { code: 'connection', attempts: undefined }, { kind: 'final', stopRun: false, replan: false }],
    ['a bad file fails at once', { code: 'media_unreadable' }, { kind: 'final', stopRun: false, replan: false }],
    ['an uncoded error fails at once', { code: 'internal' }, { kind: 'final', stopRun: false, replan: false }],
    ['too large re-plans', { code: 'input_too_large' }, { kind: 'final', stopRun: false, replan: true }],
    ['a bad key stops the run', { code: 'auth' }, { kind: 'final', stopRun: true, replan: false }],
    ['arrears stop the run', { code: 'arrears', attemptsMade: 0 }, { kind: 'final', stopRun: true, replan: false }],
  ] as const)('%s', (_name, over, expected) => {
    expect(decideFailure(facts(over as Partial<FailureFacts>))).toEqual(expected);
  });

  it('caps the backoff of a rate limit without Retry-After', () => {
    expect(decideFailure(facts({ code: 'rate_limited', attemptsMade: 40 }))).toEqual({ kind: 'rate-limit', waitMs: RATE_LIMIT_MAX_WAIT_MS });
  });

  it('follows the table for every code: only wait and retry codes are ever tried again', () => {
    for (const code of Object.keys(FAILURE_CODES) as FailureCode[]) {
      const d = decideFailure(facts({ code, attemptsMade: 0, attempts: 3 })).kind;
      const q = FAILURE_CODES[code].queue;
      expect(d, code).toBe(q === 'wait' ? 'rate-limit' : q === 'retry' ? 'retry' : 'final');
    }
  });

  it('isFinalAttempt: the report gives up on a permanent error at once, on weather after its last attempt', () => {
    expect(isFinalAttempt(facts({ code: 'storage_denied', attemptsMade: 0, attempts: 8 }))).toBe(true);
    expect(isFinalAttempt(facts({ code: 'storage_unavailable', attemptsMade: 0, attempts: 8 }))).toBe(false);
    expect(isFinalAttempt(facts({ code: 'storage_unavailable', attemptsMade: 7, attempts: 8 }))).toBe(true);
  });
});
