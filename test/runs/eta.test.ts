import { describe, expect, it } from 'vitest';
import { WorkHistory, workProgress } from '../../src/runs/eta.ts';
import type { RunCounts } from '../../src/runs/types.ts';

const counts = (over: Partial<RunCounts>): RunCounts => ({
  total: 7,
  succeeded: 0,
  failed: 0,
  skipped: 0,
  not_run: 0,
  terminal: 0,
  media_ms: 0,
  requests: 0,
  retries: 0,
  est_micros: 0,
  est_low_micros: 0,
  est_high_micros: 0,
  ...over,
});

describe('progress by work', () => {
  it('counts requests, not files: 6 of 7 files done is 6 of 17 requests when the last file has 11 chunks', () => {
    const now = 100_000;
    const w = workProgress({
      counts: counts({ succeeded: 6, terminal: 6, prepared: 7, planned_requests: 17, work_started_ms: now - 12_000 }),
      scanDone: true,
      requestsDone: 6,
      now,
    });
    expect(w).toMatchObject({ requestsDone: 6, requestsPlanned: 17, plannedEstimated: false });
    expect(w.fraction).toBeCloseTo(6 / 17);
    // 6 requests in 12 s: 11 more take 22 s (a file count said 2 s)
    expect(w.etaS).toBeCloseTo(22);
  });

  it('takes files not planned yet at the mean of those that are, and knows nothing before any plan', () => {
    const w = workProgress({
      counts: counts({ total: 10, prepared: 4, planned_requests: 12, work_started_ms: 0 }),
      scanDone: true,
      requestsDone: 3,
      now: 6000,
    });
    expect(w).toMatchObject({ requestsPlanned: 30, plannedEstimated: true });
    expect(w.etaS).toBeCloseTo(54);
    expect(workProgress({ counts: counts({}), scanDone: true, requestsDone: 0, now: 1 })).toMatchObject({ requestsPlanned: null, etaS: null });
    // the scan still listing: the total grows, no ETA yet
    expect(
      workProgress({ counts: counts({ prepared: 1, planned_requests: 2, work_started_ms: 0 }), scanDone: false, requestsDone: 1, now: 1000 }).etaS,
    ).toBeNull();
    // skipped and not-run files are never planned
    expect(
      workProgress({
        counts: counts({ total: 5, skipped: 3, terminal: 3, prepared: 2, planned_requests: 4, work_started_ms: 0 }),
        scanDone: true,
        requestsDone: 1,
        now: 1000,
      }).requestsPlanned,
    ).toBe(4);
  });

  it('uses the recent rate once a watcher has seen enough: a slow start stops weighing', () => {
    const h = new WorkHistory();
    // 10 s of planning with nothing done, then 2 requests a second
    h.observe(0, 0);
    for (let t = 10_000; t <= 20_000; t += 500) h.observe(t, (t - 10_000) / 500);
    const recent = h.recent(20_000);
    expect(recent).toBeDefined();
    // fitted to the changes in the window: the 10 s of planning before them do not count
    expect(recent!.rate).toBeCloseTo(2, 5);
    expect(recent!.latest).toEqual({ t: 20_000, done: 20 });
    const w = workProgress({
      counts: counts({ total: 1, prepared: 1, planned_requests: 40, work_started_ms: 0 }),
      scanDone: true,
      requestsDone: 20,
      now: 20_000,
      recent,
    });
    expect(w.etaS).toBeCloseTo(10, 0);
    // without it, since the first request: 20 in 20 s, 20 s left
    expect(
      workProgress({ counts: counts({ total: 1, prepared: 1, planned_requests: 40, work_started_ms: 0 }), scanDone: true, requestsDone: 20, now: 20_000 }).etaS,
    ).toBeCloseTo(20);
    expect(new WorkHistory().recent(5)).toBeUndefined();
  });

  it('measures the pace between changes, not looks: requests finishing in pairs give the same ETA at any phase', () => {
    // two workers, equal 600-ms requests: the count moves by 2 every 600 ms, the pair's second 40 ms after the
    // first (as seen: the looks every 10 ms)
    const facts = (now: number, h: WorkHistory, done: number) =>
      workProgress({
        counts: counts({ total: 1, prepared: 1, planned_requests: 40, work_started_ms: 0 }),
        scanDone: true,
        requestsDone: done,
        now,
        recent: h.recent(now),
      }).etaS!;
    const h = new WorkHistory();
    const etas: number[] = [];
    for (let t = 0; t <= 6000; t += 10) {
      const done = 2 * Math.floor(t / 600) + (t % 600 < 40 && t >= 600 ? -1 : 0);
      h.observe(t, done);
      if (t >= 4000) etas.push(t / 1000 + facts(t, h, done));
    }
    // every look predicts about the same end, whatever its phase: the 40th request done at 12.04 s (2 every
    // 0.6 s); rates between looks swung by a step per 3-s window (1.6 s of the 8 left). Only a look between a
    // pair's two halves (40 ms of every 600) sees a cluster cut in two, and half a second more.
    const off = etas.map((e) => Math.abs(e - 12.04));
    expect(Math.max(...off)).toBeLessThan(0.6);
    expect(off.filter((o) => o < 0.15).length / off.length).toBeGreaterThan(0.9);
    expect(Math.abs(h.recent(5990)!.rate - 2 / 0.6)).toBeLessThan(0.1);
  });

  it('adds the time a stalled run is overdue: nothing done for longer than its pace says, the ETA grows', () => {
    const h = new WorkHistory();
    for (let t = 0; t <= 10_000; t += 100) h.observe(t, Math.floor(t / 1000));
    const at = (now: number) => {
      h.observe(now, 10);
      return workProgress({
        counts: counts({ total: 1, prepared: 1, planned_requests: 20, work_started_ms: 0 }),
        scanDone: true,
        requestsDone: 10,
        now,
        recent: h.recent(now),
      }).etaS!;
    };
    // one request a second, 10 left: 9.5 s half a second after the last; 1 s after it the next was due, and
    // from then the ETA rises with the wait (5 s after the last: 9 s + 4 s)
    expect(at(10_500)).toBeCloseTo(9.5, 5);
    expect(at(11_000)).toBeCloseTo(9, 5);
    expect(at(15_000)).toBeCloseTo(13, 5);
    // no change in the whole window: the rate since the first request (10 in 40 s), not a pace it no longer has
    expect(at(40_000)).toBeCloseTo(40, 1);
  });
});
