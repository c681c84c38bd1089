/** A --via batch run's batches on `status` and `run --wait`: one line each, from the rows runs/batch-progress.ts computes. */
import type { BatchRow } from '../runs/batch-progress.ts';
import { printable } from '../util/printable.ts';

/** One line per batch: "batch batch_x in_progress: 12/40 done, 1 failed; 3 min of 24 h" (the provider's id and status printable). */
export function batchLines(rows: readonly BatchRow[]): string[] {
  return rows.map((b) => {
    const age = b.age_text === null ? '' : `; ${b.age_text}`;
    return `  batch ${b.batch_id === null ? `(input ${b.input})` : printable(b.batch_id)} ${printable(b.status)}: ${b.counts_text}${age}`;
  });
}
