/**
 * The cue-timing benchmark's figures on a short generated file (bench/scenarios/cue-timing.ts runs 20 minutes):
 * espeak-ng sentences with known times, the real planner and cutter, a perfect answer per chunk, the real
 * stitcher. A regression in the speech intervals, the alignment to pauses or the reading-speed limit fails here.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFigures, type CueFigures, EMPTY_FIGURES, measureCues, summarize, timeCues } from '../../bench/lib/cue-timing.ts';
import { makeTimedSpeech, type SpeechStyle, script, type TimedSpeech } from '../../bench/lib/timed-speech.ts';

const STYLES: Record<SpeechStyle, number> = { radio: 50, lecture: 40, dialogue: 30 };
let tmp: string;
const files: TimedSpeech[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'cue-timing-test-'));
  let seed = 101;
  for (const style of Object.keys(STYLES) as SpeechStyle[]) {
    files.push(await makeTimedSpeech(path.join(tmp, `${style}.wav`), script(style, STYLES[style], seed++)));
  }
}, 120_000);

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('cue timing against known sentence times', () => {
  for (const task of ['caption', 'transcribe'] as const) {
    it(`${task}: cues start with the speech, stay off the silences and read at <= 20 cps; the stitcher without speech intervals does not`, async () => {
      let measured: CueFigures = EMPTY_FIGURES;
      let reference: CueFigures = EMPTY_FIGURES;
      for (const f of files) {
        const t = await timeCues(f, { task }, tmp);
        measured = addFigures(measured, t.measured);
        reference = addFigures(reference, t.reference);
      }
      const m = summarize(measured);
      const ref = summarize(reference);
      expect(m.measuredStarts).toBeGreaterThan(20);
      expect(m.medianStartErrorS).toBeLessThanOrEqual(0.3);
      expect(m.p95StartErrorS).toBeLessThanOrEqual(1.0);
      expect(m.silenceShare).toBeLessThanOrEqual(0.02);
      expect(m.overCps).toBe(0);
      // The measurement can tell: the same chunks spread over their whole ranges miss by far.
      expect(ref.silenceShare).toBeGreaterThan(0.1);
      expect(ref.p95StartErrorS).toBeGreaterThan(1.0);
    }, 120_000);
  }

  it('measures what it claims: a cue late by 1 s, over a silence, or too fast is counted', () => {
    const truth = [
      { text: 'One two three.', startS: 1, endS: 2 },
      { text: 'Four five.', startS: 5, endS: 6 },
    ];
    const f = measureCues(
      [
        { startS: 2, endS: 3, text: 'One two three.' },
        { startS: 5, endS: 5.2, text: 'Four five.' },
      ],
      truth,
      20,
    );
    expect(f.startErrors).toEqual([1, 0]);
    expect(f.silenceMs).toBe(1000);
    expect(f.overCps).toBe(1);
  });
});
