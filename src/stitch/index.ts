/**
 * Chunk results -> the file's text and its caption cues, on the source's timeline. Pure.
 *
 *   const { text, cues } = stitch(chunkTexts, { durationS: 7201.3, overlapS: 2 });
 */

import { buildCues, type CueOptions } from './cues.ts';
import { type DedupedChunk, dedupeOverlaps, type OverlapOptions } from './overlap.ts';
import { joinPair, normalizeSpace } from './text.ts';
import type { ChunkText, Cue } from './types.ts';

export type { CueOptions } from './cues.ts';
export { buildCues, chunkWindows } from './cues.ts';
export type { DedupedChunk, OverlapOptions } from './overlap.ts';
export { dedupeOverlaps, suffixPrefixMatch } from './overlap.ts';
export type { ChunkText, Cue } from './types.ts';

export interface StitchOptions extends OverlapOptions, Omit<CueOptions, 'durationS'> {
  /** the source's duration (default: the last chunk's end) */
  durationS?: number;
  /** `space` (default): one running text, for transcripts; `paragraph`: a blank line between chunks, for per-clip captions */
  joiner?: 'space' | 'paragraph';
}

export interface Stitched {
  text: string;
  cues: Cue[];
  /** the chunks in timeline order, with the words repeated across overlaps removed */
  chunks: DedupedChunk[];
}

export function joinTexts(chunks: readonly { text: string }[], joiner: 'space' | 'paragraph' = 'space'): string {
  const texts = chunks.map((c) => normalizeSpace(c.text)).filter(Boolean);
  return joiner === 'paragraph' ? texts.join('\n\n') : texts.reduce(joinPair, '');
}

export function stitch(chunks: readonly ChunkText[], opts: StitchOptions = {}): Stitched {
  const deduped = dedupeOverlaps(chunks, opts);
  const durationS = opts.durationS ?? Math.max(0, ...chunks.map((c) => c.endS));
  return {
    text: joinTexts(deduped, opts.joiner),
    cues: buildCues(deduped, { ...opts, durationS }),
    chunks: deduped,
  };
}
