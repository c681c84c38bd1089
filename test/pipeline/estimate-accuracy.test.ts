/**
 * The estimate is the bill (issue 22): on a clean set of speech files the run's own estimate (made from each
 * file's real plan, before any request) is within 5% of what the emulator billed, for the captioner and for a
 * transcript, and the actual lies inside the estimate's low-high band.
 */
import { cp, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { media } from '../helpers/paths.ts';
import { startHarness, type Harness } from '../helpers/pipeline.ts';

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
    h = await startHarness();
    src = path.join(h.tmp, 'in');
    await mkdir(src, { recursive: true });
    for (const f of SPEECH) await cp(media(f), path.join(src, f));
    await h.startWorkers({ inferConcurrency: 4 });
  }, 120_000);
  afterAll(async () => h?.close());

  for (const task of ['caption', 'transcribe'] as const) {
    it(`${task}: the estimate is within 5% of the bill, and the bill within the low-high band`, async () => {
      const out = path.join(h.tmp, `out-${task}`);
      const state = await h.run({ source: src, destination: out, task });
      expect(state.counts).toMatchObject({ total: SPEECH.length, succeeded: SPEECH.length });
      const report = JSON.parse(await readFile(path.join(out, '_runs', state.spec.runId, 'report.json'), 'utf8'));
      const actual = report.cost.actual.amount_micros as number;
      const est = report.cost.estimated;
      console.log(task, JSON.stringify({ actual, est, usage: report.usage, ratio: report.cost.estimate_error }));
      expect(Math.abs(actual / est.amount_micros - 1)).toBeLessThanOrEqual(0.05);
      expect(actual).toBeGreaterThanOrEqual(Number(est.low) * 1e6);
      expect(actual).toBeLessThanOrEqual(Number(est.high) * 1e6);
    }, 300_000);
  }
});
