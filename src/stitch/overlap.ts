/**
 * Overlapping chunks hear the same words twice: the end of one chunk and the start of the next. The
 * repeated words are found as the longest run of words that ends the earlier text and starts the later
 * one (compared without case and punctuation), bounded by what can be said in the overlap, and removed
 * from the earlier chunk: the later chunk heard them with their following context, so its version is kept.
 */

import { type WordToken, words } from './text.ts';
import type { ChunkText } from './types.ts';

/** A generous speaking rate (CJK counts characters): the bound on how many words an overlap can repeat. */
const WORDS_PER_SECOND = 6;
const MAX_BOUND = 80;

export interface OverlapOptions {
  /** the planned overlap; pairs whose measured ranges overlap are de-duplicated even without it */
  overlapS?: number;
  /** override the bound derived from the overlap's length */
  maxOverlapWords?: number;
  /** a shorter match is treated as coincidence (default 1) */
  minOverlapWords?: number;
}

export interface DedupedChunk extends ChunkText {
  /** words removed from the end of this chunk because the next chunk repeats them */
  removedWords: number;
}

/** The largest k in [minWords, maxWords] such that the last k words of `prev` equal the first k of `next`; 0 if none. */
export function suffixPrefixMatch(prev: readonly WordToken[], next: readonly WordToken[], maxWords: number, minWords = 1): number {
  const limit = Math.min(maxWords, prev.length, next.length);
  for (let k = limit; k >= Math.max(1, minWords); k--) {
    let same = true;
    for (let i = 0; i < k && same; i++) same = prev[prev.length - k + i].key === next[i].key;
    if (same) return k;
  }
  return 0;
}

/** Chunks in timeline order, in the order the source plays them. */
export function timelineOrder<T extends ChunkText>(chunks: readonly T[]): T[] {
  return [...chunks].sort((a, b) => a.startS - b.startS || a.index - b.index);
}

/** The bound for one pair: what fits in the planned or measured overlap, whichever is longer. */
export function overlapBound(prev: ChunkText, next: ChunkText, opts: OverlapOptions): number {
  if (opts.maxOverlapWords !== undefined) return opts.maxOverlapWords;
  const seconds = Math.max(opts.overlapS ?? 0, prev.endS - next.startS);
  if (seconds <= 0) return 0;
  return Math.min(MAX_BOUND, Math.ceil(seconds * WORDS_PER_SECOND) + 2);
}

/**
 * Returns the chunks in timeline order with the repeated words removed from the earlier chunk of each
 * overlapping pair. Chunks that do not overlap (no planned overlap, measured ranges disjoint) are left
 * alone: "the the" across a clean cut is what was said.
 */
export function dedupeOverlaps(chunks: readonly ChunkText[], opts: OverlapOptions = {}): DedupedChunk[] {
  const ordered = timelineOrder(chunks).map((c) => ({ ...c, text: c.text.trim(), removedWords: 0 }));
  for (let i = 0; i + 1 < ordered.length; i++) {
    const prev = ordered[i];
    const next = ordered[i + 1];
    const overlaps = (opts.overlapS ?? 0) > 0 || next.startS < prev.endS;
    if (!overlaps || !prev.text || !next.text) continue;
    const bound = overlapBound(prev, next, opts);
    const prevWords = words(prev.text);
    const k = suffixPrefixMatch(prevWords, words(next.text), bound, opts.minOverlapWords ?? 1);
    if (k === 0) continue;
    prev.text = prev.text.slice(0, prevWords[prevWords.length - k].start).trimEnd();
    prev.removedWords = k;
  }
  return ordered;
}
