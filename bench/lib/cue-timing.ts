/**
 * The cue-timing measurement: a file with known sentence times (timed-speech.ts) through the real planner and
 * cutter (media/prepare.ts: silences, cut points), each chunk answered with the sentences spoken inside it (what
 * a perfect model would say), and the real stitcher timing the cues, with the speech intervals the pipeline
 * stages (media/speech.ts) and without them (the stitcher before them, the reference). Figures against the truth.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { taskPolicy } from '../../src/media/policy.ts';
import { prepareChunks } from '../../src/media/prepare.ts';
import { speechIntervals } from '../../src/media/speech.ts';
import { findModel } from '../../src/models/catalog.ts';
import { type ChunkText, type Cue, stitch } from '../../src/stitch/index.ts';
import { cueCps } from '../../src/stitch/reading.ts';
import { TASK_SPECS } from '../../src/tasks/catalog.ts';
import type { TimedSentence, TimedSpeech } from './timed-speech.ts';

export interface CueFigures {
  cues: number;
  /** cues whose text starts a sentence: the ones whose true start is known */
  measuredStarts: number;
  /** |cue start - sentence start| over those, seconds */
  startErrors: number[];
  /** ms of cue time over silence (outside every sentence), and of cue time in all */
  silenceMs: number;
  cueMs: number;
  overCps: number;
  maxCps: number;
}

const squash = (s: string): string => s.replace(/\s+/gu, '');

/** Figures of `cues` against the sentences really spoken (in order). */
export function measureCues(cues: readonly Cue[], truth: readonly TimedSentence[], maxCps: number): CueFigures {
  const starts = new Map<number, TimedSentence>();
  let offset = 0;
  for (const s of truth) {
    starts.set(offset, s);
    offset += squash(s.text).length;
  }
  const f: CueFigures = { cues: cues.length, measuredStarts: 0, startErrors: [], silenceMs: 0, cueMs: 0, overCps: 0, maxCps: 0 };
  let at = 0;
  let t = 0;
  for (const c of cues) {
    const s = starts.get(at);
    if (s) f.startErrors.push(Math.abs(c.startS - s.startS));
    at += squash(c.text).length;
    const cueMs = Math.round((c.endS - c.startS) * 1000);
    let speechMs = 0;
    // Sentences are in order, and so are cues: a cursor suffices.
    while (t < truth.length && truth[t].endS <= c.startS) t++;
    for (let i = t; i < truth.length && truth[i].startS < c.endS; i++) {
      speechMs += Math.max(0, Math.min(c.endS, truth[i].endS) - Math.max(c.startS, truth[i].startS)) * 1000;
    }
    f.cueMs += cueMs;
    f.silenceMs += Math.max(0, cueMs - Math.round(speechMs));
    const cps = cueCps(c);
    f.maxCps = Math.max(f.maxCps, cps);
    if (cps > maxCps + 1e-9) f.overCps++;
  }
  f.measuredStarts = f.startErrors.length;
  return f;
}

export function addFigures(a: CueFigures, b: CueFigures): CueFigures {
  return {
    cues: a.cues + b.cues,
    measuredStarts: a.measuredStarts + b.measuredStarts,
    startErrors: [...a.startErrors, ...b.startErrors],
    silenceMs: a.silenceMs + b.silenceMs,
    cueMs: a.cueMs + b.cueMs,
    overCps: a.overCps + b.overCps,
    maxCps: Math.max(a.maxCps, b.maxCps),
  };
}

export const EMPTY_FIGURES: CueFigures = { cues: 0, measuredStarts: 0, startErrors: [], silenceMs: 0, cueMs: 0, overCps: 0, maxCps: 0 };

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export interface Summary {
  cues: number;
  measuredStarts: number;
  medianStartErrorS: number;
  p95StartErrorS: number;
  silenceShare: number;
  overCps: number;
  maxCps: number;
}

export function summarize(f: CueFigures): Summary {
  const r = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    cues: f.cues,
    measuredStarts: f.measuredStarts,
    medianStartErrorS: r(quantile(f.startErrors, 0.5)),
    p95StartErrorS: r(quantile(f.startErrors, 0.95)),
    silenceShare: r(f.cueMs ? f.silenceMs / f.cueMs : 0, 4),
    overCps: f.overCps,
    maxCps: r(f.maxCps, 1),
  };
}

export interface TimedTask {
  task: 'caption' | 'transcribe';
  /** the chunk length the planner aims at (default: the task's) */
  chunkSeconds?: number;
  maxCps?: number;
}

export interface TaskTiming {
  chunks: number;
  /** cues laid over the measured speech (what the pipeline does) */
  measured: CueFigures;
  /** cues spread over each chunk's whole range (the stitcher without speech intervals) */
  reference: CueFigures;
}

/** One file through the real planner and cutter and the stitcher, for one task. */
export async function timeCues(speech: TimedSpeech, t: TimedTask, tmpDir = os.tmpdir()): Promise<TaskTiming> {
  const model = findModel(TASK_SPECS[t.task].defaultModel)!;
  const maxCps = t.maxCps ?? 20;
  const work = await mkdtemp(path.join(tmpDir, 'cue-timing-'));
  try {
    const { chunks, silences, info } = await prepareChunks(speech.file, model, taskPolicy(t.task, model, { chunkSeconds: t.chunkSeconds }), {
      outDir: path.join(work, 'out'),
      tmpDir: work,
      silencesAlways: true,
    });
    // The perfect answer: the sentences spoken inside each chunk (a sentence cut in two goes where most of it is).
    const texts: ChunkText[] = chunks.map((c) => ({
      index: c.index,
      startS: c.startS,
      endS: c.endS,
      text: speech.sentences
        .filter((s) => {
          const mid = (s.startS + s.endS) / 2;
          return mid >= c.startS && (mid < c.endS || c.index === chunks.length - 1);
        })
        .map((s) => s.text)
        .join(' '),
      speech: speechIntervals(c.startS, c.endS, silences),
    }));
    const joiner = t.task === 'caption' ? 'paragraph' : 'space';
    const withSpeech = stitch(texts, { durationS: info.durationS, joiner, maxCps });
    const without = stitch(
      texts.map(({ speech: _, ...c }) => c),
      { durationS: info.durationS, joiner, maxCps },
    );
    return {
      chunks: chunks.length,
      measured: measureCues(withSpeech.cues, speech.sentences, maxCps),
      reference: measureCues(without.cues, speech.sentences, maxCps),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
