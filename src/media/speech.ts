/**
 * Where the speech is inside each chunk: the complement of the silence map the planner already measured for
 * its cut points, clipped to the chunk's real cut points. Pure. The stitcher lays each chunk's text over these
 * stretches only (stitch/timing.ts), so no caption sits over a pause.
 */
import type { Silence } from './types.ts';

/** [startS, endS] pairs on the source's timeline, in order, disjoint. */
export type SpeechIntervals = [number, number][];

/** Stretches shorter than this between two silences are clicks or breaths, not words. */
export const MIN_SPEECH_S = 0.05;

const ms = (s: number): number => Math.round(s * 1000) / 1000;

/**
 * The non-silent stretches of [startS, endS]. A chunk with no measured silence inside is all speech (as far as
 * anyone knows); a chunk that is silent throughout has none.
 */
export function speechIntervals(startS: number, endS: number, silences: readonly Silence[], minSpeechS = MIN_SPEECH_S): SpeechIntervals {
  const out: SpeechIntervals = [];
  let at = startS;
  const sorted = silences.filter((s) => s.endS > startS && s.startS < endS).sort((a, b) => a.startS - b.startS);
  for (const s of sorted) {
    const a = Math.max(startS, s.startS);
    if (a - at >= minSpeechS) out.push([ms(at), ms(a)]);
    at = Math.max(at, Math.min(endS, s.endS));
  }
  if (endS - at >= minSpeechS) out.push([ms(at), ms(endS)]);
  return out;
}
