import { describe, expect, it } from 'vitest';
import { type ChunkText, type Cue, dedupeOverlaps, stitch, suffixPrefixMatch } from '../../src/stitch/index.ts';
import { breakPoints, splitSentences, wrapLines } from '../../src/stitch/segment.ts';
import { displayWidth, words } from '../../src/stitch/text.ts';
import { seededRandom as rng } from '../../src/util/random.ts';

const LATIN = [
  'the',
  'quick',
  'brown',
  'fox',
  'jumps',
  'over',
  'lazy',
  'dog',
  'and',
  'then',
  'it',
  'rains,',
  'loudly.',
  'Really?',
  'extraordinarily',
  'a',
  'microphone',
  'crackles;',
  'music',
  'plays!',
];
const CJK = ['今天', '天气', '很好', '我们', '去', '公园', '散步', '吧，', '然后', '吃饭。', '这是', '测试', '字幕', '吗？'];

function randomText(next: () => number, n: number): string {
  const cjk = next() < 0.3;
  const pool = cjk ? CJK : LATIN;
  const parts = Array.from({ length: n }, () => pool[Math.floor(next() * pool.length)]);
  return cjk ? parts.join('') : parts.join(' ');
}

const squash = (s: string): string => s.replace(/\s+/gu, '');

function checkCues(cues: readonly Cue[], durationS: number): void {
  let last = 0;
  for (const c of cues) {
    expect(c.startS).toBeGreaterThanOrEqual(last);
    expect(c.endS).toBeGreaterThan(c.startS);
    expect(c.endS).toBeLessThanOrEqual(durationS);
    expect(Number.isInteger(Math.round(c.startS * 1000))).toBe(true);
    expect(Math.abs(c.startS * 1000 - Math.round(c.startS * 1000))).toBeLessThan(1e-6);
    expect(c.text.trim()).not.toBe('');
    last = c.endS;
  }
}

describe('overlap de-duplication', () => {
  it('finds the longest suffix/prefix word run, ignoring case and punctuation, within the bound', () => {
    const a = words('we went to the Store, and then');
    const b = words('to the store and then bought milk');
    expect(suffixPrefixMatch(a, b, 10)).toBe(5);
    expect(suffixPrefixMatch(a, b, 3)).toBe(0); // the 5-word match is past the bound; no shorter one exists
    expect(suffixPrefixMatch(words('a b c'), words('x y'), 10)).toBe(0);
  });

  it('removes the repeated words from the earlier chunk only when chunks overlap', () => {
    const chunks: ChunkText[] = [
      { index: 1, startS: 28, endS: 60, text: 'and then it rained all day.' },
      { index: 0, startS: 0, endS: 30, text: 'We walked home, and then it' },
    ];
    const out = dedupeOverlaps(chunks, { overlapS: 2 });
    expect(out.map((c) => c.index)).toEqual([0, 1]);
    expect(out[0].text).toBe('We walked home,');
    expect(out[0].removedWords).toBe(3);
    expect(stitch(chunks, { overlapS: 2 }).text).toBe('We walked home, and then it rained all day.');
    // Back-to-back chunks with no planned overlap: a repeated word is what was said.
    const clean = dedupeOverlaps([
      { index: 0, startS: 0, endS: 30, text: 'it was the' },
      { index: 1, startS: 30, endS: 60, text: 'the end' },
    ]);
    expect(clean[0].text).toBe('it was the');
  });

  it('de-duplicates CJK text character by character and joins it without spaces', () => {
    const r = stitch(
      [
        { index: 0, startS: 0, endS: 31, text: '今天天气很好，我们去公园' },
        { index: 1, startS: 29, endS: 60, text: '我们去公园散步吧。' },
      ],
      { overlapS: 2 },
    );
    expect(r.text).toBe('今天天气很好，我们去公园散步吧。');
  });
});

describe('joined text', () => {
  it('is in timeline order whatever order the chunks arrive in, skipping empty chunks', () => {
    const r = stitch([
      { index: 2, startS: 60, endS: 90, text: 'Third.' },
      { index: 0, startS: 0, endS: 30, text: 'First.' },
      { index: 1, startS: 30, endS: 60, text: '   ' },
    ]);
    expect(r.text).toBe('First. Third.');
    expect(
      stitch(
        [
          { index: 0, startS: 0, endS: 5, text: 'A dog barks.' },
          { index: 1, startS: 5, endS: 9, text: 'Rain.' },
        ],
        { joiner: 'paragraph' },
      ).text,
    ).toBe('A dog barks.\n\nRain.');
  });
});

describe('cues', () => {
  it('puts each chunk on its own measured range (the real cut points) and none on an empty chunk', () => {
    const r = stitch(
      [
        { index: 0, startS: 0, endS: 29.7, text: 'Hello there.' },
        { index: 1, startS: 29.7, endS: 61.2, text: '' },
        { index: 2, startS: 61.2, endS: 64.05, text: 'Goodbye now.' },
      ],
      { durationS: 64.05 },
    );
    expect(r.cues.map((c) => c.text)).toEqual(['Hello there.', 'Goodbye now.']);
    // "Hello there." alone is longer than 7 s of screen time but cannot be split below a readable phrase.
    expect(r.cues[0]).toEqual({ startS: 0, endS: 29.7, text: 'Hello there.' });
    expect(r.cues[1]).toEqual({ startS: 61.2, endS: 64.05, text: 'Goodbye now.' });
  });

  it('splits dense speech into sentence cues of at most 7 s and two 42-column lines', () => {
    const text =
      'This is the first sentence of a long recording. It goes on with a second sentence that is rather long, ' +
      'with a clause or two, and a third part. Short. Then the speaker talks about the weather, the traffic on the way in, and what happens next.';
    // maxCps 40: this test is about cue length and lines; the reading-speed limit has its own tests.
    const r = stitch([{ index: 0, startS: 10, endS: 22, text }], { durationS: 30, maxCps: 40 });
    checkCues(r.cues, 30);
    expect(r.cues[0].startS).toBe(10);
    expect(r.cues.at(-1)!.endS).toBe(22);
    for (const c of r.cues) {
      expect(c.endS - c.startS).toBeLessThanOrEqual(7);
      const lines = c.text.split('\n');
      expect(lines.length).toBeLessThanOrEqual(2);
      for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(42);
    }
    expect(squash(r.cues.map((c) => c.text).join(''))).toBe(squash(text));
  });

  it('wraps CJK lines by display width (two columns a character)', () => {
    const text = '这是一个非常非常长的句子，用来测试中文字幕的换行是否正确，以及时间是否分配合理。';
    const r = stitch([{ index: 0, startS: 0, endS: 12, text }], { durationS: 12 });
    checkCues(r.cues, 12);
    for (const c of r.cues) for (const l of c.text.split('\n')) expect(displayWidth(l)).toBeLessThanOrEqual(42);
    expect(squash(r.cues.map((c) => c.text).join(''))).toBe(text);
  });

  it('never lets a cue past the duration, even when a chunk claims more', () => {
    const r = stitch([{ index: 0, startS: 0, endS: 10.5, text: 'One. Two. Three.' }], { durationS: 10 });
    checkCues(r.cues, 10);
    expect(r.cues.at(-1)!.endS).toBe(10);
  });

  it('keeps order, bounds and every word for seeded random chunk layouts', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const next = rng(seed);
      const n = 1 + Math.floor(next() * 8);
      const overlapS = next() < 0.4 ? Math.round(next() * 3000) / 1000 : 0;
      const chunks: ChunkText[] = [];
      let t = 0;
      for (let i = 0; i < n; i++) {
        const len = 0.2 + next() * 60;
        const start = Math.max(0, t - overlapS);
        const empty = next() < 0.15;
        chunks.push({
          index: i,
          startS: Math.round(start * 1000) / 1000,
          endS: Math.round((start + len) * 1000) / 1000,
          text: empty ? '' : randomText(next, 1 + Math.floor(next() * len * 3)),
        });
        t = start + len;
      }
      const durationS = Math.round((t - next() * 0.5) * 1000) / 1000; // the probe may be a little shorter than the last cut
      const shuffled = [...chunks].sort(() => next() - 0.5);
      const r = stitch(shuffled, { durationS, overlapS });
      checkCues(r.cues, durationS);
      for (const c of r.cues) {
        const lines = c.text.split('\n');
        const tooLong = c.endS - c.startS > 7.001;
        // Over 7 s only when the text is too short to split into readable phrases.
        if (tooLong) expect(displayWidth(c.text) < 32 || breakPoints(c.text).length === 0).toBe(true);
        if (lines.length > 2) expect(lines.some((l) => breakPoints(l).length === 0 && displayWidth(l) > 42)).toBe(true);
      }
      // Every word of every chunk that got time on screen is in the cues, in order.
      const windowsText = r.chunks
        .filter((c) => c.text && r.cues.length > 0)
        .map((c) => c.text)
        .join('');
      const cueText = squash(r.cues.map((c) => c.text).join(''));
      if (r.chunks.every((c) => c.startS < durationS - 0.01)) expect(cueText).toBe(squash(windowsText));
    }
  });
});

describe('sentences and lines', () => {
  it('does not end a sentence at an abbreviation or an initial', () => {
    expect(splitSentences('Dr. Smith met J. K. Rowling. They talked! 然后呢？好的。')).toEqual([
      'Dr. Smith met J. K. Rowling.',
      'They talked!',
      '然后呢？',
      '好的。',
    ]);
  });
  it('breaks two lines at the most balanced space', () => {
    expect(wrapLines('the quick brown fox jumps over the lazy dog and the cat', 42)).toBe('the quick brown fox jumps\nover the lazy dog and the cat');
    expect(wrapLines('short', 42)).toBe('short');
  });
});
