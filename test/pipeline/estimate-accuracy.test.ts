/**
 * The estimate is the bill (issue 22): on a clean set of speech files the run's own estimate (made from each
 * file's real plan, before any request) holds the bill inside its low-high band, and, once a run of the model
 * and task has calibrated the output tokens (cost/calibration.ts), is within 5% of what the emulator billed,
 * for the captioner and for a transcript.
 */
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { media } from '../helpers/paths.ts';
import type { Harness } from '../helpers/pipeline.ts';
import { harnessWithSource } from '../helpers/source-harness.ts';

/** The generated and demo speech of the media catalog: WAV, FLAC and mp3, 3.6 s to 72 s, one to three chunks. */
const SPEECH = [
  'speech-en-6s-16k.wav',
  'speech-en-70.47s-16k.wav',
  'speech-fr-3.62s-16k.wav',
  'speech-en-71.7s-32k.mp3',
  'jfk-inaugural.flac',
  'librispeech-1995-1837-0001.wav',
];

describe('estimate vs bill on the speech set', () => {
  let h: Harness;
  let src: string;
  beforeAll(async () => {
    ({ h, src } = await harnessWithSource(async (dir) => {
      for (const f of SPEECH) await cp(media(f), path.join(dir, f));
    }));
  }, 120_000);
  afterAll(async () => h?.close());

  const reportOf = async (out: string, runId: string) => JSON.parse(await readFile(path.join(out, '_runs', runId, 'report.json'), 'utf8'));

  // The two tasks side by side on the one harness: calibration is kept per model and task (cost/calibration.ts),
  // so neither run's bill reaches the other's estimate.
  for (const task of ['caption', 'transcribe'] as const) {
    it.concurrent(`${task}: the bill lies in the band at once, and within 5% of the estimate once a run has calibrated the output`, async ({ expect }) => {
      const out = path.join(h.tmp, `out-${task}`);
      // A first run: the priors alone. The input side is exact; the band holds the bill.
      const first = await h.run({ source: src, destination: out, task });
      expect(first.counts).toMatchObject({ total: SPEECH.length, succeeded: SPEECH.length });
      const r1 = await reportOf(out, first.spec.runId);
      expect(r1.cost.actual.amount_micros).toBeGreaterThanOrEqual(Number(r1.cost.estimated.low) * 1e6);
      expect(r1.cost.actual.amount_micros).toBeLessThanOrEqual(Number(r1.cost.estimated.high) * 1e6);
      // The same set again: each file's estimate now uses the output the first run was billed for.
      const second = await h.run({ source: src, destination: out, task, force: true });
      const r2 = await reportOf(out, second.spec.runId);
      const ratio = r2.cost.actual.amount_micros / r2.cost.estimated.amount_micros;
      expect(Math.abs(ratio - 1), `${task}: actual/estimate ${ratio} (first run: ${r1.cost.estimate_error?.ratio})`).toBeLessThanOrEqual(0.05);
      expect(r2.cost.actual.amount_micros).toBeGreaterThanOrEqual(Number(r2.cost.estimated.low) * 1e6);
      expect(r2.cost.actual.amount_micros).toBeLessThanOrEqual(Number(r2.cost.estimated.high) * 1e6);
    }, 300_000);
  }
});
