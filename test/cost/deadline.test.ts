import { describe, expect, it } from 'vitest';
import { chunkLadder, longestChunkS, parseDeadline, planForDeadline } from '../../src/cost/deadline.ts';
import { OmniError } from '../../src/util/errors.ts';

const now = new Date('2026-12-01T22:00:00Z');
const H = 3600;
// 10,000 audio-minutes: 250 files of 40 minutes.
const archive = Array.from({ length: 250 }, (_, i) => ({ uri: `f${i}.mp3`, durationS: 2400 }));
const caption = { model: 'qwen3-omni-30b-a3b-captioner', region: 'intl' as const, task: 'caption' as const, concurrency: 64, latency: 5 };

describe('parseDeadline', () => {
  it('reads durations, times of day and ISO instants', () => {
    expect(parseDeadline('8h', now).toISOString()).toBe('2026-12-02T06:00:00.000Z');
    expect(parseDeadline('1h30m', now).toISOString()).toBe('2026-12-01T23:30:00.000Z');
    expect(parseDeadline('2026-12-02T06:00:00Z', now).toISOString()).toBe('2026-12-02T06:00:00.000Z');
    const six = parseDeadline('06:00', now); // local time: the next 06:00 after now
    expect(six.getHours()).toBe(6);
    expect(six.getMinutes()).toBe(0);
    expect(six.getTime() - now.getTime()).toBeGreaterThan(0);
    expect(six.getTime() - now.getTime()).toBeLessThanOrEqual(24 * H * 1000);
  });
  it('refuses nonsense and the past with a coded error', () => {
    for (const bad of ['soon', '25:00', '2026-11-30T00:00:00Z', '0h']) {
      expect(() => parseDeadline(bad, now)).toThrow(expect.objectContaining({ code: 'deadline_invalid', retryable: false }));
    }
  });
});

describe('chunk ladder and limits', () => {
  it('climbs from the shortest to the model limit', () => {
    expect(chunkLadder(30, 180)).toEqual([30, 45, 60, 90, 120, 180]);
    expect(chunkLadder(300, 200)).toEqual([200]);
  });
  it('caps chunks at the model media limit and its input-token ceiling', () => {
    expect(longestChunkS('qwen3-omni-30b-a3b-captioner', 'caption')).toBe(2400); // 40 min; 32,768 tokens / 12.5 = 2621 s
    expect(longestChunkS('qwen-omni-turbo', 'transcribe')).toBe(180); // 3 min of audio
    expect(longestChunkS('qwen3-omni-flash', 'describe')).toBe(150); // video chunks
  });
});

describe('planForDeadline', () => {
  it('keeps 30-s chunks when they finish in time (10,000 audio-minutes at 60 RPM: 20,000 requests, 5 h 33 min)', () => {
    const p = planForDeadline(archive, { ...caption, rpm: 60, tpm: 1_000_000, deadline: parseDeadline('8h', now), now });
    expect(p.chunkSeconds).toBe(30);
    expect(p.lengthened).toBe(false);
    expect(p.estimate.requests).toBe(20_000);
    expect(p.estimate.wall.binding).toBe('rpm');
    expect(p.predictedFinish.getTime() - now.getTime()).toBe(20_000 * 1000); // 20,000 requests at 1/s
  });

  it('lengthens the chunks when 30-s ones cannot finish, and says so', () => {
    // At 30 RPM, 20,000 requests need 11 h 7 min > 8 h; 45-s chunks: 13,334 requests, 7 h 25 min.
    const p = planForDeadline(archive, { ...caption, rpm: 30, tpm: 1_000_000, deadline: parseDeadline('8h', now), now });
    expect(p.chunkSeconds).toBe(45);
    expect(p.lengthened).toBe(true);
    expect(p.tried.map((r) => r.chunkSeconds)).toEqual([30, 45]);
    expect(p.tried[0].wallSeconds).toBeGreaterThan(8 * H);
    expect(p.estimate.requests).toBe(250 * Math.ceil(2400 / 45));
    expect(p.predictedFinish.getTime()).toBeLessThanOrEqual(now.getTime() + 8 * H * 1000);
    expect(p.note).toMatch(/30-s chunks would take 11 h 7 min \(bound by rpm\): 45-s chunks/);
    // a tighter deadline takes longer chunks still: the most detail that still finishes
    const tight = planForDeadline(archive, { ...caption, rpm: 30, tpm: 1_000_000, deadline: parseDeadline('3h', now), now });
    expect(tight.chunkSeconds).toBe(120);
    expect(tight.tried.at(-2)!.wallSeconds).toBeGreaterThan(3 * H);
  });

  it('refuses a deadline no chunk length can meet, naming the earliest finish', () => {
    // 7.5 M audio tokens at 100,000 TPM take 75 min whatever the chunk length.
    let err: OmniError | undefined;
    try {
      planForDeadline(archive, { ...caption, rpm: 60, tpm: 100_000, deadline: parseDeadline('1h', now), now });
    } catch (e) {
      err = e as OmniError;
    }
    expect(err).toBeInstanceOf(OmniError);
    expect(err!.code).toBe('deadline_unreachable');
    expect(err!.retryable).toBe(false);
    const earliest = new Date(String(err!.details!.earliest_finish));
    expect(earliest.getTime() - now.getTime()).toBeGreaterThan(75 * 60 * 1000);
    expect(err!.details!.binding).toBe('tpm');
    expect(err!.message).toContain(earliest.toISOString());
    // and that earliest finish is itself achievable
    const ok = planForDeadline(archive, { ...caption, rpm: 60, tpm: 100_000, deadline: new Date(earliest.getTime() + 1000), now });
    expect(ok.predictedFinish.getTime()).toBe(earliest.getTime());
  });

  it('never goes below the shortest asked for, nor above the model limit', () => {
    const p = planForDeadline([{ durationS: 600 }], { ...caption, rpm: 60, deadline: parseDeadline('8h', now), now, shortestS: 90 });
    expect(p.chunkSeconds).toBe(90);
    expect(p.estimate.requests).toBe(7);
  });
});
