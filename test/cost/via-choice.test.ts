/** `--via auto --deadline`, and what `--via batch --deadline` says: the pure choice, and the run spec's refusals. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { batchDeadlineWarning, chooseVia, viaForDeadline, viaLines } from '../../src/cost/via-choice.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { failure } from '../helpers/failure.ts';

const H = 3600;
const DAY = 24 * H;
const ask = { model: 'qwen-omni-turbo', region: 'cn' as const, protocol: 'chat' as const, task: 'transcribe', audioOut: false };

describe('chooseVia (--via auto)', () => {
  it('takes Batch, with the real-time fallback, when the deadline leaves the whole window and the real-time wall time after it', () => {
    const c = chooseVia({ deadlineS: 30 * H, windowS: DAY, realtimeWallS: 5 * H });
    expect(c).toMatchObject({ via: 'batch', fallback: 'realtime' });
    expect(c.reason).toMatch(/leaves the completion window \(24 h 0 min\) and the real-time wall time \(5 h 0 min\)/);
    // exactly the margin is enough
    expect(chooseVia({ deadlineS: 29 * H, windowS: DAY, realtimeWallS: 5 * H }).via).toBe('batch');
  });

  it('takes real time when the deadline is closer than the window plus the real-time wall time', () => {
    const c = chooseVia({ deadlineS: 29 * H - 1, windowS: DAY, realtimeWallS: 5 * H });
    expect(c.via).toBe('realtime');
    expect(c.reason).toMatch(/closer than the completion window \(24 h 0 min\) plus the real-time wall time .*a batch may take its whole window/);
    // 8 h against a 24 h window: never Batch, however short the run
    expect(chooseVia({ deadlineS: 8 * H, windowS: DAY, realtimeWallS: 60 }).via).toBe('realtime');
  });

  it('takes real time, and says why, where Batch does not serve the run', () => {
    const c = chooseVia({ deadlineS: 30 * DAY, windowS: DAY, realtimeWallS: 60, batchRefusal: 'the Batch API does not serve qwen-omni-turbo in region intl' });
    expect(c).toEqual({
      via: 'realtime',
      reason: expect.stringMatching(/^Batch does not serve this run \(the Batch API does not serve qwen-omni-turbo in region intl\)/),
    });
  });
});

describe('viaForDeadline', () => {
  const t = { deadlineS: 2 * DAY, windowS: DAY, realtimeWallS: H };
  it('auto: decided with the Batch API asked about the run', () => {
    expect(viaForDeadline({ via: 'auto', ask }, t)).toMatchObject({ via: 'batch', batchFallback: 'realtime', choice: { via: 'batch' } });
    const intl = viaForDeadline({ via: 'auto', ask: { ...ask, region: 'intl' } }, t);
    expect(intl).toMatchObject({ via: 'realtime', choice: { via: 'realtime' } });
    expect(intl.batchFallback).toBeUndefined();
    expect(viaLines(intl)[0]).toMatch(/^via auto: realtime: Batch does not serve this run \(the Batch API does not serve qwen-omni-turbo in region intl/);
    const speak = viaForDeadline({ via: 'auto', ask: { ...ask, task: 'speak', audioOut: true } }, t);
    expect(speak.via).toBe('realtime');
    expect(viaLines(viaForDeadline({ via: 'auto', ask }, t))[0]).toMatch(/^via auto: batch, with --batch-fallback realtime: /);
  });

  it('--via batch without a fallback says a batch may take its whole window when the deadline is closer', () => {
    const d = viaForDeadline({ via: 'batch', ask }, { deadlineS: 8 * H, windowS: DAY, realtimeWallS: H });
    expect(d.via).toBe('batch');
    expect(d.warning).toMatch(
      /a batch may take its whole completion window \(24 h 0 min\), longer than the deadline leaves \(8 h 0 min\).*--batch-fallback realtime/,
    );
    expect(viaLines(d)).toEqual([d.warning]);
    // with the fallback, or a window that fits, or in real time: nothing to say
    expect(viaForDeadline({ via: 'batch', batchFallback: 'realtime', ask }, { deadlineS: 8 * H, windowS: DAY, realtimeWallS: H })).toEqual({
      via: 'batch',
      batchFallback: 'realtime',
    });
    expect(batchDeadlineWarning({ deadlineS: 2 * DAY, windowS: DAY })).toBeUndefined();
    expect(viaLines(viaForDeadline({ ask }, { deadlineS: 8 * H, windowS: DAY, realtimeWallS: H }))).toEqual([]);
  });
});

describe('buildRunSpec: --via auto and --batch-fallback refused where they mean nothing', () => {
  const cn = loadConfig({ env: { OMNI_REGION: 'cn' } });
  const req = { source: 's3://b/in/', destination: 's3://b/out/', task: 'transcribe', model: 'qwen-omni-turbo' };
  const refused = async (r: Record<string, unknown>) => failure(Promise.resolve().then(() => buildRunSpec({ ...req, ...r }, cn, newRunId())));

  it('--via auto without --deadline', async () => {
    const e = await refused({ via: 'auto' });
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(/--via auto needs --deadline/);
  });

  it('--batch-fallback without --deadline, without --via batch, or other than realtime', async () => {
    const noDeadline = await refused({ via: 'batch', batchFallback: 'realtime' });
    expect(noDeadline.code).toBe('invalid_argument');
    expect(noDeadline.message).toMatch(/--batch-fallback realtime needs --deadline/);
    const realtime = await refused({ batchFallback: 'realtime', deadline: '30h' });
    expect(realtime.message).toMatch(/--batch-fallback realtime needs --via batch/);
    expect((await refused({ via: 'batch', batchFallback: 'carrier-pigeon', deadline: '30h' })).message).toMatch(/the only fallback is realtime/);
  });

  it('keeps the fallback on a Batch run with a deadline', () => {
    const spec = buildRunSpec({ ...req, via: 'batch', batchFallback: 'realtime', deadline: '30h' }, cn, newRunId());
    expect(spec).toMatchObject({ via: 'batch', batchFallback: 'realtime' });
    expect(buildRunSpec({ ...req, via: 'batch', deadline: '30h' }, cn, newRunId()).batchFallback).toBeUndefined();
  });
});
