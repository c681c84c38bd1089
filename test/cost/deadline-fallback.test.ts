/** --batch-fallback realtime: when the poller gives up a batch for real time, as data. */
import { describe, expect, it } from 'vitest';
import { type FallbackFacts, leftWallMs, shouldFallBack } from '../../src/cost/deadline-fallback.ts';

const S = 1000;
const H = 3600 * S;
const T0 = Date.parse('2026-12-06T00:00:00Z');
// a batch created at T0 with a 24-h window; the deadline 8 h later; what is left takes 1 h in real time
const base: FallbackFacts = {
  nowMs: T0 + H,
  deadlineMs: T0 + 8 * H,
  batchCreatedMs: T0,
  windowMs: 24 * H,
  leftWallMs: H,
  nextPollMs: 5 * 60 * S,
  cancelAllowanceMs: 30 * S,
};

describe('shouldFallBack', () => {
  it('waits while the next read still leaves the allowance and the real-time wall time before the deadline', () => {
    expect(shouldFallBack(base)).toEqual({ kind: 'wait' });
    // the last moment to start in real time is 7 h; the next read at 6:55 plus the allowance is still before it
    expect(shouldFallBack({ ...base, nowMs: T0 + 7 * H - 5 * 60 * S - 30 * S - 1 })).toEqual({ kind: 'wait' });
  });

  it('cancels once the next read would come too late', () => {
    const step = shouldFallBack({ ...base, nowMs: T0 + 7 * H - 5 * 60 * S - 30 * S });
    expect(step.kind).toBe('cancel');
    if (step.kind === 'cancel')
      expect(step.reason).toMatch(
        /\(6 h 5\d min old, of a 24 h 0 min window\) may still run past the deadline 2026-12-06T08:00:00\.000Z.*about 1 h 0 min in real time/,
      );
    // past the last moment (a late first read): cancel at once
    expect(shouldFallBack({ ...base, nowMs: T0 + 9 * H }).kind).toBe('cancel');
  });

  it('leaves alone a batch whose window ends before real time would have to start (it ends by then, one way or the other)', () => {
    expect(shouldFallBack({ ...base, windowMs: 6 * H, nowMs: T0 + 7 * H })).toEqual({ kind: 'wait' });
    expect(shouldFallBack({ ...base, windowMs: 7 * H + 1, nowMs: T0 + 7 * H }).kind).toBe('cancel');
  });

  it('more left in real time means an earlier fallback', () => {
    const now = T0 + 4 * H;
    expect(shouldFallBack({ ...base, nowMs: now, leftWallMs: H }).kind).toBe('wait');
    expect(shouldFallBack({ ...base, nowMs: now, leftWallMs: 4 * H }).kind).toBe('cancel');
  });

  it('after the cancel: reads again until the last moment, then sends the lines in real time regardless', () => {
    const cancelled = { ...base, fellBackAtMs: T0 + 6 * H, nextPollMs: 10 * S };
    expect(shouldFallBack({ ...cancelled, nowMs: T0 + 6 * H + 10 * S })).toEqual({ kind: 'cancelling' });
    const force = shouldFallBack({ ...cancelled, nowMs: T0 + 7 * H - 10 * S });
    expect(force.kind).toBe('force');
    if (force.kind === 'force') expect(force.reason).toMatch(/had not ended 60 min after it was cancelled/);
  });
});

describe('leftWallMs', () => {
  it("is the run's planned real-time wall time in the share of lines not answered", () => {
    expect(leftWallMs(3600, { total: 100, left: 25 })).toBe(900 * S);
    expect(leftWallMs(3600, { total: 100, left: 0 })).toBe(0);
    expect(leftWallMs(3600, { total: 0, left: 0 })).toBe(0);
    // never more than the whole run
    expect(leftWallMs(10, { total: 3, left: 5 })).toBe(10 * S);
    expect(leftWallMs(10, { total: 3, left: 1 })).toBe(3334);
  });
});
