/**
 * How far a run is, by work rather than by files: requests done against requests planned. A file's plan (its
 * chunks, and speak's final request) is known once it is prepared; a file not yet prepared is taken at the mean
 * of those that are. The rate is requests done over the time since the run's first request, so scanning and
 * planning before it do not slow the estimate, and one 12-chunk file weighs twelve times a 1-chunk file (a
 * file count said "eta 3s" with 11 of 17 requests still to come). Pure.
 */
import type { RunCounts } from './types.ts';

export interface WorkFacts {
  counts: RunCounts;
  scanDone: boolean;
  /** requests whose result is recorded (the ledger's chunks: once per chunk, retries not counted again) */
  requestsDone: number;
  /** epoch ms */
  now: number;
  /**
   * The run's recent pace as a watcher saw it (WorkHistory.recent): the rate is then the recent one, not the one
   * since the first request, whose start (files still being planned, workers warming) is slower than the rest.
   */
  recent?: Pace;
}

export interface Observation {
  t: number;
  done: number;
}

/**
 * The run's recent pace, fitted to the moments its count changed (the first look at each count) since the
 * window began: a least-squares line through them. Requests finish in clusters (two workers with equal
 * latencies: pairs, the second a few ms after the first), so a rate between two looks, or two changes, depends
 * on where in a cluster each fell: by a step per window, an ETA 27% off at 50%. The fit does not.
 */
export interface Pace {
  /** requests per second */
  rate: number;
  /** a point on the fitted line (the changes' mean) */
  at: Observation;
  /** the latest change */
  latest: Observation;
  /** the longest wait between two changes in the window: waited longer, the run is overdue */
  gapMs: number;
}

export interface WorkProgress {
  requestsDone: number;
  /** planned requests, with unprepared files at the prepared files' mean; null before any file is planned */
  requestsPlanned: number | null;
  /** true while some files are not planned yet (the planned total is partly estimated) */
  plannedEstimated: boolean;
  /** 0..1 of the planned work; by files until a plan is known */
  fraction: number;
  /** seconds left, or null when unknown (nothing done yet, nothing planned, or the scan still listing) */
  etaS: number | null;
  /** media seconds planned so far (prepared files) */
  mediaPlannedS: number;
}

export function workProgress(f: WorkFacts): WorkProgress {
  const c = f.counts;
  const prepared = c.prepared ?? 0;
  const planned = c.planned_requests ?? 0;
  const done = f.requestsDone;
  const filesFraction = c.total ? Math.min(1, c.terminal / c.total) : f.scanDone ? 1 : 0;
  const base = { requestsDone: done, mediaPlannedS: c.media_ms / 1000 };
  if (prepared === 0 || planned === 0) return { ...base, requestsPlanned: null, plannedEstimated: true, fraction: filesFraction, etaS: null };
  // Files that will never be planned: skipped (done by an earlier run) and not run; the rest are, or will be.
  const toPlan = Math.max(0, c.total - c.skipped - c.not_run - prepared);
  const open = c.total - c.terminal;
  const unplanned = Math.min(toPlan, open);
  const total = Math.max(done, Math.round(planned + unplanned * (planned / prepared)));
  const ended = f.scanDone && c.terminal >= c.total;
  const fraction = ended ? 1 : total ? Math.min(1, done / total) : 0;
  const started = c.work_started_ms;
  const elapsedS = started !== undefined ? Math.max(0, (f.now - started) / 1000) : 0;
  const p = f.recent;
  let etaS: number | null = null;
  if (ended) etaS = 0;
  else if (f.scanDone && p) {
    // The fitted line reaches the total then. Waited longer than any wait of the window (the mean one is short
    // when requests finish in clusters), the ETA stops counting down and rises with the wait: a stalled run
    // never shows a shrinking ETA.
    const endMs = p.at.t + ((total - p.at.done) * 1000) / p.rate;
    const overdueMs = Math.max(0, f.now - p.latest.t - p.gapMs);
    etaS = Math.max(0, (endMs - f.now + 2 * overdueMs) / 1000);
  } else if (f.scanDone && done > 0 && elapsedS > 0) etaS = (total - done) / (done / elapsedS);
  return { ...base, requestsPlanned: total, plannedEstimated: unplanned > 0, fraction, etaS };
}

/**
 * What a watcher (run --wait, the dashboard) has seen of a run's work, to measure its recent rate: the rate over
 * the last half of the time since the first look (at least 3 s, at most 2 min), so a slow start stops weighing
 * once the run has found its pace, and a rate change (a worker added) shows within minutes.
 */
export class WorkHistory {
  private readonly seen: Observation[] = [];

  constructor(private readonly maxLength = 4000) {}

  observe(t: number, done: number): void {
    const n = this.seen.length;
    // A quiet stretch keeps its first and its latest look (the latest moves): enough to date the stretch.
    if (n >= 2 && this.seen[n - 1].done === done && this.seen[n - 2].done === done) this.seen[n - 1] = { t, done };
    else this.seen.push({ t, done });
    // Past the cap, every other look of the older half goes: a day-long watch stays a few thousand looks.
    if (this.seen.length > this.maxLength) {
      const half = Math.floor(this.seen.length / 2);
      const older = this.seen.slice(0, half).filter((_, i) => i % 2 === 0);
      this.seen.splice(0, half, ...older);
    }
  }

  /**
   * The pace since the latest look at least the window before `now`: fitted to the changes after it (a quiet
   * stretch before them, planning or warming up, is not the pace). Undefined while too early to tell, or with
   * fewer than two changes in the window.
   */
  recent(now: number): Pace | undefined {
    const first = this.seen[0];
    if (!first) return undefined;
    const windowMs = Math.min(120_000, Math.max(3000, (now - first.t) / 2));
    let at = -1;
    for (let i = 0; i < this.seen.length && this.seen[i].t <= now - windowMs; i++) at = i;
    if (at < 0) return undefined;
    const changes = this.seen.filter((o, i) => i > at && o.done !== this.seen[i - 1].done);
    const n = changes.length;
    if (n < 2) return undefined;
    const mt = changes.reduce((a, o) => a + o.t, 0) / n;
    const md = changes.reduce((a, o) => a + o.done, 0) / n;
    let stt = 0;
    let std = 0;
    for (const o of changes) {
      stt += (o.t - mt) ** 2;
      std += (o.t - mt) * (o.done - md);
    }
    if (stt <= 0 || std <= 0) return undefined;
    let gapMs = 0;
    for (let i = 1; i < n; i++) gapMs = Math.max(gapMs, changes[i].t - changes[i - 1].t);
    return { rate: (std / stt) * 1000, at: { t: mt, done: md }, latest: changes[n - 1], gapMs };
  }
}
