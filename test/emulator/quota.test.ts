import { describe, expect, it } from 'vitest';
import { TokenQuota, TokenWindow } from '../../src/emulator/quota.ts';
import { startEmulator } from '../../src/emulator/server.ts';
import { media } from '../helpers/paths.ts';
import { CHAT, chatRequest, dataUrl, frames, NATIVE, nativeRequest, post } from './helpers.ts';

describe('TokenWindow (sliding-minute token quota)', () => {
  it('admits up to the quota in any 60 s, refusing what would go over, and frees tokens as they leave the window', () => {
    const w = new TokenWindow(1_000);
    expect(w.admit(0, 600)).toBe(true);
    expect(w.admit(10_000, 400)).toBe(true);
    expect(w.admit(20_000, 1)).toBe(false); // 1,000 used
    expect(w.used(20_000)).toBe(1_000);
    expect(w.admit(59_999, 1)).toBe(false);
    expect(w.admit(60_000, 600)).toBe(true); // the 600 of t=0 left at t=60,000
    expect(w.used(60_000)).toBe(1_000);
    expect(w.admit(69_999, 400)).toBe(false);
    expect(w.admit(70_000, 400)).toBe(true);
    expect(w.used(200_000)).toBe(0);
  });
  it('a refused request counts nothing; a request larger than the quota passes only an empty window', () => {
    const w = new TokenWindow(1_000);
    expect(w.admit(0, 900)).toBe(true);
    expect(w.admit(1, 200)).toBe(false);
    expect(w.used(1)).toBe(900);
    expect(w.admit(2, 5_000)).toBe(false);
    expect(w.admit(60_000, 5_000)).toBe(true);
    expect(w.admit(60_001, 1)).toBe(false);
  });
  it('never admits more than the quota in any sliding minute, under random traffic', () => {
    const w = new TokenWindow(10_000);
    const admitted: { at: number; n: number }[] = [];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let t = 0; t < 600_000; t += Math.floor(rand() * 500)) {
      const n = 1 + Math.floor(rand() * 900);
      if (w.admit(t, n)) admitted.push({ at: t, n });
    }
    for (const a of admitted) {
      const inWindow = admitted.filter((b) => b.at > a.at - 60_000 && b.at <= a.at).reduce((s, b) => s + b.n, 0);
      expect(inWindow).toBeLessThanOrEqual(10_000);
    }
    expect(admitted.reduce((s, a) => s + a.n, 0)).toBeGreaterThan(9 * 10_000 * 0.9); // and it does admit close to it
  });
});

describe('TokenQuota', () => {
  it('meters each model apart and counts refusals', () => {
    const q = new TokenQuota(100);
    expect(q.admit('a', 0, 100)).toBe(true);
    expect(q.admit('b', 0, 100)).toBe(true);
    expect(q.admit('a', 1, 1)).toBe(false);
    expect(q.refused).toBe(1);
    q.reset();
    expect(q.admit('a', 1, 100)).toBe(true);
    expect(q.refused).toBe(0);
  });
});

describe('emulator --tpm', () => {
  const tokensOf = async (r: Response): Promise<number> => {
    const body = await r.text();
    const usage = frames(body)
      .map((f) => f.data)
      .filter((d) => d.includes('"usage"'))
      .map((d) => JSON.parse(d).usage)
      .find((u) => u);
    return usage.total_tokens as number;
  };
  it('answers 429 Throttling.AllocationQuota (insufficient_quota on compat) past the token quota, per model, and counts the refused nothing', async () => {
    const probe = await startEmulator();
    const n = await tokensOf(await post(probe.url, CHAT, chatRequest()));
    await probe.close();
    expect(n).toBeGreaterThan(0);

    const e = await startEmulator({ tpm: Math.floor(2.5 * n) });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await post(e.url, CHAT, chatRequest());
        codes.push(r.status);
        if (r.status === 429) expect(await r.json()).toMatchObject({ error: { code: 'insufficient_quota', type: 'insufficient_quota' } });
        else await r.text();
      }
      expect(codes).toEqual([200, 200, 429]);
      // the native envelope of the same refusal (native serves the captioner only: seeds 001/004). The captioner's
      // quota is its own: its first request fills an empty window, the next one is refused.
      const captioner = nativeRequest(dataUrl(media('whisper__jfk.flac')));
      const tiny = await startEmulator({ tpm: 1 });
      try {
        expect(
          await post(tiny.url, NATIVE, captioner, { 'x-dashscope-sse': 'enable' }).then(async (r) => {
            await r.text();
            return r.status;
          }),
        ).toBe(200);
        const nat = await post(tiny.url, NATIVE, captioner, { 'x-dashscope-sse': 'enable' });
        expect(nat.status).toBe(429);
        expect(await nat.json()).toMatchObject({ code: 'Throttling.AllocationQuota', message: 'Allocated quota exceeded, please increase your quota limit.' });
      } finally {
        await tiny.close();
      }
      // another model has its own quota
      expect((await post(e.url, CHAT, chatRequest({ model: 'qwen-omni-turbo' }))).status).toBe(200);
      expect(e.stats()).toMatchObject({ completed: 3, byStatus: { 200: 3, 429: 1 } });
      expect((await fetch(`${e.url}/stats/reset`, { method: 'POST' })).status).toBe(200);
      expect((await post(e.url, CHAT, chatRequest())).status).toBe(200); // reset clears the window too
    } finally {
      await e.close();
    }
  });
});
