import { cp, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { media } from '../helpers/paths.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

const FILES = ['whisper__jfk.flac', 'wenet__aishell-BAC009S0724W0121.wav', 'fp__invalid.flac', 'fp__standard.mp4'];

describe('a caption run on local folders (the embedded default)', () => {
  let h: Harness;
  let src: string;
  let out: string;
  beforeAll(async () => {
    h = await startHarness();
    src = path.join(h.tmp, 'in');
    out = path.join(h.tmp, 'out');
    await mkdir(path.join(src, 'sub dir'), { recursive: true });
    for (const f of FILES) await cp(media(f), path.join(src, f === 'whisper__jfk.flac' ? `sub dir/${f}` : f));
    await h.startWorkers({ inferConcurrency: 4 });
  });
  afterAll(async () => h?.close());

  it('writes a result per readable file with audio, a failure row per broken one, and a report that adds up', async () => {
    const state = await h.run({ source: src, destination: out, task: 'caption' });
    expect(state.status).toBe('completed_with_failures');
    expect(state.counts).toMatchObject({ total: 4, succeeded: 2, failed: 2, skipped: 0 });

    const jfk = JSON.parse(await readFile(path.join(out, 'sub dir/whisper__jfk.flac.json'), 'utf8'));
    expect(jfk.schema).toBe('omnibatch.result/v1');
    expect(jfk.source.duration_s).toBeCloseTo(11, 0);
    expect(jfk.chunks.length).toBe(1);
    expect(jfk.text).toMatch(/11\.\d\d s/);
    const srt = await readFile(path.join(out, 'sub dir/whisper__jfk.flac.srt'), 'utf8');
    expect(srt).toMatch(/^1\n00:00:00,000 --> 00:00:/);

    const runsDir = path.join(out, '_runs', state.spec.runId);
    const report = JSON.parse(await readFile(path.join(runsDir, 'report.json'), 'utf8'));
    expect(report.counts).toMatchObject({ total: 4, succeeded: 2, failed: 2 });
    const failures = (await readFile(path.join(runsDir, 'failures.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const codes = Object.fromEntries(failures.map((f) => [path.basename(f.uri), f.code]));
    expect(codes).toEqual({ 'fp__invalid.flac': 'media_unreadable', 'fp__standard.mp4': 'media_no_audio' });

    // The report's actual cost = the sum of the results' costs = the emulator's billing x prices.
    const aishell = JSON.parse(await readFile(path.join(out, 'wenet__aishell-BAC009S0724W0121.wav.json'), 'utf8'));
    expect(report.cost.actual.amount_micros).toBe(jfk.cost.amount_micros + aishell.cost.amount_micros);
    const billed = h.emulator.stats().billed['qwen3-omni-30b-a3b-captioner'];
    const expected = Math.round((billed.input.audio * 3_810_000 + billed.output.text * 3_060_000) / 1e6);
    expect(Math.abs(report.cost.actual.amount_micros - expected)).toBeLessThanOrEqual(1);
    expect(report.cost.ledger.amount_micros).toBe(report.cost.actual.amount_micros);
  });

  it('skips everything on a second run (zero requests) and redoes it with force', async () => {
    const before = h.emulator.stats().requests;
    const again = await h.run({ source: src, destination: out, task: 'caption' });
    expect(again.counts).toMatchObject({ skipped: 2, failed: 2 });
    expect(h.emulator.stats().requests).toBe(before);
    const forced = await h.run({ source: src, destination: out, task: 'caption', force: true });
    expect(forced.counts).toMatchObject({ succeeded: 2 });
    expect(h.emulator.stats().requests).toBe(before + 2);
    expect((await readdir(path.join(out, '_runs'))).length).toBe(3);
  });
});
