/**
 * Where to cut: one pass along the timeline, each cut near `start + target`, moved into the best silence
 * within the search window so no word is cut in half. Pure.
 */
import type { Silence } from './types.ts';

export interface CutOptions {
  targetS: number;
  /** how far a cut may move from its target to land in silence */
  windowS: number;
  /** no chunk shorter than this, except when the whole input is shorter */
  minChunkS: number;
  /** hard ceiling on a chunk's length (limits, minus any overlap) */
  maxS: number;
}

export interface Cut {
  atS: number;
  /** the cut landed inside a detected silence */
  inSilence: boolean;
}

/**
 * The silence to cut in, within [lo, hi]: the one with the longest stretch inside the window (a long pause is a
 * sentence or speaker boundary more often than a short one), ties going to the one nearest the target. The cut
 * goes to the middle of that stretch, as far as possible from the words on either side.
 */
export function pickSilence(silences: readonly Silence[], lo: number, hi: number, desired: number): number | undefined {
  let best: { at: number; len: number; dist: number } | undefined;
  for (const s of silences) {
    const a = Math.max(s.startS, lo);
    const b = Math.min(s.endS, hi);
    if (b <= a) continue;
    const at = (a + b) / 2;
    const cand = { at, len: b - a, dist: Math.abs(at - desired) };
    if (!best || cand.len > best.len + 1e-6 || (Math.abs(cand.len - best.len) <= 1e-6 && cand.dist < best.dist)) best = cand;
  }
  return best?.at;
}

/** Interior cut points (strictly between 0 and duration), in order. */
export function chooseCuts(durationS: number, o: CutOptions, silences: readonly Silence[] = []): Cut[] {
  const cuts: Cut[] = [];
  const sorted = [...silences].sort((a, b) => a.startS - b.startS);
  const longest = Math.min(o.targetS + o.windowS, o.maxS);
  // A chunk is never made shorter than this, so every step moves forward.
  const floorS = Math.max(0.5, Math.min(o.minChunkS, o.targetS / 2, o.maxS / 2));
  let start = 0;
  while (durationS - start > longest) {
    const remaining = durationS - start;
    // When a full target would leave a sliver behind, split what is left in two halves instead.
    const desired = remaining - o.targetS < floorS ? start + remaining / 2 : start + o.targetS;
    let lo = Math.max(desired - o.windowS, start + floorS);
    let hi = Math.min(desired + o.windowS, start + o.maxS);
    // Keep the tail at least floorS long when the window allows it.
    if (hi > durationS - floorS && durationS - floorS >= lo) hi = durationS - floorS;
    if (lo > hi) lo = hi;
    const inSilence = pickSilence(sorted, lo, hi, desired);
    const atS = inSilence ?? Math.min(hi, Math.max(lo, desired));
    cuts.push({ atS, inSilence: inSilence !== undefined });
    start = atS;
  }
  return cuts;
}
