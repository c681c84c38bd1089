import { describe, expect, it } from 'vitest';
import { estimateChunkCost, estimateChunkInputTokens, estimateRun, wallTime } from '../../src/cost/estimate.ts';

describe('estimateRun', () => {
  // Captioner, Singapore prices: audio in $3.81/M, text out $3.06/M; 12.5 audio tokens/s, < 1 s counts as 1 s; no prompt.
  const est = estimateRun(
    [
      { uri: 'a.mp3', durationS: 65, chunkSeconds: [30, 30, 5] },
      { uri: 'b.wav', durationS: 0.4, chunks: 1 },
    ],
    { model: 'qwen3-omni-30b-a3b-captioner', region: 'intl', task: 'caption', concurrency: 2, rpm: 60, tpm: 100_000 },
  );

  it('counts input tokens by the documented rules', () => {
    // 30 s -> 375, 30 s -> 375, 5 s -> ceil(62.5) = 63, 0.4 s -> 1 s -> ceil(12.5) = 13
    expect(est.input).toEqual({ text: 0, audio: 826, image: 0, video: 0, total: 826 });
    expect(est.perFile.map((f) => f.input.audio)).toEqual([813, 13]);
    expect(est.requests).toBe(4);
    expect(est.files).toBe(2);
    expect(est.mediaSeconds).toBe(65.4);
  });

  it('applies the caption output prior (low 20+0.5/s, expected 60+4/s, high 120+8/s, rounded up per request)', () => {
    // expected: 180 + 180 + 80 + ceil(61.6) = 502; low: 35 + 35 + ceil(22.5) + ceil(20.2) = 114; high: 360 + 360 + 160 + ceil(123.2) = 1004
    expect(est.output).toEqual({ low: 114, expected: 502, high: 1004 });
  });

  it('prices each request in micro-units and sums them', () => {
    // expected per request, (audio x 3.81 + out x 3.06) micro-USD rounded:
    //   375/180 -> 1428.75 + 550.8 = 1979.55 -> 1980 (twice); 63/80 -> 240.03 + 244.8 -> 485; 13/62 -> 49.53 + 189.72 -> 239
    expect(est.cost.expected).toEqual({ amountMicros: 1980 + 1980 + 485 + 239, currency: 'USD', priced: true });
    // low: 375/35 -> 1428.75 + 107.1 -> 1536 (twice); 63/23 -> 240.03 + 70.38 -> 310; 13/21 -> 49.53 + 64.26 -> 114
    expect(est.cost.low.amountMicros).toBe(1536 + 1536 + 310 + 114);
    // high: 375/360 -> 1428.75 + 1101.6 -> 2530 (twice); 63/160 -> 240.03 + 489.6 -> 730; 13/124 -> 49.53 + 379.44 -> 429
    expect(est.cost.high.amountMicros).toBe(2530 + 2530 + 730 + 429);
    expect(est.perFile[1].cost.expected.amountMicros).toBe(239);
  });

  it('takes the longest of concurrency, RPM and TPM as the wall time', () => {
    // latency 2 s + 0.02 s per input second + expected output / 50 tok/s:
    //   30 s: 2 + 0.6 + 3.6 = 6.2 (twice); 5 s: 2 + 0.1 + 1.6 = 3.7; 0.4 s: 2 + 0.008 + 1.24 = 3.248 -> 19.348 / 2 slots
    expect(est.wall.byConstraint.concurrency).toBeCloseTo(9.674, 9);
    expect(est.wall.byConstraint.rpm).toBe(4); // 4 requests at 60/min
    expect(est.wall.byConstraint.tpm).toBeCloseTo(0.7968, 9); // 826 input + 502 expected output tokens at 100,000/min
    expect(est.wall.binding).toBe('concurrency');
    expect(est.wall.seconds).toBeCloseTo(9.674, 9);
  });

  it('reproduces docs/architecture.md ("Rate limits"): an hour in 30 s chunks at 60 RPM needs two minutes; in 40-minute chunks TPM binds', () => {
    const short = estimateRun([{ durationS: 3600, chunks: 120 }], {
      model: 'qwen3-omni-30b-a3b-captioner',
      region: 'intl',
      task: 'caption',
      concurrency: 100,
      rpm: 60,
      tpm: 100_000,
      latency: 5,
    });
    expect(short.wall).toMatchObject({ seconds: 120, binding: 'rpm' });
    // 10 hours in 40-minute chunks: 15 requests (15 s at 60 RPM) but 450,000 audio tokens in and 15 x (60 + 4 x 2400)
    // = 144,900 expected out (DashScope counts both): 594,900 tokens, 356.94 s at 100,000 TPM
    const long = estimateRun([{ durationS: 36_000, chunkSeconds: Array(15).fill(2400) }], {
      model: 'qwen3-omni-30b-a3b-captioner',
      region: 'intl',
      task: 'caption',
      concurrency: 100,
      rpm: 60,
      tpm: 100_000,
      latency: 5,
    });
    expect(long.input.audio).toBe(450_000);
    expect(long.wall.binding).toBe('tpm');
    expect(long.wall.seconds).toBeCloseTo(356.94, 9);
  });

  it('counts the prompt per request and video frames for video tasks, and says unpriced when there is no price', () => {
    const prompt = 'abcdefgh'; // 2 text tokens
    const v = estimateRun([{ durationS: 20, chunks: 2, video: { width: 640, height: 360 } }], {
      model: 'qwen3-omni-flash',
      region: 'cn',
      task: 'describe',
      prompt,
    });
    expect(v.input.text).toBe(4);
    expect(v.input.audio).toBe(250);
    // 10 s at 2 fps = 20 frames; 640x360 -> 640x352 (whole 32-px patches) = 20 x 11 patches; ceil(20/2) x 220 + 2 = 2202 per chunk
    expect(v.input.video).toBe(4404);
    const unpriced = estimateRun([{ durationS: 60 }], { model: 'qwen3.5-omni-plus', region: 'intl', task: 'transcribe' });
    expect(unpriced.cost.expected).toEqual({ amountMicros: 0, currency: null, priced: false });
    expect(() => estimateRun([{ durationS: 1 }], { model: 'nope', region: 'intl', task: 'caption' })).toThrow(
      expect.objectContaining({ code: 'model_unknown' }),
    );
  });

  it('wallTime picks RPM when no concurrency bound is tighter', () => {
    expect(wallTime(10, 0, 1, { concurrency: 8, rpm: 6 })).toEqual({ seconds: 100, binding: 'rpm', byConstraint: { concurrency: 0.125, rpm: 100, tpm: null } });
  });
});

describe('estimateChunkCost (budget reservation)', () => {
  it('is the high prior with exact input tokens, and never above a request output cap', () => {
    // 30 s caption chunk: 375 audio, high output 360 -> 2530 micro-USD (see above)
    expect(estimateChunkCost(30, { model: 'qwen3-omni-30b-a3b-captioner', region: 'intl', task: 'caption' })).toEqual({
      amountMicros: 2530,
      currency: 'USD',
      priced: true,
    });
    // capped at 100 output tokens: 1428.75 + 306 -> 1735
    expect(estimateChunkCost(30, { model: 'qwen3-omni-30b-a3b-captioner', region: 'intl', task: 'caption', maxOutputTokens: 100 }).amountMicros).toBe(1735);
    expect(estimateChunkInputTokens(30, { model: 'qwen3-omni-30b-a3b-captioner', region: 'intl', task: 'caption' })).toBe(375);
  });

  it('prices spoken output as audio tokens (its text is free)', () => {
    // speak, flash, intl: prompt text tokens + 10 s audio (125); high 200 text -> 667 audio tokens out at $15.11/M
    const c = estimateChunkCost(10, { model: 'qwen3-omni-flash', region: 'intl', task: 'speak' });
    const promptTokens = estimateChunkInputTokens(10, { model: 'qwen3-omni-flash', region: 'intl', task: 'speak' }) - 125;
    expect(c.amountMicros).toBe(Math.round((promptTokens * 430_000 + 125 * 3_810_000 + 667 * 15_110_000) / 1e6));
  });
});
