/**
 * A --via batch run's batches as operators read them, the same for `status`, `run --wait` and the dashboard:
 * each batch's id, status, request counts and its age against the completion window. Pure: records in, rows out.
 */
import { windowSeconds } from '../models/batch-api.ts';
import type { InputRecord } from './batch-store.ts';

export interface BatchRow {
  input: number;
  /** the provider's id (untrusted text: shown as text, never as markup) */
  batch_id: string | null;
  /** the provider's status once the batch exists; before it, `packing` (lines fixed) or `uploaded` (file sent) */
  status: string;
  lines: number;
  completed: number | null;
  failed: number | null;
  /** the provider's own total (the lines it accepted), null until it says */
  total: number | null;
  /** "12/40 done, 1 failed", or "40 lines" before the provider counts */
  counts_text: string;
  age_s: number | null;
  window_s: number;
  /** "2 h 10 min of 24 h": the batch's age against its completion window (null before the batch exists) */
  age_text: string | null;
}

/** A span in the words operators read it in, to the minute past an hour: "45 s", "3 min", "2 h 10 min", "24 h". */
export function spanText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h === 0) return `${m} min`;
  return m ? `${h} h ${m} min` : `${h} h`;
}

export function batchRows(inputs: readonly InputRecord[], window: string, nowMs: number): BatchRow[] {
  const window_s = windowSeconds(window);
  return inputs.map((r) => {
    const c = r.counts;
    const age_s = r.batchCreatedAt !== undefined ? Math.max(0, Math.round(nowMs / 1000 - r.batchCreatedAt)) : null;
    return {
      input: r.n,
      batch_id: r.batchId ?? null,
      status: r.batchId ? (r.status ?? 'validating') : r.fileId ? 'uploaded' : 'packing',
      lines: r.lines.length,
      completed: c?.completed ?? null,
      failed: c?.failed ?? null,
      total: c?.total ?? null,
      counts_text: c
        ? `${c.completed}/${c.total || r.lines.length} done${c.failed ? `, ${c.failed} failed` : ''}`
        : `${r.lines.length} line${r.lines.length === 1 ? '' : 's'}`,
      age_s,
      window_s,
      age_text: age_s === null ? null : `${spanText(age_s)} of ${spanText(window_s)}`,
    };
  });
}
