/**
 * Character classes shared by overlap de-duplication, sentence splitting and line wrapping. CJK scripts
 * are written without spaces, so each ideograph/kana is its own "word" and counts double on screen.
 */

const CJK_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
// Han/kana one at a time; otherwise a run of letters/digits/marks (with inner apostrophes: don't, l'homme).
const WORD =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]|(?:(?![\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])[\p{L}\p{N}\p{M}])+(?:['’](?:(?![\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])[\p{L}\p{N}\p{M}])+)*/gu;
const WIDE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff01-\uff60\uffe0-\uffe6]/u;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

export interface WordToken {
  /** lowercased, for comparison */
  key: string;
  /** UTF-16 offsets into the text */
  start: number;
  end: number;
}

export function isCjk(ch: string): boolean {
  return CJK_CHAR.test(ch);
}

export function words(text: string): WordToken[] {
  const out: WordToken[] = [];
  for (const m of text.matchAll(WORD)) out.push({ key: m[0].toLowerCase(), start: m.index!, end: m.index! + m[0].length });
  return out;
}

/** Columns on screen: East Asian wide characters take two. */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += WIDE.test(ch) ? 2 : 1;
  return w;
}

/**
 * How long a piece of text takes to say, in arbitrary units: a CJK syllable (one character) takes about
 * as long as three Latin letters; spaces and punctuation take nothing. Used to share a chunk's time
 * among its sentences.
 */
export function speechWeight(text: string): number {
  let w = 0;
  for (const ch of text) {
    if (isCjk(ch)) w += 3;
    else if (LETTER_OR_DIGIT.test(ch)) w += 1;
  }
  return w;
}

/** Joins two pieces of text with a space, or with nothing between CJK characters. */
export function joinPair(a: string, b: string): string {
  if (!a) return b;
  if (!b) return a;
  const last = [...a].at(-1)!;
  const first = [...b][0];
  return needsSpace(last, first) ? `${a} ${b}` : `${a}${b}`;
}

function needsSpace(last: string, first: string): boolean {
  const wideLast = WIDE.test(last);
  const wideFirst = WIDE.test(first);
  if (wideLast && wideFirst) return false;
  // Fullwidth punctuation carries its own spacing: "。" then "Hello" reads fine without a space.
  if (wideLast && /[\u3000-\u303f\uff01-\uff60]/u.test(last)) return false;
  return true;
}

export function normalizeSpace(text: string): string {
  return text.replace(/\s+/gu, ' ').trim();
}
