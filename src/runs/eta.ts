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
  const elapsedS = started ? Math.max(0, (f.now - started) / 1000) : 0;
  const etaS = ended ? 0 : f.scanDone && done > 0 && elapsedS > 0 ? ((total - done) * elapsedS) / done : null;
  return { ...base, requestsPlanned: total, plannedEstimated: unplanned > 0, fraction, etaS };
}
