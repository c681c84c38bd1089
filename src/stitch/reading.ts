/**
 * Reading speed: no cue may show more characters per second than a viewer can read (20 for adults, the usual
 * English guideline; 17 for children's programmes). A cue too fast for its time first takes the free time
 * after it, then before it (a pause next to it), then spare time from the cues after and before it, which move
 * aside (pushing theirs) as far as their own reading time and the pauses allow; only then is it merged with a
 * neighbour, when the two fit the line limits together. Only a text that cannot be read at the limit within
 * the whole file stays faster. Pure; whole ms.
 */

import { joinPair } from './text.ts';
import type { Cue } from './types.ts';

export const DEFAULT_MAX_CPS = 20;

/** Characters a viewer reads: every character on screen, the line break not counted. */
export function cueChars(text: string): number {
  return [...text.replace(/\s*\n\s*/gu, ' ').trim()].length;
}

/** The time `text` needs on screen at `maxCps`, in ms. */
export function readingMs(text: string, maxCps: number): number {
  return Math.ceil((cueChars(text) / maxCps) * 1000);
}

export function cueCps(c: Cue): number {
  const s = c.endS - c.startS;
  return s > 0 ? cueChars(c.text) / s : Infinity;
}

export interface ReadingOptions {
  maxCps: number;
  /** no cue ends after this */
  durationMs: number;
  /** whether a text fits the line limits (a merge must) */
  fits: (text: string) => boolean;
  /** text -> its lines */
  wrap: (text: string) => string;
}

interface Slot {
  text: string;
  start: number;
  end: number;
}

const ROUNDS = 4;

/** The text of a cue as one line (for joining): lines joined the way words are. */
const unwrap = (text: string): string =>
  text
    .split('\n')
    .map((l) => l.trim())
    .reduce(joinPair, '');

export function fitReadingSpeed(cues: readonly Cue[], o: ReadingOptions): Cue[] {
  const s: Slot[] = cues.map((c) => ({ text: c.text, start: Math.round(c.startS * 1000), end: Math.round(c.endS * 1000) }));
  const need = (x: Slot): number => readingMs(x.text, o.maxCps) - (x.end - x.start);
  /** Moves cue j's start later by up to `ms`: its own spare time first, then the whole cue, pushing the ones after. */
  const pushRight = (j: number, ms: number): number => {
    const c = s[j];
    if (!c || ms <= 0) return 0;
    const own = Math.min(ms, Math.max(0, -need(c)));
    c.start += own;
    const rest = ms - own;
    let room = Math.min(rest, Math.max(0, (s[j + 1] ? s[j + 1].start : o.durationMs) - c.end));
    if (room < rest) room += pushRight(j + 1, rest - room);
    c.start += room;
    c.end += room;
    return own + room;
  };
  /** Moves cue j's end earlier by up to `ms`, the mirror of pushRight. */
  const pushLeft = (j: number, ms: number): number => {
    const c = s[j];
    if (!c || ms <= 0) return 0;
    const own = Math.min(ms, Math.max(0, -need(c)));
    c.end -= own;
    const rest = ms - own;
    let room = Math.min(rest, Math.max(0, c.start - (s[j - 1] ? s[j - 1].end : 0)));
    if (room < rest) room += pushLeft(j - 1, rest - room);
    c.start -= room;
    c.end -= room;
    return own + room;
  };
  for (let round = 0; round < ROUNDS; round++) {
    let short = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      let lack = need(c);
      if (lack <= 0) continue;
      // Free time after, then before; then the neighbours' spare time, moving them (and theirs) aside.
      const after = Math.min(lack, Math.max(0, (s[i + 1] ? s[i + 1].start : o.durationMs) - c.end));
      c.end += after;
      lack -= after;
      const before = Math.min(lack, Math.max(0, c.start - (s[i - 1] ? s[i - 1].end : 0)));
      c.start -= before;
      lack -= before;
      const right = pushRight(i + 1, lack);
      c.end += right;
      lack -= right;
      const left = pushLeft(i - 1, lack);
      c.start -= left;
      lack -= left;
      if (lack > 0) short++;
    }
    if (short === 0) break;
    // Still too fast (its neighbours read at the limit too): merge with the neighbour whose joint text fits, the slower one first.
    for (let i = 0; i < s.length; i++) {
      if (need(s[i]) <= 0) continue;
      const options = [i - 1, i + 1].filter((j) => j >= 0 && j < s.length).sort((a, b) => need(s[a]) - need(s[b]));
      for (const j of options) {
        const [a, b] = j < i ? [s[j], s[i]] : [s[i], s[j]];
        const joined = joinPair(unwrap(a.text), unwrap(b.text));
        if (!o.fits(joined)) continue;
        s.splice(Math.min(i, j), 2, { text: o.wrap(joined), start: a.start, end: b.end });
        break;
      }
    }
  }
  return s.filter((x) => x.end > x.start).map((x) => ({ startS: x.start / 1000, endS: x.end / 1000, text: x.text }));
}
