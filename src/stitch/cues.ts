/**
 * Caption cues on the source's timeline. Each chunk's text is cut into sentences (then clauses, then
 * word runs) and shown over the chunk's measured speech when its silences are known (timing.ts: aligned to
 * the pauses, never over one), else over the chunk's whole range, each piece for a time proportional to how
 * long it takes to say. No cue goes faster than the reading-speed limit (reading.ts); a chunk with more text
 * than its speech can show at that speed shares its neighbour's time. Times are computed in whole
 * milliseconds, so the cues stay strictly ordered and non-overlapping after rendering.
 */

import type { DedupedChunk } from './overlap.ts';
import { DEFAULT_MAX_CPS, fitReadingSpeed, readingMs } from './reading.ts';
import { breakPoints, clauseCuts, fitPieces, fitsLines, splitBalanced, wrapLines } from './segment.ts';
import { displayWidth, joinPair, normalizeSpace, speechWeight } from './text.ts';
import { type PlacedPiece, placeOverSpeech, type SpanMs } from './timing.ts';
import type { Cue } from './types.ts';

export interface CueOptions {
  /** the source's duration: no cue ends after it */
  durationS: number;
  /** longest a cue should stay on screen; longer only for one unsplittable word (default 7) */
  maxCueS?: number;
  /** shortest a cue should be, when the chunk's time allows (default 1) */
  minCueS?: number;
  /** columns per line; CJK characters take two (default 42) */
  maxLineWidth?: number;
  /** default 2 */
  maxLines?: number;
  /**
   * A cue split only for time keeps at least this many columns (default 16): when the model wrote
   * little for a long stretch (a sound description over 30 s), a readable phrase shown longer beats
   * two-word flicker.
   */
  minPieceWidth?: number;
  /** reading speed: no cue shows more characters per second than this (default 20, the adult guideline; 17 for children) */
  maxCps?: number;
  /** a pause in the speech longer than this is never under a cue (default 0.5) */
  maxGapS?: number;
}

interface Resolved {
  maxMs: number;
  minMs: number;
  lineWidth: number;
  lines: number;
  minPieceWidth: number;
  maxCps: number;
  maxGapMs: number;
}

/** Text and the time it may use: a chunk, or a chunk merged with its neighbour. `spans` undefined: speech unknown. */
interface TimedText {
  text: string;
  startMs: number;
  endMs: number;
  spans?: SpanMs[];
}

/** How many rounds of "split the pieces still too long" to try; each round at least halves the worst. */
const SPLIT_ROUNDS = 8;

/**
 * The time each chunk's text owns: its measured range, cut where the next chunk starts when they
 * overlap (at the next start if the repeated words went to the next chunk, else halfway), kept after
 * the previous window and inside [0, duration].
 */
export function chunkWindows(chunks: readonly DedupedChunk[], durationS: number): { startMs: number; endMs: number }[] {
  const durationMs = Math.round(durationS * 1000);
  let lastEnd = 0;
  return chunks.map((c, i) => {
    const next = chunks[i + 1];
    let end = c.endS;
    if (next && next.startS < c.endS) end = c.removedWords > 0 ? next.startS : (next.startS + c.endS) / 2;
    const startMs = Math.min(durationMs, Math.max(lastEnd, Math.round(c.startS * 1000)));
    const endMs = Math.min(durationMs, Math.max(startMs, Math.round(end * 1000)));
    lastEnd = endMs;
    return { startMs, endMs };
  });
}

export function buildCues(chunks: readonly DedupedChunk[], opts: CueOptions): Cue[] {
  const r: Resolved = {
    maxMs: (opts.maxCueS ?? 7) * 1000,
    minMs: (opts.minCueS ?? 1) * 1000,
    lineWidth: opts.maxLineWidth ?? 42,
    lines: opts.maxLines ?? 2,
    minPieceWidth: opts.minPieceWidth ?? 16,
    maxCps: opts.maxCps ?? DEFAULT_MAX_CPS,
    maxGapMs: (opts.maxGapS ?? 0.5) * 1000,
  };
  const windows = chunkWindows(chunks, opts.durationS);
  const timed: TimedText[] = [];
  // A chunk left with no time (nested inside its neighbour's range) hands its words to the next chunk.
  let carried = '';
  chunks.forEach((c, i) => {
    const text = joinPair(carried, normalizeSpace(c.text));
    const { startMs, endMs } = windows[i];
    if (endMs <= startMs) {
      carried = text;
      return;
    }
    carried = '';
    if (!text) return;
    const spans = c.speech && speechSpans(c.speech, startMs, endMs);
    timed.push({ text, startMs, endMs, ...(spans && spans.length > 0 && { spans }) });
  });
  const cues: Cue[] = [];
  for (const t of mergeCrowded(timed, r.maxCps)) {
    cues.push(...(t.spans ? speechCues(t.text, t.spans, r) : chunkCues(t.text, t.startMs, t.endMs, r)));
  }
  return fitReadingSpeed(cues, {
    maxCps: r.maxCps,
    durationMs: Math.round(opts.durationS * 1000),
    fits: (p) => fitsLines(p, r.lineWidth, r.lines),
    wrap: (p) => wrapLines(p, r.lineWidth, r.lines),
  });
}

/** A chunk's speech in whole ms, inside its window. */
function speechSpans(speech: readonly [number, number][], startMs: number, endMs: number): SpanMs[] {
  const out: SpanMs[] = [];
  for (const [a, b] of speech) {
    const s = Math.max(startMs, Math.round(a * 1000));
    const e = Math.min(endMs, Math.round(b * 1000));
    if (e > s) out.push([s, e]);
  }
  return out;
}

const spansOf = (t: TimedText): SpanMs[] => t.spans ?? [[t.startMs, t.endMs]];

/**
 * A chunk whose text cannot be read within its whole range at maxCps (a short last chunk that got a whole
 * sentence) is merged with its neighbour (the one before, when there is one): the two texts share both times
 * rather than one flashing by. Text that only outruns the chunk's speech stays in the chunk: its cues take
 * the pauses beside them (reading.ts).
 */
function mergeCrowded(items: readonly TimedText[], maxCps: number): TimedText[] {
  const out = [...items];
  for (let i = 0; i < out.length && out.length > 1; ) {
    if (readingMs(out[i].text, maxCps) <= out[i].endMs - out[i].startMs) {
      i++;
      continue;
    }
    const j = i > 0 ? i - 1 : i + 1;
    const [a, b] = j < i ? [out[j], out[i]] : [out[i], out[j]];
    const merged: TimedText = {
      text: joinPair(a.text, b.text),
      startMs: a.startMs,
      endMs: b.endMs,
      ...((a.spans || b.spans) && { spans: [...spansOf(a), ...spansOf(b)] }),
    };
    out.splice(Math.min(i, j), 2, merged);
    i = Math.max(0, Math.min(i, j) - 1);
  }
  return out;
}

/** Cues of one text over its measured speech: placed (timing.ts), short neighbours joined, long ones cut. */
function speechCues(text: string, spans: readonly SpanMs[], r: Resolved): Cue[] {
  const pieces = fitPieces(text, (p) => fitsLines(p, r.lineWidth, r.lines), r.lineWidth * r.lines);
  const placed = splitPlacedLong(joinPlacedShort(placeOverSpeech(pieces, spans, { maxGapMs: r.maxGapMs }), r), r);
  return placed.map((p) => ({ startS: p.startMs / 1000, endS: p.endMs / 1000, text: wrapLines(p.text, r.lineWidth, r.lines) }));
}

/**
 * Pieces share a cue only inside one stretch of speech: a measured pause (>= 0.3 s, media/silence.ts) is often a
 * turn in a dialogue, and a cue across it would sit over the silence.
 */
const JOIN_GAP_MS = 250;

/** Neighbours with no pause between them share a cue when together they fit one line and the time limit. */
function joinPlacedShort(placed: readonly PlacedPiece[], r: Resolved): PlacedPiece[] {
  const out: PlacedPiece[] = [];
  for (const p of placed) {
    const prev = out.at(-1);
    if (prev && p.startMs - prev.endMs <= JOIN_GAP_MS) {
      const joined = joinPair(prev.text, p.text);
      if (displayWidth(joined) <= r.lineWidth && p.endMs - prev.startMs <= r.maxMs) {
        out[out.length - 1] = { text: joined, startMs: prev.startMs, endMs: p.endMs };
        continue;
      }
    }
    out.push(p);
  }
  return out;
}

/** A placed piece longer than maxMs is cut (clauses first, then word runs), its time shared by weight. */
function splitPlacedLong(placed: readonly PlacedPiece[], r: Resolved): PlacedPiece[] {
  const out: PlacedPiece[] = [];
  for (const p of placed) {
    const span = p.endMs - p.startMs;
    const parts = Math.min(Math.ceil(span / r.maxMs), Math.floor(displayWidth(p.text) / r.minPieceWidth));
    if (parts <= 1 || breakPoints(p.text).length === 0) {
      out.push(p);
      continue;
    }
    const clauses = clauseCuts(p.text);
    const texts =
      clauses.length > 0 ? splitBalanced(p.text, Math.min(parts, clauses.length + 1), speechWeight, clauses) : splitBalanced(p.text, parts, speechWeight);
    const total = totalWeight(texts);
    let acc = 0;
    let t = p.startMs;
    texts.forEach((text, i) => {
      acc += weightOf(text);
      const end = i === texts.length - 1 ? p.endMs : p.startMs + Math.round((acc / total) * span);
      if (end > t) out.push({ text, startMs: t, endMs: end });
      t = end;
    });
  }
  return out;
}

function chunkCues(raw: string, startMs: number, endMs: number, r: Resolved): Cue[] {
  const text = normalizeSpace(raw);
  const span = endMs - startMs;
  if (!text || span <= 0) return [];
  let pieces = fitPieces(text, (p) => fitsLines(p, r.lineWidth, r.lines), r.lineWidth * r.lines);
  pieces = mergeShort(pieces, span / totalWeight(pieces), r);
  pieces = splitLong(pieces, span, r);
  // A window too short to give every piece a millisecond (a sliver at the end of the file): one cue.
  if (span < pieces.length) pieces = [text];
  const durations = allocate(pieces.map(weightOf), span, r.minMs);
  const cues: Cue[] = [];
  let cumulative = 0;
  let t = startMs;
  pieces.forEach((piece, i) => {
    cumulative += durations[i];
    const end = i === pieces.length - 1 ? endMs : startMs + Math.round(cumulative);
    cues.push({ startS: t / 1000, endS: end / 1000, text: wrapLines(piece, r.lineWidth, r.lines) });
    t = end;
  });
  return cues;
}

const weightOf = (s: string): number => Math.max(1, speechWeight(s));
const totalWeight = (pieces: readonly string[]): number => pieces.reduce((a, p) => a + weightOf(p), 0);

/** Neighbouring short sentences share a cue when together they fit one line and the time limit. */
function mergeShort(pieces: readonly string[], msPerWeight: number, r: Resolved): string[] {
  const out: string[] = [];
  for (const p of pieces) {
    const prev = out.at(-1);
    if (prev !== undefined) {
      const joined = joinPair(prev, p);
      if (displayWidth(joined) <= r.lineWidth && weightOf(joined) * msPerWeight <= r.maxMs) {
        out[out.length - 1] = joined;
        continue;
      }
    }
    out.push(p);
  }
  return out;
}

/** Pieces that would stay up longer than the limit are cut into word runs until none does, or none can be cut further. */
function splitLong(pieces: string[], span: number, r: Resolved): string[] {
  for (let round = 0; round < SPLIT_ROUNDS; round++) {
    const durations = allocate(pieces.map(weightOf), span, r.minMs);
    let changed = false;
    const next: string[] = [];
    pieces.forEach((p, i) => {
      const partCount = Math.min(Math.ceil(durations[i] / r.maxMs), Math.floor(displayWidth(p) / r.minPieceWidth));
      if (partCount > 1 && breakPoints(p).length > 0) {
        // Clause boundaries first; a later round cuts between words what is still too long.
        const clauses = clauseCuts(p);
        const parts =
          clauses.length > 0 ? splitBalanced(p, Math.min(partCount, clauses.length + 1), speechWeight, clauses) : splitBalanced(p, partCount, speechWeight);
        if (parts.length > 1) changed = true;
        next.push(...parts);
      } else next.push(p);
    });
    pieces = next;
    if (!changed) break;
  }
  return pieces;
}

/**
 * Shares `span` ms among pieces in proportion to their weights, but gives each at least `minMs`
 * (or an equal share when the span cannot afford the minimum for all): the short ones are pinned at the
 * minimum and the rest re-shared, until no share falls under it.
 */
export function allocate(weights: readonly number[], span: number, minMs: number): number[] {
  const n = weights.length;
  const floor = Math.min(minMs, span / n);
  const pinned = new Array<boolean>(n).fill(false);
  let shares: number[] = [];
  for (let round = 0; round <= n; round++) {
    const free = span - floor * pinned.filter(Boolean).length;
    const freeWeight = weights.reduce((a, w, i) => (pinned[i] ? a : a + w), 0);
    shares = weights.map((w, i) => (pinned[i] ? floor : (w / freeWeight) * free));
    let more = false;
    shares.forEach((s, i) => {
      if (!pinned[i] && s < floor) {
        pinned[i] = true;
        more = true;
      }
    });
    if (!more) break;
  }
  return shares;
}
