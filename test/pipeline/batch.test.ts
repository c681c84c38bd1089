/**
 * --via batch end to end: the emulator's Batch API over real HTTP, real Redis, ffmpeg and local folders. The
 * same files through --via realtime and --via batch end with the same outputs (text aside), and the Batch
 * run's ledger is the same usage at half the price; what the emulator billed in Batch is what the ledger says.
 */
import { cp, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePrices, usageCost } from '../../src/cost/price.ts';
import type { Usage } from '../../src/models/types.ts';
import { BATCH_ENV, FAST_BATCH } from '../helpers/batch.ts';
import { media } from '../helpers/paths.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

const MODEL = 'qwen-omni-turbo';

interface Doc {
  chunks: { start_s: number; end_s: number; usage: Usage }[];
  usage: Usage;
  cost: { amount_micros: number };
}
const readDoc = async (dir: string, name: string): Promise<Doc> => JSON.parse(await readFile(path.join(dir, `${name}.json`), 'utf8'));
const report = async (dir: string, runId: string) => JSON.parse(await readFile(path.join(dir, '_runs', runId, 'report.json'), 'utf8'));

describe('--via batch over mixed audio and video', () => {
  let h: Harness;
  let audioDir: string;
  let videoDir: string;
  beforeAll(async () => {
    h = await startHarness({ emulator: FAST_BATCH, env: BATCH_ENV });
    audioDir = path.join(h.tmp, 'audio');
    videoDir = path.join(h.tmp, 'video');
    await mkdir(audioDir, { recursive: true });
    await mkdir(videoDir, { recursive: true });
    await cp(media('whisper__jfk.flac'), path.join(audioDir, 'jfk.flac'));
    await cp(media('funasr__0.wav'), path.join(audioDir, 'long.wav'));
    await cp(media('fp__bmff.mp4'), path.join(videoDir, 'bmff.mp4'));
    await cp(media('pydub__creative_common.mp4'), path.join(videoDir, 'creative.mp4'));
    await h.startWorkers({ inferConcurrency: 4 });
  });
  afterAll(async () => h?.close());

  for (const [task, dir, names] of [
    ['transcribe', 'audio', ['jfk.flac', 'long.wav']],
    ['describe', 'video', ['bmff.mp4', 'creative.mp4']],
    ['moderate', 'video', ['bmff.mp4', 'creative.mp4']],
  ] as const) {
    it(`${task}: the same outputs as real time, the same usage at half the price, ledger = the emulator's Batch bill`, async () => {
      const source = dir === 'audio' ? audioDir : videoDir;
      const rtOut = path.join(h.tmp, `rt-${task}`);
      const bOut = path.join(h.tmp, `b-${task}`);
      // the two runs at once (the real-time one bills into the emulator's real-time stats, never its Batch ones)
      const billedBefore = structuredClone(h.emulator.stats().batch.billed[MODEL]);
      const [rt, b] = await Promise.all([
        h.run({ source, destination: rtOut, task, model: MODEL }),
        h.run({ source, destination: bOut, task, model: MODEL, via: 'batch' }),
      ]);
      expect(rt.status).toBe('completed');
      expect(b.status).toBe('completed');
      expect(b.spec.via).toBe('batch');

      const rtReport = await report(rtOut, rt.spec.runId);
      const bReport = await report(bOut, b.spec.runId);
      expect(rtReport.via).toBe('realtime');
      expect(bReport.via).toBe('batch');
      const batchPrices = resolvePrices(MODEL, 'cn', undefined, 'batch');
      const rtPrices = resolvePrices(MODEL, 'cn');
      let chunks = 0;
      let expected = 0;
      for (const name of names) {
        const [r, x] = [await readDoc(rtOut, name), await readDoc(bOut, name)];
        // the same chunks on the same timeline, the same tokens
        expect(x.chunks.map((c) => [c.start_s, c.end_s])).toEqual(r.chunks.map((c) => [c.start_s, c.end_s]));
        expect(x.usage.input).toEqual(r.usage.input);
        for (const c of x.chunks) {
          expected += usageCost(c.usage, batchPrices).amountMicros;
          // each chunk at exactly half of its real-time price, to the rounding of one micro-unit
          expect(Math.abs(2 * usageCost(c.usage, batchPrices).amountMicros - usageCost(c.usage, rtPrices).amountMicros)).toBeLessThanOrEqual(1);
          chunks++;
        }
      }
      expect(bReport.cost.ledger.amount_micros).toBe(expected);
      expect(bReport.cost.actual.amount_micros).toBe(expected);
      expect(Math.abs(2 * bReport.cost.ledger.amount_micros - rtReport.cost.ledger.amount_micros)).toBeLessThanOrEqual(chunks);
      expect(bReport.requests).toBe(rtReport.requests);
      // The Batch run's report says what the same usage costs in real time (one rounding for the run, where the
      // real-time ledger rounds each chunk) and what Batch saved; a real-time run's report says neither.
      expect(Math.abs(bReport.cost.realtime_equivalent.amount_micros - rtReport.cost.ledger.amount_micros)).toBeLessThanOrEqual(chunks);
      expect(bReport.cost.batch_saving.amount_micros).toBe(bReport.cost.realtime_equivalent.amount_micros - bReport.cost.ledger.amount_micros);
      expect(Math.abs(2 * bReport.cost.batch_saving.amount_micros - bReport.cost.realtime_equivalent.amount_micros)).toBeLessThanOrEqual(2 * chunks);
      expect(rtReport.cost.realtime_equivalent).toBeUndefined();
      // every chunk went by Batch: no real-time part in the report's split; a real-time run has no split
      expect(bReport.cost.by_via).toEqual({ batch: { chunks, cost: bReport.cost.ledger } });
      expect(rtReport.cost.by_via).toBeUndefined();
      // the poller recorded every answer itself (its line jobs only completed); a moderation answer needing its
      // real-time repair would have been left to its job ('answered')
      const lines = await h.ctx.batches.lines(
        b.spec.runId,
        (await h.ctx.batches.inputs(b.spec.runId)).flatMap((r) => r.lines),
      );
      expect(lines.length).toBeGreaterThan(0);
      for (const st of lines) expect(task === 'moderate' ? ['recorded', 'answered'] : ['recorded']).toContain(st?.step);

      // The ledger's tokens are exactly what the emulator billed in Batch for this run.
      const after = h.emulator.stats().batch.billed[MODEL];
      const delta = (k: 'audio' | 'video' | 'text') => after.input[k] - (billedBefore?.input[k] ?? 0);
      expect(delta('audio')).toBeGreaterThan(0);
      expect(bReport.usage.input.audio).toBe(delta('audio'));
      expect(bReport.usage.input.video).toBe(delta('video'));
      expect(bReport.usage.output.text).toBe(after.output.text - (billedBefore?.output.text ?? 0));
    }, 120_000);
  }
});
