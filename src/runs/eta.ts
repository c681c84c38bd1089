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
   * An earlier look at the same run (WorkHistory.recent): the rate is then the recent one, not the one since the
   * first request, whose start (files still being planned, workers warming) is slower than the rest.
   */
  recent?: Observation;
}

export interface Observation {
  t: number;
  done: number;
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
  const r = f.recent;
  const recentRate = r && f.now > r.t && done > r.done ? ((done - r.done) * 1000) / (f.now - r.t) : undefined;
  const rate = recentRate ?? (done > 0 && elapsedS > 0 ? done / elapsedS : undefined);
  const etaS = ended ? 0 : f.scanDone && rate ? (total - done) / rate : null;
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

  /** The latest look at least the window before `now`, or undefined (too early to tell). */
  recent(now: number): Observation | undefined {
    const first = this.seen[0];
    if (!first) return undefined;
    const windowMs = Math.min(120_000, Math.max(3000, (now - first.t) / 2));
    let best: Observation | undefined;
    for (const o of this.seen) {
      if (o.t > now - windowMs) break;
      best = o;
    }
    return best;
  }
}
