import { describe, expect, it } from 'vitest';
import { batchLines } from '../../src/cli/batch-progress.ts';
import { batchRows, spanText } from '../../src/runs/batch-progress.ts';
import type { InputRecord } from '../../src/runs/batch-store.ts';

describe("a batch's age against its completion window", () => {
  it('reads in seconds, minutes, then hours and minutes', () => {
    expect([0, 45, 60, 179, 3600, 7800, 86_400, 14 * 86_400].map(spanText)).toEqual(['0 s', '45 s', '1 min', '2 min', '1 h', '2 h 10 min', '24 h', '336 h']);
  });

  it('is one text for status, run --wait and the dashboard; a batch not yet created has none', () => {
    const now = 1_800_000_000_000;
    const rec = (over: Partial<InputRecord>): InputRecord => ({ n: 1, lines: ['x.0', 'x.1'], bytes: 10, createdAt: 0, ...over });
    const rows = batchRows(
      [
        rec({ fileId: 'file-1', batchId: 'batch_1', status: 'finalizing', counts: { total: 2, completed: 2, failed: 0 }, batchCreatedAt: now / 1000 - 180 }),
        rec({ n: 2, fileId: 'file-2' }),
        rec({ n: 3, fileId: 'file-3', batchId: 'batch_\u001b[2J3', batchCreatedAt: now / 1000 + 5 }),
      ],
      '2d',
      now,
    );
    expect(rows.map((r) => [r.status, r.counts_text, r.age_text])).toEqual([
      ['finalizing', '2/2 done', '3 min of 48 h'],
      ['uploaded', '2 lines', null],
      // the provider's clock ahead of ours: age 0, never negative
      ['validating', '2 lines', '0 s of 48 h'],
    ]);
    // the terminal's lines: the same texts, the provider's id made printable
    expect(batchLines(rows)).toEqual([
      '  batch batch_1 finalizing: 2/2 done; 3 min of 48 h',
      '  batch (input 2) uploaded: 2 lines',
      '  batch batch_\\x1b[2J3 validating: 2 lines; 0 s of 48 h',
    ]);
  });
});
