/**
 * A --via batch run's batches as operators read them (`status`, `run --wait`): each batch's id, status,
 * request counts and its age against the completion window. Pure: records in, lines and rows out.
 */

import { windowSeconds } from '../models/batch-api.ts';
import type { InputRecord } from '../runs/batch-store.ts';
import { formatDuration } from './progress.ts';

export interface BatchRow {
  input: number;
  batch_id: string | null;
  status: string;
  lines: number;
  completed: number | null;
  failed: number | null;
  age_s: number | null;
  window_s: number;
}

export function batchRows(inputs: readonly InputRecord[], window: string, nowMs: number): BatchRow[] {
  return inputs.map((r) => ({
    input: r.n,
    batch_id: r.batchId ?? null,
    status: r.batchId ? (r.status ?? 'validating') : r.fileId ? 'uploaded' : 'packing',
    lines: r.lines.length,
    completed: r.counts?.completed ?? null,
    failed: r.counts?.failed ?? null,
    age_s: r.batchCreatedAt !== undefined ? Math.max(0, Math.round(nowMs / 1000 - r.batchCreatedAt)) : null,
    window_s: windowSeconds(window),
  }));
}

/** One line per batch: "batch batch_x in_progress: 12/40 done, 1 failed; 3m of its 24h window". */
export function batchLines(rows: readonly BatchRow[]): string[] {
  return rows.map((b) => {
    const done = b.completed === null ? `${b.lines} lines` : `${b.completed}/${b.lines} done${b.failed ? `, ${b.failed} failed` : ''}`;
    const age = b.age_s === null ? '' : `; ${formatDuration(b.age_s)} of its ${formatDuration(b.window_s)} window`;
    return `  batch ${b.batch_id ?? `(input ${b.input})`} ${b.status}: ${done}${age}`;
  });
}
