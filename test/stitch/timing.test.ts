/** Cues over measured speech (stitch/timing.ts), the reading-speed limit (stitch/reading.ts), speech intervals (media/speech.ts). */
import { describe, expect, it } from 'vitest';
import { speechIntervals } from '../../src/media/speech.ts';
import { type Cue, stitch } from '../../src/stitch/index.ts';
import { cueCps, fitReadingSpeed } from '../../src/stitch/reading.ts';
import { alignToPauses, placeOverSpeech, splitByShares } from '../../src/stitch/timing.ts';
import { seededRandom } from '../../src/util/random.ts';

const overlapS = (c: Cue, a: number, b: number): number => Math.max(0, Math.min(c.endS, b) - Math.max(c.startS, a));

describe('speech intervals', () => {
  it('are the chunk minus its silences, clipped to the cut points; no silence: all speech; all silence: none', () => {
    const silences = [
      { startS: 0, endS: 1.2 },
      { startS: 4, endS: 9 },
      { startS: 12.5, endS: 20 },
    ];
    expect(speechIntervals(0, 15, silences)).toEqual([
      [1.2, 4],
      [9, 12.5],
    ]);
    expect(speechIntervals(10, 13, silences)).toEqual([[10, 12.5]]);
    expect(speechIntervals(0, 3, [])).toEqual([[0, 3]]);
    expect(speechIntervals(5, 8, silences)).toEqual([]);
  });
});

describe('text over speech', () => {
  it('starts each sentence where the speech after a pause starts, though the text alone would put it elsewhere', () => {
    // A short sentence said slowly, a long one said fast: proportional sharing would cut at ~3.4 s.
    const pieces = ['Well.', 'Then the quick brown fox jumps over the lazy dog again.'];
    const spans: [number, number][] = [
      [1000, 2500],
      [4000, 8000],
    ];
    expect(alignToPauses(pieces, spans)).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    const placed = placeOverSpeech(pieces, spans);
    expect(placed.map((p) => [p.startMs, p.endMs])).toEqual([
      [1000, 2500],
      [4000, 8000],
    ]);
  });

  it('a breath inside a sentence is not taken for a sentence end', () => {
    const pieces = ['One two three four, five six seven eight.', 'Nine ten.'];
    // A 0.3-s pause at the comma, a 2-s pause after the sentence.
    const spans: [number, number][] = [
      [0, 1500],
      [1800, 3300],
      [5300, 6000],
    ];
    const placed = placeOverSpeech(pieces, spans);
    expect(placed).toEqual([
      { text: 'One two three four, five six seven eight.', startMs: 0, endMs: 3300 },
      { text: 'Nine ten.', startMs: 5300, endMs: 6000 },
    ]);
  });

  it('a piece across a long pause is cut there: no cue covers the pause', () => {
    const placed = placeOverSpeech(
      ['alpha beta gamma delta epsilon zeta'],
      [
        [0, 2000],
        [6000, 8000],
      ],
    );
    expect(placed).toHaveLength(2);
    expect(placed[0]).toMatchObject({ startMs: 0, endMs: 2000 });
    expect(placed[1]).toMatchObject({ startMs: 6000, endMs: 8000 });
    expect(`${placed[0].text} ${placed[1].text}`).toBe('alpha beta gamma delta epsilon zeta');
  });

  it('a 45-minute chunk: 400 sentences at speaking rates 25% apart, breaths at commas, each starts on its own speech', () => {
    const next = seededRandom(7);
    const pieces: string[] = [];
    const spans: [number, number][] = [];
    const starts: number[] = [];
    let t = 500;
    for (let i = 0; i < 400; i++) {
      const words = 4 + Math.floor(next() * 8);
      const half = Array.from({ length: words }, (_, w) => ['council', 'bridge', 'summer', 'river', 'market', 'museum'][(i + w) % 6]).join(' ');
      const text = `${half[0].toUpperCase()}${half.slice(1)}, and ${half}.`;
      pieces.push(text);
      // ~70 ms a letter, the rate off by up to 25% either way; a 300-ms breath at the comma; 0.6-2.5 s between sentences.
      const perLetter = 70 * (0.75 + next() * 0.5);
      const first = Math.round(half.replace(/\s/gu, '').length * perLetter);
      const second = Math.round(`and ${half}`.replace(/\s/gu, '').length * perLetter);
      starts.push(t);
      spans.push([t, t + first]);
      spans.push([t + first + 300, t + first + 300 + second]);
      t += first + 300 + second + 600 + Math.round(next() * 1900);
    }
    const placed = placeOverSpeech(pieces, spans);
    const cueStarts = placed.map((p) => p.startMs);
    for (const s of starts) expect(cueStarts).toContain(s);
    expect(placed.map((p) => p.text).join(' ')).toBe(pieces.join(' '));
  });

  it('splits text at word breaks by shares of speaking weight', () => {
    expect(splitByShares('aaaa bbbb cccc dddd', [0.5, 0.5])).toEqual(['aaaa bbbb', 'cccc dddd']);
    expect(splitByShares('word', [0.5, 0.5])).toEqual(['word', '']);
  });

  it('stitch: a chunk with speech intervals keeps its cues on them; the same chunk without spreads over its range', () => {
    const chunk = { index: 0, startS: 0, endS: 30, text: 'Good evening. Here is the news.' };
    const speech: [number, number][] = [
      [2, 3.2],
      [20, 22],
    ];
    const timed = stitch([{ ...chunk, speech }], { durationS: 30 }).cues;
    expect(timed.map((c) => [c.startS, c.endS])).toEqual([
      [2, 3.2],
      [20, 22],
    ]);
    const spread = stitch([chunk], { durationS: 30 }).cues;
    expect(spread.reduce((n, c) => n + overlapS(c, 3.2, 20), 0)).toBeGreaterThan(10);
  });
});

describe('reading speed', () => {
  const opts = (maxCps: number, durationMs = 60_000) => ({ maxCps, durationMs, fits: (t: string) => t.length <= 84, wrap: (t: string) => t });

  it('a cue too fast takes the free time after it, then before it', () => {
    const out = fitReadingSpeed([{ startS: 5, endS: 6, text: 'x'.repeat(40) }], opts(20));
    expect(out).toEqual([{ startS: 5, endS: 7, text: 'x'.repeat(40) }]);
    const boxed = fitReadingSpeed(
      [
        { startS: 0, endS: 4.5, text: 'a' },
        { startS: 5, endS: 6, text: 'x'.repeat(40) },
        { startS: 6.2, endS: 9, text: 'b' },
      ],
      opts(20),
    );
    // 0.2 s after, 0.5 s before, then 0.3 s of the slow neighbour's time after it (which starts later).
    expect(boxed[1]).toEqual({ startS: 4.5, endS: 6.5, text: 'x'.repeat(40) });
    expect(boxed[2]).toEqual({ startS: 6.5, endS: 9, text: 'b' });
    for (const c of boxed) expect(cueCps(c)).toBeLessThanOrEqual(20);
  });

  it('with no time to take, a cue is merged with a neighbour rather than flashed', () => {
    const out = fitReadingSpeed(
      [
        { startS: 0, endS: 2, text: 'x'.repeat(38) },
        { startS: 2, endS: 2.5, text: 'y'.repeat(20) },
      ],
      opts(20, 2500),
    );
    expect(out).toEqual([{ startS: 0, endS: 2.5, text: `${'x'.repeat(38)} ${'y'.repeat(20)}` }]);
    expect(cueCps(out[0])).toBeLessThanOrEqual(24);
  });

  it("stitch: a short last chunk's text shares its neighbour's time (no cue above the limit, default 20; settable)", () => {
    const chunks = [
      { index: 0, startS: 0, endS: 29, text: 'The first part is said slowly.' },
      { index: 1, startS: 29, endS: 30, text: 'And then a whole sentence lands in the last second.' },
    ];
    for (const maxCps of [20, 17]) {
      const cues = stitch(chunks, { durationS: 30, maxCps }).cues;
      for (const c of cues) expect(cueCps(c)).toBeLessThanOrEqual(maxCps);
      expect(cues.map((c) => c.text).join(' ')).toContain('whole sentence');
    }
  });
});
