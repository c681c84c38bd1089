/**
 * Laying one chunk's text over its measured speech (media/speech.ts), not over the chunk's whole range: the
 * pieces (sentences, then clauses, then word runs) share the SPEAKING time in proportion to how long each takes
 * to say, and their boundaries are aligned to the measured pauses, so a sentence starts where the speech
 * after a pause starts and no cue is left over a pause. Pure; times in whole milliseconds.
 *
 * The alignment is a dynamic programme over (piece boundary, pause) pairs: a chain of anchors from the chunk's
 * start to its end, each segment between two anchors costing how far its speaking time is from what its text
 * predicts, plus a price for every sentence end left off a pause and every pause left inside a segment (a long
 * pause inside a sentence is rare; a short one, a breath at a comma, is common and cheap).
 */
import { breakPoints } from './segment.ts';
import { speechWeight } from './text.ts';

/** [startMs, endMs] on the source's timeline. */
export type SpanMs = [number, number];

export interface PlacedPiece {
  text: string;
  startMs: number;
  endMs: number;
}

export interface TimingOptions {
  /** a pause longer than this is never covered by a cue (default 500 ms) */
  maxGapMs?: number;
}

/** Pieces per segment and pauses per segment the programme looks across (the final anchor is always reachable). */
const MAX_PIECES_PER_SEGMENT = 16;
const MAX_PAUSES_PER_SEGMENT = 24;
/** An unmatched sentence end, an unmatched clause end or word-run cut. */
const LOOSE_SENTENCE = 1.5;
const LOOSE_CLAUSE = 0.3;
/** Speaking rate varies by about a quarter between sentences, and a short phrase by a few hundred ms. */
const RATE_SLACK = 0.25;
const ABS_SLACK_MS = 400;
/** How far (ms of speaking time) an anchor may sit from where the text alone would put it: 60 s, or 20% of the chunk (music or an untranscribed stretch skews it). */
const BAND_MIN_MS = 60_000;
const BAND_SHARE = 0.2;

const weightOf = (s: string): number => Math.max(1, speechWeight(s));
const endsSentence = (s: string): boolean => /[.!?…。！？]["'”’)\]」』）]*$/u.test(s.trim());

/** Price of a pause left inside a segment: a breath (300 ms) costs little, a second or more a lot. */
function pausePrice(gapMs: number): number {
  return 0.3 + 3 * Math.min(1, Math.max(0, (gapMs - 300) / 1200));
}

/** The anchors [piece boundary k, pause j] from (0, 0) to (pieces, spans), cheapest chain. */
export function alignToPauses(pieces: readonly string[], spans: readonly SpanMs[]): [number, number][] {
  const n = pieces.length;
  const m = spans.length;
  const weights = pieces.map(weightOf);
  const totalW = weights.reduce((a, b) => a + b, 0);
  const speech = spans.map(([a, b]) => b - a);
  const totalS = speech.reduce((a, b) => a + b, 0);
  // Boundaries in speaking time: B[k] predicted from the text, P[j] measured.
  const B = [0];
  for (const w of weights) B.push(B[B.length - 1] + (w / totalW) * totalS);
  const P = [0];
  for (const s of speech) P.push(P[P.length - 1] + s);
  // Prefix sums of the prices of loose boundaries (L) and skipped pauses (Q), so a transition costs O(1):
  // L[q] prices piece boundaries 1..q, Q[q] the pauses 1..q (pause q lies between span q-1 and span q).
  const L = [0];
  for (let k = 1; k < n; k++) L.push(L[k - 1] + (endsSentence(pieces[k - 1]) ? LOOSE_SENTENCE : LOOSE_CLAUSE));
  const Q = [0];
  for (let j = 1; j < m; j++) Q.push(Q[j - 1] + pausePrice(spans[j][0] - spans[j - 1][1]));
  const cost = (k0: number, j0: number, k: number, j: number): number => {
    const t = B[k] - B[k0];
    const s = P[j] - P[j0];
    const z = (s - t) / (RATE_SLACK * t + ABS_SLACK_MS);
    return z * z + (L[k - 1] - L[k0]) + (Q[j - 1] - Q[j0]);
  };
  // Cheapest cost to each anchor and where it came from, in flat arrays (an hour-long chunk has ~10^6 anchors).
  const width = m + 1;
  const best = new Float64Array((n + 1) * width).fill(Infinity);
  const from = new Int32Array((n + 1) * width).fill(-1);
  best[0] = 0;
  const relax = (k0: number, j0: number, c0: number, k: number, j: number): void => {
    const c = c0 + cost(k0, j0, k, j);
    const at = k * width + j;
    if (c < best[at]) {
      best[at] = c;
      from[at] = k0 * width + j0;
    }
  };
  // Anchors far off the diagonal (text position vs speech position) cannot be right: a band keeps the search linear.
  const band = Math.max(BAND_MIN_MS, BAND_SHARE * totalS);
  for (let k0 = 0; k0 < n; k0++) {
    for (let j0 = 0; j0 < m; j0++) {
      const c0 = best[k0 * width + j0];
      if (c0 === Infinity) continue;
      relax(k0, j0, c0, n, m);
      for (let k = k0 + 1; k < Math.min(n, k0 + MAX_PIECES_PER_SEGMENT + 1); k++) {
        for (let j = j0 + 1; j < Math.min(m, j0 + MAX_PAUSES_PER_SEGMENT + 1); j++) {
          if (Math.abs(B[k] - P[j]) <= band) relax(k0, j0, c0, k, j);
        }
      }
    }
  }
  const chain: [number, number][] = [];
  for (let at = n * width + m; at >= 0; at = from[at]) chain.push([Math.floor(at / width), at % width]);
  return chain.reverse();
}

/**
 * Offsets that cut `text` into parts whose speaking weights are about `shares` (fractions summing to 1),
 * at word breaks; a part may come back empty when the words run out.
 */
export function splitByShares(text: string, shares: readonly number[]): string[] {
  const points = breakPoints(text);
  const before = points.map((q) => weightOf(text.slice(0, q)));
  const total = weightOf(text);
  const cuts: number[] = [];
  let acc = 0;
  let q = 0;
  for (let i = 0; i < shares.length - 1; i++) {
    acc += shares[i] * total;
    // The break point whose weight so far is nearest the target, not before the last cut.
    while (q + 1 < points.length && Math.abs(before[q + 1] - acc) <= Math.abs(before[q] - acc)) q++;
    const at = q < points.length ? points[q] : text.length;
    cuts.push(Math.max(at, cuts.at(-1) ?? 0));
    if (q < points.length) q++;
    else q = points.length;
  }
  const out: string[] = [];
  let from = 0;
  for (const c of [...cuts, text.length]) {
    out.push(text.slice(from, c).trim());
    from = c;
  }
  return out;
}

/** Speaking time x (ms from the segment's start) -> the timeline, inside `spans`. `side` picks the span a boundary x belongs to. */
function atSpeech(spans: readonly SpanMs[], x: number, side: 'start' | 'end'): number {
  let acc = 0;
  for (let i = 0; i < spans.length; i++) {
    const len = spans[i][1] - spans[i][0];
    const last = i === spans.length - 1;
    if (side === 'start' ? x < acc + len || last : x <= acc + len || last) return Math.round(spans[i][0] + Math.min(len, Math.max(0, x - acc)));
    acc += len;
  }
  return spans.length ? spans[spans.length - 1][1] : 0;
}

/** The parts of `spans` inside [a, b] (timeline ms). */
function clip(spans: readonly SpanMs[], a: number, b: number): SpanMs[] {
  return spans.filter(([s, e]) => e > a && s < b).map(([s, e]) => [Math.max(s, a), Math.min(e, b)] as SpanMs);
}

/** Runs of spans separated by pauses no longer than maxGapMs. */
function runs(spans: readonly SpanMs[], maxGapMs: number): SpanMs[][] {
  const out: SpanMs[][] = [];
  for (const s of spans) {
    const cur = out.at(-1);
    if (cur && s[0] - cur[cur.length - 1][1] <= maxGapMs) cur.push(s);
    else out.push([s]);
  }
  return out;
}

/**
 * Pieces of one chunk's text over its speech: aligned to pauses, proportional to speaking time between the
 * anchors, and cut wherever a piece would span a pause longer than maxGapMs (its words shared between the
 * stretches of speech on either side; a single word keeps the longest stretch).
 */
export function placeOverSpeech(pieces: readonly string[], spans: readonly SpanMs[], opts: TimingOptions = {}): PlacedPiece[] {
  const maxGapMs = opts.maxGapMs ?? 500;
  if (pieces.length === 0 || spans.length === 0) return [];
  const anchors = alignToPauses(pieces, spans);
  const placed: PlacedPiece[] = [];
  for (let a = 0; a + 1 < anchors.length; a++) {
    const [k0, j0] = anchors[a];
    const [k1, j1] = anchors[a + 1];
    const segSpans = spans.slice(j0, j1);
    const segPieces = pieces.slice(k0, k1);
    const segSpeech = segSpans.reduce((n, [s, e]) => n + e - s, 0);
    const segW = segPieces.reduce((n, p) => n + weightOf(p), 0);
    let x = 0;
    for (const piece of segPieces) {
      const len = (weightOf(piece) / segW) * segSpeech;
      const startMs = atSpeech(segSpans, x, 'start');
      const endMs = atSpeech(segSpans, x + len, 'end');
      x += len;
      placed.push(...splitAtPauses(piece, clip(segSpans, startMs, endMs), maxGapMs));
    }
  }
  return placed;
}

function splitAtPauses(piece: string, covered: readonly SpanMs[], maxGapMs: number): PlacedPiece[] {
  if (covered.length === 0) return [];
  const groups = runs(covered, maxGapMs);
  const place = (text: string, g: readonly SpanMs[]): PlacedPiece => ({ text, startMs: g[0][0], endMs: g[g.length - 1][1] });
  if (groups.length === 1) return [place(piece, groups[0])];
  const lengths = groups.map((g) => g.reduce((n, [s, e]) => n + e - s, 0));
  const total = lengths.reduce((a, b) => a + b, 0);
  const parts = splitByShares(
    piece,
    lengths.map((l) => l / total),
  );
  const out: PlacedPiece[] = [];
  parts.forEach((text, i) => {
    if (text) out.push(place(text, groups[i]));
  });
  if (out.length > 0) return out;
  const longest = lengths.indexOf(Math.max(...lengths));
  return [place(piece, groups[longest])];
}
