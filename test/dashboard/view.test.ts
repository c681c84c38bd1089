import { describe, expect, it } from 'vitest';
import type { CostTotals } from '../../src/app/costs.ts';
import { batchesView, chartOf, costText, digestFailures, failureRescanMs, liveSample, runDetail, runSummary } from '../../src/dashboard/view.ts';
import { emptyUsage } from '../../src/models/types.ts';
import { batchRows } from '../../src/runs/batch-progress.ts';
import type { InputRecord } from '../../src/runs/batch-store.ts';
import type { Sample } from '../../src/runs/series.ts';
import type { FileState, RunState } from '../../src/runs/types.ts';
import type { FailureCode } from '../../src/util/failure-codes.ts';

function state(over: Partial<RunState['counts']> = {}, specOver: Partial<RunState['spec']> = {}, rest: Partial<RunState> = {}): RunState {
  return {
    spec: {
      runId: '20260101T000000Z-abc123',
      createdAt: '2026-01-01T00:00:00.000Z',
      source: 's3://media/in/',
      destination: 's3://media/out/',
      task: 'caption',
      model: 'qwen3-omni-30b-a3b-captioner',
      protocol: 'chat',
      region: 'intl',
      force: false,
      fingerprint: 'fp',
      inputMode: 'base64',
      prompt: 'a secret-ish prompt',
      notifyUrl: 'https://hooks.example/x?token=abc',
      ...specOver,
    },
    status: 'running',
    scanDone: true,
    generation: 0,
    counts: {
      total: 10,
      succeeded: 3,
      failed: 1,
      skipped: 1,
      not_run: 0,
      terminal: 5,
      media_ms: 5_400_000,
      requests: 7,
      retries: 2,
      est_micros: 900_000,
      est_low_micros: 0,
      est_high_micros: 0,
      ...over,
    },
    ...rest,
  };
}

const totals = (costMicros: number, priced = true, currency: string | null = 'USD'): CostTotals => ({
  usage: emptyUsage(),
  costMicros,
  currency,
  priced,
  chunks: 3,
  requests: 7,
  byVia: {},
});

const file = (status: FileState['status'], code?: FailureCode, uri = 's3://media/in/x.mp3'): FileState => ({
  key: 'x.mp3',
  uri,
  etag: 'e',
  size: 1,
  status,
  ...(code && { code, message: `${code} happened` }),
});

describe('runSummary', () => {
  it('counts every terminal file as progress and says how each ended', () => {
    const s = runSummary(state(), totals(123_456));
    expect(s.files).toEqual({ total: 10, done: 5, succeeded: 3, failed: 1, skipped: 1, notRun: 0, pending: 5 });
    expect(s.progress).toEqual({ fraction: 0.5, text: '5 / 10 files · 3 succeeded · 1 failed · 1 skipped' });
    expect(s.media).toEqual({ ms: 5_400_000, hours: 1.5, text: '1.50 h' });
    expect(s.cost).toMatchObject({ micros: 123_456, amount: '0.123456', currency: 'USD', text: '0.123456 USD', priced: true });
    expect(s.budget).toBeNull();
  });

  it('marks a total that is still growing while the scan runs', () => {
    expect(runSummary(state({}, {}, { scanDone: false }), totals(0)).progress.text).toMatch(/^5 \/ 10\+ files/);
    expect(runSummary(state({ total: 0, terminal: 0, succeeded: 0, failed: 0, skipped: 0 }, {}, { scanDone: false }), totals(0)).progress.fraction).toBe(0);
  });

  it('shows cost against the budget', () => {
    const s = runSummary(state({}, { budgetMicros: 2_000_000 }), totals(500_000));
    expect(s.budget).toEqual({ micros: 2_000_000, amount: '2.000000', currency: 'USD', fraction: 0.25, text: 'of 2.000000 USD budget (25.0%)' });
  });

  it('never shows unknown money as zero', () => {
    expect(costText(0, null, false)).toBe('unpriced');
    expect(costText(1_500, 'CNY', false)).toBe('0.001500 CNY (partly unpriced)');
    expect(costText(1_500, 'USD', false, 'partly unpriced: 14082 input video tokens had no price')).toBe(
      '0.001500 USD (partly unpriced: 14082 input video tokens had no price)',
    );
    expect(costText(0, null, true)).toBe('0.000000');
  });
});

describe('failures', () => {
  it('keeps the first N failures and counts all of them by code', () => {
    const files: [string, FileState][] = [
      ['a', file('succeeded')],
      ['b', file('failed', 'media_unreadable', 's3://m/b.mp3')],
      ['c', file('failed', 'media_no_audio', 's3://m/c.mp4')],
      ['d', file('failed', 'media_unreadable', 's3://m/d.mp3')],
      ['e', file('skipped')],
      ['f', file('failed')],
    ];
    const d = digestFailures(files, 2);
    expect(d.total).toBe(4);
    expect(d.rows).toEqual([
      { fileId: 'b', code: 'media_unreadable', uri: 's3://m/b.mp3', message: 'media_unreadable happened' },
      { fileId: 'c', code: 'media_no_audio', uri: 's3://m/c.mp4', message: 'media_no_audio happened' },
    ]);
    expect(d.byCode).toEqual([
      { code: 'media_unreadable', count: 2 },
      { code: 'media_no_audio', count: 1 },
      { code: 'unknown', count: 1 },
    ]);
  });

  it('rescans small runs on every poll and huge ones at most once a minute', () => {
    expect(failureRescanMs(5)).toBe(2);
    expect(failureRescanMs(100_000)).toBe(50_000);
    expect(failureRescanMs(10_000_000)).toBe(60_000);
  });
});

describe('chartOf', () => {
  const s = (t: number, done: number, costMicros: number): Sample => ({ t, done, failed: 0, costMicros, mediaMs: 0 });

  it('sorts interleaved samples and derives files per minute over a trailing window', () => {
    const c = chartOf([s(20_000, 4, 200), s(0, 0, 0), s(10_000, 2, 100), s(30_000, 6, 300)], null, 'USD');
    expect(c.points.map((p) => p.t)).toEqual([0, 10_000, 20_000, 30_000]);
    // window = max(10 s, 30 s / 40) = 10 s: each point's rate is 2 files per 10 s
    expect(c.points.map((p) => p.filesPerMin)).toEqual([0, 12, 12, 12]);
    expect(c).toMatchObject({ start: 0, end: 30_000, maxCostMicros: 300, maxFilesPerMin: 12, windowMs: 10_000, currency: 'USD' });
  });

  it('smooths bursts over the window instead of spiking on one sample', () => {
    const c = chartOf([s(0, 0, 0), s(1_000, 4, 0), s(2_000, 4, 0), s(11_000, 4, 0)], null, null);
    expect(c.points.map((p) => p.filesPerMin)).toEqual([0, 240, 120, 0]);
  });

  it('adds the live point only when it is newer and differs from the last sample', () => {
    expect(chartOf([s(0, 0, 0)], s(5_000, 1, 10), null).points).toHaveLength(2);
    expect(chartOf([s(0, 1, 10)], s(5_000, 1, 10), null).points).toHaveLength(1);
    expect(chartOf([], s(5_000, 0, 0), null).points).toHaveLength(1);
  });
});

describe('runDetail', () => {
  it('shows a spec without the prompt or the notify URL, and the live point of a running run', () => {
    const st = state();
    const d = runDetail(st, totals(10), digestFailures([]), [{ t: 1_000, done: 4, failed: 1, costMicros: 5, mediaMs: 0 }], 9_000);
    expect(JSON.stringify(d.spec)).not.toMatch(/secret-ish|token=abc/);
    expect(JSON.stringify(d)).not.toMatch(/secret-ish|token=abc/);
    expect(d.chart.points.at(-1)).toMatchObject({ t: 9_000, done: 5, costMicros: 10 });
    expect(d.requests).toEqual({ total: 7, retries: 2 });
    expect(d.estimate).toEqual({ micros: 900_000, amount: '0.900000', currency: 'USD' });
    expect(liveSample(st, totals(10), 9_000)).toEqual({ t: 9_000, done: 5, failed: 1, costMicros: 10, mediaMs: 5_400_000 });
  });

  it('ends a finished run on its last sample', () => {
    const d = runDetail(
      state({}, {}, { status: 'completed' }),
      totals(10),
      digestFailures([]),
      [{ t: 1_000, done: 4, failed: 1, costMicros: 5, mediaMs: 0 }],
      9_000,
    );
    expect(d.chart.points).toHaveLength(1);
  });
});

describe('batches', () => {
  const now = 1_800_000_000_000;
  const created = now / 1000 - (2 * 3600 + 10 * 60);
  const inputs: InputRecord[] = [
    {
      n: 1,
      lines: ['a.0', 'a.1', 'a.2'],
      bytes: 30,
      createdAt: 0,
      fileId: 'file-1',
      batchId: 'batch_<b>"1"</b>',
      status: 'in_progress',
      counts: { total: 3, completed: 2, failed: 1 },
      batchCreatedAt: created,
    },
    { n: 2, lines: ['b.0', 'b.1'], bytes: 20, createdAt: 0 },
  ];

  it('marks a run via batch in the list and shows each batch: id, status, counts, age against the window', () => {
    const st = state({}, { via: 'batch' });
    expect(runSummary(st, totals(0)).via).toBe('batch');
    expect(runSummary(state(), totals(0)).via).toBe('realtime');
    const d = runDetail(st, totals(0), digestFailures([]), [], now, {}, batchRows(inputs, '24h', now));
    expect(d.spec.via).toBe('batch');
    expect(d.batches!.text).toBe('2 batches: 1 in progress, 1 packing · 2/5 requests done, 1 failed');
    expect(d.batches!.rows).toEqual([
      {
        input: 1,
        batch_id: 'batch_<b>"1"</b>',
        status: 'in_progress',
        lines: 3,
        completed: 2,
        failed: 1,
        total: 3,
        counts_text: '2/3 done, 1 failed',
        age_s: 7800,
        window_s: 86_400,
        age_text: '2 h 10 min of 24 h',
      },
      {
        input: 2,
        batch_id: null,
        status: 'packing',
        lines: 2,
        completed: null,
        failed: null,
        total: null,
        counts_text: '2 lines',
        age_s: null,
        window_s: 86_400,
        age_text: null,
      },
    ]);
    // the view carries the provider's text as data: the page puts it into the DOM as text (security.test.ts)
    expect(batchesView([]).text).toBe('no batch yet (lines wait to be packed)');
  });

  it('has no batches for a real-time run, whatever rows are passed', () => {
    expect(runDetail(state(), totals(0), digestFailures([]), [], now, {}, batchRows(inputs, '24h', now)).batches).toBeNull();
  });
});
