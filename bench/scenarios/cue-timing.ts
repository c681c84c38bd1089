/**
 * cue-timing: 20 minutes of espeak-ng speech made sentence by sentence with known times (a radio-style file with
 * 30-s and 45-s silences, a lecture, a dialogue with short turns; pauses from 0.2 s to 45 s), cut by the real
 * planner, each chunk answered with the sentences spoken inside it, timed by the real stitcher.
 * Figures against the true sentence times: median and p95 of |cue start - speech start| (over the cues that
 * start a sentence), the share of cue time over silence, the cues above the reading-speed limit (20 cps).
 * Targets, for caption and for transcribe: median <= 0.3 s, p95 <= 1.0 s, silence <= 2 %, 0 cues too fast.
 * Reference, in the same run: the same chunks stitched without their speech intervals (each chunk's text over
 * its whole range, as the stitcher did before). No model, no network: nothing but espeak-ng, ffmpeg and the code.
 * --quick: 4 minutes (the same three styles, shorter).
 */

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { addFigures, type CueFigures, EMPTY_FIGURES, summarize, timeCues } from '../lib/cue-timing.ts';
import { check, result, type ScenarioResult } from '../lib/result.ts';
import { makeTimedSpeech, type SpeechStyle, script } from '../lib/timed-speech.ts';

/** Seconds of each style: radio 8 min, lecture 7, dialogue 5 (20 in all). */
const FULL: Record<SpeechStyle, number> = { radio: 480, lecture: 420, dialogue: 300 };
const QUICK: Record<SpeechStyle, number> = { radio: 120, lecture: 70, dialogue: 50 };
const TASKS = ['caption', 'transcribe'] as const;
/** Transcribe at utterance-length chunks too: whether shorter chunks than the task's 300 s would time cues better. */
const SHORT_TRANSCRIBE_S = 30;

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const lengths = opts.quick ? QUICK : FULL;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-cue-timing-'));
  try {
    const totals = Object.fromEntries(TASKS.map((t) => [t, { measured: EMPTY_FIGURES, reference: EMPTY_FIGURES, chunks: 0 }])) as Record<
      (typeof TASKS)[number],
      { measured: CueFigures; reference: CueFigures; chunks: number }
    >;
    const perFile: Record<string, unknown> = {};
    let short: CueFigures = EMPTY_FIGURES;
    let shortChunks = 0;
    let speechS = 0;
    let seed = 23;
    for (const style of Object.keys(lengths) as SpeechStyle[]) {
      const speech = await makeTimedSpeech(path.join(tmp, `${style}.wav`), script(style, lengths[style], seed++));
      speechS += speech.durationS;
      for (const task of TASKS) {
        const t = await timeCues(speech, { task }, tmp);
        const tot = totals[task];
        tot.measured = addFigures(tot.measured, t.measured);
        tot.reference = addFigures(tot.reference, t.reference);
        tot.chunks += t.chunks;
        perFile[`${style}/${task}`] = { chunks: t.chunks, measured: summarize(t.measured), reference: summarize(t.reference) };
      }
      const s30 = await timeCues(speech, { task: 'transcribe', chunkSeconds: SHORT_TRANSCRIBE_S }, tmp);
      short = addFigures(short, s30.measured);
      shortChunks += s30.chunks;
    }
    const checks = TASKS.flatMap((task) => {
      const s = summarize(totals[task].measured);
      return [
        check(`${task}_median_start_error_s`, s.medianStartErrorS, '<=', 0.3),
        check(`${task}_p95_start_error_s`, s.p95StartErrorS, '<=', 1.0),
        check(`${task}_silence_share`, s.silenceShare, '<=', 0.02),
        check(`${task}_cues_over_cps`, s.overCps, '==', 0),
      ];
    });
    return result(
      'cue-timing',
      'median_abs_cue_start_minus_speech_start_s',
      checks,
      {
        speechMinutes: Math.round((speechS / 60) * 10) / 10,
        byTask: Object.fromEntries(
          TASKS.map((task) => [
            task,
            { chunks: totals[task].chunks, measured: summarize(totals[task].measured), reference: summarize(totals[task].reference) },
          ]),
        ),
        transcribeAt30s: { chunks: shortChunks, measured: summarize(short) },
        perFile,
      },
      opts.quick,
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
