/**
 * Splitting text into cue-sized pieces and lines: sentences first, then clauses, then balanced runs of
 * words (between any two characters in CJK text, which has no spaces). Pure string work.
 */
import { displayWidth, isCjk } from './text.ts';

// "." ends a sentence only before a space or the end; "。！？" end one wherever they are.
const SENTENCE_END = /[.!?…]+["'”’)\]]*(?=\s|$)|[。！？]+[」』”’）]*/gu;
const CLAUSE_END = /[,;:]["'”’)\]]*(?=\s)|[，；：、]|\s[—–]|\s-{1,2}(?=\s)/gu;
const ABBREVIATIONS = new Set(['mr', 'mrs', 'ms', 'dr', 'st', 'vs', 'etc', 'e.g', 'i.e', 'prof', 'jr', 'sr', 'no']);

/** Cut `text` at the given offsets; pieces are trimmed and empty ones dropped. */
function cutAt(text: string, cuts: readonly number[]): string[] {
  const out: string[] = [];
  let from = 0;
  for (const c of [...cuts, text.length]) {
    const piece = text.slice(from, c).trim();
    if (piece) out.push(piece);
    from = c;
  }
  return out;
}

export function splitSentences(text: string): string[] {
  const cuts: number[] = [];
  for (const m of text.matchAll(SENTENCE_END)) {
    const end = m.index! + m[0].length;
    if (end >= text.length) continue;
    if (m[0] === '.') {
      // "Dr. Smith", "J. K. Rowling": a period after an abbreviation or an initial does not end a sentence.
      const before = /([\p{L}.]+)$/u.exec(text.slice(0, m.index!))?.[1]?.toLowerCase() ?? '';
      if (ABBREVIATIONS.has(before) || /^\p{L}$/u.test(before)) continue;
    }
    cuts.push(end);
  }
  return cutAt(text, cuts);
}

/** Offsets where a clause ends inside `text` (after ",;:，；：、", before a dash). */
export function clauseCuts(text: string): number[] {
  const cuts: number[] = [];
  for (const m of text.matchAll(CLAUSE_END)) {
    // A dash opens the next clause; other marks close the current one.
    const cut = /^\s/u.test(m[0]) ? m.index! : m.index! + m[0].length;
    if (cut > 0 && cut < text.length) cuts.push(cut);
  }
  return cuts;
}

export function splitClauses(text: string): string[] {
  return cutAt(text, clauseCuts(text));
}

/** Places a line or piece may be split: at whitespace, or between two characters when either is CJK. */
export function breakPoints(text: string): number[] {
  const chars = [...text];
  const points: number[] = [];
  let offset = 0;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    const next = chars[i + 1];
    offset += ch.length;
    if (next === undefined) break;
    if (/\s/u.test(next) && !/\s/u.test(ch)) points.push(offset);
    else if (!/\s/u.test(ch) && !/\s/u.test(next) && (isCjk(ch) || isCjk(next)) && !/^[\p{P}]$/u.test(next)) points.push(offset);
  }
  return points;
}

/**
 * Splits `text` into `parts` pieces of about equal `weight`, at the given points (default: every break
 * point). Fewer pieces come back when there are not enough points.
 */
export function splitBalanced(text: string, parts: number, weight: (s: string) => number, points: readonly number[] = breakPoints(text)): string[] {
  if (parts <= 1 || points.length === 0) return [text.trim()];
  // Weights of the runs between points, summed: linear in the text, not quadratic.
  const cumulative: number[] = [];
  let acc = 0;
  points.forEach((p, i) => {
    acc += weight(text.slice(i === 0 ? 0 : points[i - 1], p));
    cumulative.push(acc);
  });
  const total = acc + weight(text.slice(points.at(-1)));
  const chosen: number[] = [];
  let from = 0;
  // A cut right after punctuation ("，", ",") reads better, so it counts as half as far from the target.
  const afterPunct = points.map((p) =>
    /\p{P}/u.test(
      text
        .slice(Math.max(0, p - 2), p)
        .trimEnd()
        .slice(-1),
    ),
  );
  const cost = (i: number, target: number): number => Math.abs(cumulative[i] - target) * (afterPunct[i] ? 0.5 : 1);
  for (let j = 1; j < parts; j++) {
    const target = (total * j) / parts;
    let best = -1;
    for (let i = from; i < points.length; i++) {
      if (best < 0 || cost(i, target) < cost(best, target)) best = i;
    }
    if (best < 0) break;
    chosen.push(points[best]);
    from = best + 1;
    if (from >= points.length) break;
  }
  return cutAt(text, chosen);
}

/**
 * Pieces for which `fits` holds where the words allow: sentences, then clauses, then balanced word runs
 * (as few as it takes).
 */
export function fitPieces(text: string, fits: (piece: string) => boolean, columnsPerPiece = 84): string[] {
  const out: string[] = [];
  for (const sentence of splitSentences(text)) {
    if (fits(sentence)) {
      out.push(sentence);
      continue;
    }
    for (const clause of splitClauses(sentence)) {
      if (fits(clause)) {
        out.push(clause);
        continue;
      }
      out.push(...splitUntilFits(clause, fits, columnsPerPiece));
    }
  }
  return out;
}

function splitUntilFits(text: string, fits: (piece: string) => boolean, columnsPerPiece: number): string[] {
  const maxParts = breakPoints(text).length + 1;
  for (let parts = Math.max(2, Math.ceil(displayWidth(text) / columnsPerPiece)); parts <= maxParts; parts++) {
    const pieces = splitBalanced(text, parts, displayWidth);
    if (pieces.every(fits) || parts === maxParts) return pieces;
  }
  return [text];
}

/** Whether `text` can be shown in `maxLines` lines of `maxWidth` columns. */
export function fitsLines(text: string, maxWidth: number, maxLines: number): boolean {
  return displayWidth(text) <= maxWidth * maxLines && wrapLines(text, maxWidth, maxLines).split('\n').length <= maxLines;
}

/**
 * Lines of at most `maxWidth` columns: one line if it fits, else the most balanced break into two, else
 * (a piece too wide for `maxLines`, or one unbreakable word) as many greedy lines as it takes.
 */
export function wrapLines(text: string, maxWidth: number, maxLines = 2): string {
  if (displayWidth(text) <= maxWidth) return text;
  const points = breakPoints(text);
  if (maxLines >= 2) {
    let best: [string, string] | null = null;
    let bestWidth = Infinity;
    for (const p of points) {
      const a = text.slice(0, p).trim();
      const b = text.slice(p).trim();
      const w = Math.max(displayWidth(a), displayWidth(b));
      if (w < bestWidth) {
        bestWidth = w;
        best = [a, b];
      }
    }
    if (best && bestWidth <= maxWidth) return best.join('\n');
  }
  return greedyLines(text, points, maxWidth).join('\n');
}

function greedyLines(text: string, points: readonly number[], maxWidth: number): string[] {
  const bounds = [0, ...points, text.length];
  const lines: string[] = [];
  let line = '';
  for (let i = 0; i + 1 < bounds.length; i++) {
    const atom = text.slice(bounds[i], bounds[i + 1]);
    const candidate = (line + atom).trim();
    if (line.trim() && displayWidth(candidate) > maxWidth) {
      lines.push(line.trim());
      line = atom;
    } else line += atom;
  }
  if (line.trim()) lines.push(line.trim());
  return lines;
}
