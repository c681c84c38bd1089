import { describe, expect, it } from 'vitest';
import type { Usage } from '../../src/models/types.ts';
import { costCsvHeader, costCsvRow, csvField } from '../../src/outputs/csv.ts';
import { failureLine } from '../../src/outputs/failures.ts';
import { addFileRow, buildReport, decideRunStatus, emptyTotals, type FileRow, reportLine, totalsOf } from '../../src/outputs/report.ts';

const usage = (audio: number, text: number): Usage => ({
  input: { text: 5, audio, image: 0, video: 0 },
  output: { text, audio: 0, reasoning: 0 },
  inputTotal: audio + 5,
  outputTotal: text,
});

const rows: FileRow[] = [
  {
    uri: 's3://b/in/a.mp3',
    status: 'succeeded',
    durationS: 65.5,
    chunks: 3,
    requests: 4,
    usage: usage(819, 120),
    costMicros: 3_500,
    currency: 'USD',
    priced: true,
    flagged: ['violence', 'hate'],
    moderation: {
      verdict: 'flagged',
      categories: ['violence', 'hate'],
      max_severity: 'high',
      needs_review: true,
      spans: [{ start_s: 3, end_s: 5, category: 'violence', severity: 'high', evidence: 'a threat' }],
    },
    review: { decision: 'confirm', note: 'yes', decided_at: '2025-01-01T01:00:00.000Z', reviewer: null },
  },
  {
    uri: 's3://b/in/b, "quoted".mp3',
    status: 'succeeded',
    durationS: 10.25,
    chunks: 1,
    requests: 1,
    usage: usage(129, 40),
    costMicros: 1_250_000,
    currency: 'USD',
    priced: true,
    flagged: ['violence'],
    moderation: { verdict: 'flagged', categories: ['violence'], max_severity: 'medium', needs_review: false, spans: [] },
  },
  { uri: 's3://b/in/broken.mp3', status: 'failed', code: 'media_unreadable', message: 'ffprobe: invalid data\nfound', requests: 0 },
  {
    uri: 's3://b/in/half.mp3',
    status: 'failed',
    code: 'server_error',
    message: '500',
    durationS: 30,
    chunks: 2,
    requests: 3,
    usage: usage(375, 10),
    costMicros: 1_000,
    currency: 'USD',
    priced: true,
  },
  { uri: 's3://b/in/old.mp3', status: 'skipped' },
  { uri: 's3://b/in/late.mp3', status: 'not_run' },
];

describe('run report', () => {
  it('counts files, sums media, requests, retries, usage and cost, and counts flagged files per category', () => {
    const report = buildReport({
      runId: 'r1',
      status: 'completed_with_failures',
      task: 'moderate',
      model: 'qwen3-omni-flash',
      region: 'intl',
      files: rows,
      estimated: {
        expected: { amountMicros: 1_000_000, currency: 'USD', priced: true },
        low: { amountMicros: 500_000, currency: 'USD', priced: true },
        high: { amountMicros: 2_000_000, currency: 'USD', priced: true },
      },
      startedAt: '2025-01-01T00:00:00.000Z',
      finishedAt: new Date('2025-01-01T00:10:00.000Z'),
    });
    expect(report.counts).toEqual({ total: 6, succeeded: 2, failed: 2, skipped: 1, not_run: 1 });
    expect(report.media_seconds).toBe(75.75); // succeeded files only
    expect(report.requests).toBe(8);
    expect(report.retries).toBe(2); // (4 - 3) + (1 - 1) + (3 - 2)
    expect(report.usage.input).toEqual({ text: 15, audio: 1323, image: 0, video: 0, total: 1338 });
    expect(report.usage.output.total).toBe(170);
    // actual = sum of every file's cost, failed ones included: they were spent
    expect(report.cost.actual).toEqual({ currency: 'USD', amount: '1.254500', amount_micros: 1_254_500, priced: true });
    expect(report.cost.estimated).toEqual({ currency: 'USD', amount: '1.000000', amount_micros: 1_000_000, priced: true, low: '0.500000', high: '2.000000' });
    expect(report.cost.estimate_error).toEqual({ amount_micros: 254_500, ratio: 1.255 });
    expect(report.moderation).toEqual({
      flagged_files: 2,
      by_category: { hate: 1, violence: 2 },
      by_verdict: { flagged: 2, clear: 0, provider_blocked: 0 },
      by_severity: { high: 1, medium: 1, low: 0, none: 0 },
      needs_review: 1,
      to_review: 2,
      decisions: { confirmed: 1, cleared: 0, pending: 1 },
    });
    expect(report.finished_at).toBe('2025-01-01T00:10:00.000Z');
    expect(reportLine(report)).toBe('6 files: 2 succeeded, 2 failed, 1 skipped, 1 not run; 8 requests; 1.254500 USD');
  });

  it('folds rows one at a time to the same totals, and refuses mixed currencies', () => {
    let t = emptyTotals();
    for (const r of rows) t = addFileRow(t, r);
    expect(t).toEqual(totalsOf(rows));
    expect(() => addFileRow(t, { uri: 'x', status: 'succeeded', costMicros: 1, currency: 'CNY', priced: true })).toThrow(/CNY/u);
  });

  it('says unpriced instead of zero, and shows pending files of a running run', () => {
    const report = buildReport({
      runId: 'r2',
      status: 'running',
      task: 'caption',
      model: 'qwen3.5-omni-plus',
      region: 'intl',
      files: [
        { uri: 'a', status: 'succeeded', costMicros: 0, currency: null, priced: false },
        { uri: 'b', status: 'pending' },
      ],
      startedAt: '2025-01-01T00:00:00.000Z',
    });
    expect(report.cost.actual).toEqual({ currency: null, amount: null, amount_micros: null, priced: false });
    expect(report.cost.estimated).toBeNull();
    expect(report.counts).toEqual({ total: 2, succeeded: 1, failed: 0, skipped: 0, not_run: 0, pending: 1 });
    expect(report.finished_at).toBeNull();
    expect(report.moderation).toBeUndefined();
  });

  it('decides the run status from its facts', () => {
    expect(decideRunStatus({ finished: true, failed: 0 })).toBe('completed');
    expect(decideRunStatus({ finished: true, failed: 2 })).toBe('completed_with_failures');
    expect(decideRunStatus({ finished: false, failed: 0 })).toBe('running');
    expect(decideRunStatus({ finished: true, stoppedBudget: true, failed: 1 })).toBe('stopped_budget');
    expect(decideRunStatus({ finished: true, stoppedBudget: true, cancelled: true, failed: 0 })).toBe('cancelled');
  });
});

describe('cost.csv', () => {
  it('has one row per file, no total row, RFC 4180 quoting, and sums to the report', () => {
    const csv = costCsvHeader() + rows.map(costCsvRow).join('');
    const lines = csv.split('\n');
    expect(lines[0]).toBe(
      'uri,status,duration_s,chunks,requests,input_text_tokens,input_audio_tokens,input_image_tokens,input_video_tokens,output_text_tokens,output_audio_tokens,output_reasoning_tokens,cost_amount,cost_micros,currency,priced',
    );
    expect(lines[1]).toBe('s3://b/in/a.mp3,succeeded,65.5,3,4,5,819,0,0,120,0,0,0.003500,3500,USD,true');
    expect(lines[2]).toBe('"s3://b/in/b, ""quoted"".mp3",succeeded,10.25,1,1,5,129,0,0,40,0,0,1.250000,1250000,USD,true');
    expect(lines[3]).toBe('s3://b/in/broken.mp3,failed,,,0,,,,,,,,,,,');
    expect(lines[5]).toBe('s3://b/in/old.mp3,skipped,,,,,,,,,,,,,,');
    expect(lines).toHaveLength(rows.length + 2); // header, rows, and the final newline
    expect(lines.at(-1)).toBe('');
    const micros = lines.slice(1, -1).map((l) => Number(l.split(',').at(-3) || 0));
    expect(micros.reduce((a, b) => a + b, 0)).toBe(totalsOf(rows).cost.amountMicros);
  });

  it('quotes commas, quotes and edge spaces only; writes control characters (a newline too) as visible escapes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    // a name is a stranger's: one row per file, nothing a terminal would obey (issue 19)
    expect(csvField('two\nlines')).toBe('two\\x0alines');
    expect(csvField('red\u001b[31m')).toBe('red\\x1b[31m');
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvField(null)).toBe('');
    expect(csvField(0)).toBe('0');
  });
});

describe('failures.jsonl', () => {
  it('has one JSON line per failed file with uri, code and message', () => {
    const out = rows
      .filter((r) => r.status === 'failed')
      .map(failureLine)
      .join('');
    expect(out.split('\n')).toEqual([
      '{"uri":"s3://b/in/broken.mp3","code":"media_unreadable","message":"ffprobe: invalid data\\nfound"}',
      '{"uri":"s3://b/in/half.mp3","code":"server_error","message":"500"}',
      '',
    ]);
  });
});

describe('deadline runs', () => {
  const base = { runId: 'r', status: 'completed' as const, task: 'caption', model: 'm', region: 'intl', files: [], startedAt: '2026-12-01T22:00:00.000Z' };
  it('shows predicted vs actual finish and how late against the deadline', () => {
    const doc = buildReport({
      ...base,
      deadline: '2026-12-02T06:00:00.000Z',
      predictedFinishAt: '2026-12-02T05:00:00.000Z',
      finishedAt: '2026-12-02T05:10:00.000Z',
    });
    expect(doc.deadline).toEqual({
      deadline: '2026-12-02T06:00:00.000Z',
      predicted_finish: '2026-12-02T05:00:00.000Z',
      actual_finish: '2026-12-02T05:10:00.000Z',
      prediction_error_s: 600,
      late_s: -3000,
    });
  });
  it('has no deadline section without one, and nulls while the run is going', () => {
    expect(buildReport({ ...base, finishedAt: '2026-12-02T05:10:00.000Z' }).deadline).toBeUndefined();
    expect(buildReport({ ...base, deadline: '2026-12-02T06:00:00.000Z', predictedFinishAt: '2026-12-02T05:00:00.000Z' }).deadline).toMatchObject({
      actual_finish: null,
      prediction_error_s: null,
      late_s: null,
    });
  });
});
