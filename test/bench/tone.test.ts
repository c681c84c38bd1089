/** The hostile scenario's canary detector (bench/lib/tone.ts): finds the tone, even briefly, and nothing else. */
import { describe, expect, it } from 'vitest';
import { toneShare } from '../../bench/lib/tone.ts';

const RATE = 16_000;
const tone = (hz: number, s: number, amp = 0.5): number[] =>
  Array.from({ length: Math.round(RATE * s) }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / RATE));
/** Seeded noise in [-amp, amp] (an LCG: reproducible). */
const noise = (s: number, amp = 0.3, seed = 7): number[] => {
  let x = seed;
  return Array.from({ length: Math.round(RATE * s) }, () => {
    x = (x * 1664525 + 1013904223) >>> 0;
    return amp * ((x / 2 ** 32) * 2 - 1);
  });
};
const pcm = (samples: number[]): Int16Array => Int16Array.from(samples, (v) => Math.round(v * 32767));

describe('toneShare', () => {
  it('a pure 1234 Hz tone scores about 1', () => {
    expect(toneShare(pcm(tone(1234, 3)), 1234)).toBeGreaterThan(0.95);
  });

  it('other tones, noise and silence score near 0', () => {
    expect(toneShare(pcm(tone(440, 3)), 1234)).toBeLessThan(0.01);
    expect(toneShare(pcm(tone(1200, 3)), 1234)).toBeLessThan(0.01);
    expect(toneShare(pcm(noise(3)), 1234)).toBeLessThan(0.02);
    expect(toneShare(pcm(new Array(RATE * 3).fill(0)), 1234)).toBe(0);
  });

  it('one second of the tone inside ten of other sound is found', () => {
    const mixed = [...noise(5), ...tone(1234, 1), ...tone(440, 4)];
    expect(toneShare(pcm(mixed), 1234)).toBeGreaterThan(0.5);
    // ... and quieter than the rest
    const quiet = [...tone(440, 5, 0.5), ...tone(1234, 1, 0.1).map((v, i) => v + 0.05 * Math.sin((2 * Math.PI * 300 * i) / RATE)), ...tone(440, 4, 0.5)];
    expect(toneShare(pcm(quiet), 1234)).toBeGreaterThan(0.5);
  });

  it('a clip shorter than one window scores 0 (nothing to measure)', () => {
    expect(toneShare(pcm(tone(1234, 0.2)), 1234)).toBe(0);
  });
});
