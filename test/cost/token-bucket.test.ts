import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rpmSlotKey, TokenBucket, tpmBucketKey } from '../../src/cost/token-bucket.ts';
import { dropKeys, testRedis } from '../helpers/redis.ts';

const prefix = `test-tpm-${randomUUID()}`;
let redis: Redis;
let bucket: TokenBucket;
const key = (name: string): string => tpmBucketKey(prefix, name);

beforeAll(() => {
  redis = testRedis({ maxRetriesPerRequest: 3 });
  bucket = new TokenBucket(redis, 60_000);
});
afterAll(async () => {
  await dropKeys(redis, prefix);
  await redis.quit();
});

const T0 = 1_700_000_000_000;

describe('TPM reservations (sliding-minute window in Redis)', () => {
  it('admits up to tpm in any window and says when the oldest reservations leave it', async () => {
    const k = key('window');
    const a = await bucket.reserve(k, 60_000, 100_000, { nowMs: T0 });
    expect(a).toMatchObject({ ok: true, used: 60_000 });
    expect(await bucket.reserve(k, 40_000, 100_000, { nowMs: T0 + 10_000 })).toMatchObject({ ok: true, used: 100_000 });
    // full: 5,000 more need the first 60,000 (reserved at T0) to leave, at T0 + 60,000
    expect(await bucket.reserve(k, 5_000, 100_000, { nowMs: T0 + 20_000 })).toEqual({ ok: false, waitMs: 40_001, used: 100_000, reserved: 5_000 });
    expect(await bucket.reserve(k, 5_000, 100_000, { nowMs: T0 + 60_001 })).toMatchObject({ ok: true, used: 45_000 });
    // 80,000 more need the 40,000 of T0 + 10,000 gone too
    expect(await bucket.reserve(k, 80_000, 100_000, { nowMs: T0 + 60_002 })).toEqual({ ok: false, waitMs: 9_999, used: 45_000, reserved: 80_000 });
    expect(await bucket.used(k)).toBe(45_000);
  });

  it("spreads waiters at the quota's pace, so they come back one by one", async () => {
    const k = key('waiters');
    expect((await bucket.reserve(k, 100_000, 100_000, { nowMs: T0 })).ok).toBe(true);
    // each 10,000 takes 6 s of a 100,000-a-minute quota: the first waits for the window, the next 6 s more each
    const waits = [];
    for (let i = 0; i < 3; i++) waits.push((await bucket.reserve(k, 10_000, 100_000, { nowMs: T0 + 1_000 })) as { ok: false; waitMs: number });
    expect(waits.map((w) => w.waitMs)).toEqual([59_001, 65_001, 71_001]);
    // a waiter told to come back later than the window needs still gets in when there is room
    expect((await bucket.reserve(k, 10_000, 100_000, { nowMs: T0 + 60_001 })).ok).toBe(true);
  });

  it('paces waiters by what requests will really use: the input alone, then with the mean learnt output', async () => {
    const k = key('waiters-learnt');
    const ask = (nowMs: number, waiter?: string) =>
      bucket.reserve(k, 10_000, 100_000, { nowMs, output: { tokens: 4_000, task: 'transcribe' }, ...(waiter && { waiter }) });
    // nothing learnt: the waiters are paced by their 6,000 input tokens (3.6 s of a 100,000-a-minute quota),
    // though each reserves its whole 10,000: early rather than late, as the times handed out are final
    expect((await bucket.reserve(k, 100_000, 100_000, { nowMs: T0 })).ok).toBe(true);
    const first = [];
    for (let i = 0; i < 3; i++) first.push((await ask(T0 + 1_000)) as { ok: false; waitMs: number });
    expect(first.map((w) => w.waitMs)).toEqual([59_001, 62_601, 66_201]);

    const k2 = key('waiters-learnt-2');
    const ask2 = (nowMs: number) => bucket.reserve(k2, 10_000, 100_000, { nowMs, output: { tokens: 4_000, task: 'transcribe' } });
    for (let i = 0; i < 3; i++) {
      const r = await ask2(T0);
      if (!r.ok) throw new Error('not admitted');
      await bucket.settle(k2, r.id, 6_400, { tokens: 4_000, actual: 400, task: 'transcribe' });
    }
    // learnt: 10 % of the prior on average; reserved with the margin (1.5 x 10 % + 5 %: 800), paced by the mean
    // (6,400: 3.84 s apart)
    expect((await bucket.reserve(k2, 100_000 - 3 * 6_400, 100_000, { nowMs: T0 })).ok).toBe(true);
    const learnt = [];
    for (let i = 0; i < 3; i++) learnt.push((await ask2(T0 + 1_000)) as { ok: false; waitMs: number; reserved: number });
    expect(learnt.map((w) => w.reserved)).toEqual([6_800, 6_800, 6_800]);
    expect(learnt.map((w) => w.waitMs)).toEqual([59_001, 62_841, 66_681]);
  });

  it('gives a waiter back too early the next freeing, not a place at the end of the line', async () => {
    const k = key('waiters-early');
    const ask = (nowMs: number, waiter?: string) => bucket.reserve(k, 10_000, 100_000, { nowMs, ...(waiter && { waiter }) });
    for (let i = 0; i < 5; i++) expect((await bucket.reserve(k, 20_000, 100_000, { nowMs: T0 + i * 10_000 })).ok).toBe(true);
    // four waiters: the first for the first freeing (T0 + 60 s), the others paced 6 s apart
    const waits = [];
    for (const w of ['a', 'b', 'c', 'd']) waits.push(((await ask(T0 + 50_000, w)) as { waitMs: number }).waitMs);
    expect(waits).toEqual([10_001, 16_001, 22_001, 28_001]);
    expect((await ask(T0 + 60_001, 'a')).ok).toBe(true);
    expect((await ask(T0 + 60_002)).ok).toBe(true); // someone else takes the rest of that freeing
    // b is back at its time and the window is full: it is told the next freeing (T0 + 70 s), not the cursor's
    // end of the line (T0 + 84 s), where a new waiter goes
    expect(await ask(T0 + 66_001, 'b')).toMatchObject({ ok: false, waitMs: 4_000 });
    expect(await ask(T0 + 66_001, 'e')).toMatchObject({ ok: false, waitMs: 18_000 });
    expect((await ask(T0 + 70_001, 'b')).ok).toBe(true);
  });

  it('settles to the real usage: more takes the difference (others wait), less gives it back', async () => {
    const k = key('settle');
    const r = await bucket.reserve(k, 10_000, 20_000, { nowMs: T0 });
    if (!r.ok) throw new Error('not admitted');
    expect(await bucket.settle(k, r.id, 18_000)).toBe(18_000);
    expect((await bucket.reserve(k, 5_000, 20_000, { nowMs: T0 + 1 })).ok).toBe(false);
    expect(await bucket.settle(k, r.id, 4_000)).toBe(4_000);
    expect((await bucket.reserve(k, 5_000, 20_000, { nowMs: T0 + 2 })).ok).toBe(true);
    expect(await bucket.used(k)).toBe(9_000);
  });

  it('learns what a task really outputs: once a few requests settled, the output prior is scaled down to it', async () => {
    const k = key('learn');
    const transcribe = { tokens: 900, task: 'transcribe' };
    const caption = { tokens: 170, task: 'caption' };
    const ids: string[] = [];
    // before anything settled, the whole prior is reserved
    for (let i = 0; i < 3; i++) {
      const r = await bucket.reserve(k, 3_750 + 900, 100_000, { nowMs: T0, output: transcribe });
      if (!r.ok) throw new Error('not admitted');
      expect(r.reserved).toBe(4_650);
      ids.push(r.id);
    }
    // two settled transcripts of 45 tokens (5 % of the prior): not enough to learn from yet
    for (const id of ids.slice(0, 2)) await bucket.settle(k, id, 3_750 + 45, { ...transcribe, actual: 45 });
    expect((await bucket.reserve(k, 4_650, 100_000, { nowMs: T0, output: transcribe })).reserved).toBe(4_650);
    // a refund says nothing about outputs
    await bucket.refund(k, ids[2]);
    expect((await bucket.reserve(k, 4_650, 100_000, { nowMs: T0, output: transcribe })).reserved).toBe(4_650);
    // the third: the output part becomes 1.5 x 5 % + 5 % = 12.5 % of the prior (113 of 900)
    const r = await bucket.reserve(k, 4_650, 100_000, { nowMs: T0, output: transcribe });
    if (!r.ok) throw new Error('not admitted');
    await bucket.settle(k, r.id, 3_750 + 45, { ...transcribe, actual: 45 });
    expect((await bucket.reserve(k, 4_650, 100_000, { nowMs: T0 + 1, output: transcribe })).reserved).toBe(3_750 + 113);
    // learnt per task: captions still reserve their whole prior; a request without a prior reserves what it asks
    expect((await bucket.reserve(k, 350 + 170, 100_000, { nowMs: T0 + 1, output: caption })).reserved).toBe(520);
    expect((await bucket.reserve(k, 4_650, 100_000, { nowMs: T0 + 1 })).reserved).toBe(4_650);
    // outputs larger than the prior: never more than the prior is reserved
    for (let i = 0; i < 3; i++) {
      const c = await bucket.reserve(k, 520, 100_000, { nowMs: T0 + 2, output: caption });
      if (!c.ok) throw new Error('not admitted');
      await bucket.settle(k, c.id, 350 + 400, { ...caption, actual: 400 });
    }
    expect((await bucket.reserve(k, 520, 100_000, { nowMs: T0 + 3, output: caption })).reserved).toBe(520);
  });

  it('follows the recent outputs: a task whose outputs grow is reserved more again', async () => {
    const k = key('learn-drift');
    const prior = { tokens: 1_000, task: 'transcribe' };
    const settleMany = async (n: number, actual: number) => {
      for (let i = 0; i < n; i++) {
        const r = await bucket.reserve(k, 5_000, 10_000_000, { nowMs: T0, output: prior });
        if (!r.ok) throw new Error('not admitted');
        await bucket.settle(k, r.id, 4_000 + actual, { ...prior, actual });
      }
    };
    await settleMany(10, 0);
    expect((await bucket.reserve(k, 5_000, 10_000_000, { nowMs: T0, output: prior })).reserved).toBe(4_000 + 50);
    // speech after silence: the sums are halved as they grow, so the share climbs back within a few hundred
    await settleMany(400, 600);
    const after = (await bucket.reserve(k, 5_000, 10_000_000, { nowMs: T0, output: prior })).reserved - 4_000;
    expect(after).toBeGreaterThan(900);
  });

  it('dates a reservation the provider admitted later than usual by the difference: the window keeps it as long', async () => {
    const k = key('redated');
    // requests usually reach the provider 300 ms after their reservation: that cancels out, nothing moves
    for (let i = 0; i < 3; i++) {
      const r = await bucket.reserve(k, 1_000, 100_000, { nowMs: T0 });
      if (!r.ok) throw new Error('not admitted');
      await bucket.settle(k, r.id, 1_000, undefined, 300);
    }
    expect((await bucket.reserve(k, 97_000, 100_000, { nowMs: T0 + 60_001 })).ok).toBe(true);
    // this one took 2.3 s (a slow upload): 2 s later than usual (less 1/20 of it, as the usual mark creeps up)
    const k2 = key('redated-2');
    for (let i = 0; i < 3; i++) {
      const r = await bucket.reserve(k2, 1, 100_000, { nowMs: T0 });
      await bucket.settle(k2, (r as { id: string }).id, 1, undefined, 300);
    }
    const slow = await bucket.reserve(k2, 99_997, 100_000, { nowMs: T0 });
    if (!slow.ok) throw new Error('not admitted');
    await bucket.settle(k2, slow.id, 99_997, undefined, 2_300);
    expect(await bucket.reserve(k2, 99_997, 100_000, { nowMs: T0 + 60_001 })).toMatchObject({ ok: false, waitMs: 1_900 });
    expect((await bucket.reserve(k2, 99_997, 100_000, { nowMs: T0 + 61_901 })).ok).toBe(true);
  });

  it('a failed request gives back what it never used at once, not when the minute has passed', async () => {
    const k = key('refund');
    const r = await bucket.reserve(k, 20_000, 20_000, { nowMs: T0 });
    expect(r.ok).toBe(true);
    expect((await bucket.reserve(k, 1_000, 20_000, { nowMs: T0 + 100 })).ok).toBe(false);
    expect(await bucket.refund(k, (r as { id: string }).id)).toBe(0);
    expect(await bucket.reserve(k, 20_000, 20_000, { nowMs: T0 + 200 })).toMatchObject({ ok: true, used: 20_000 });
  });

  it('a reservation that left the window settles to nothing', async () => {
    const k = key('late');
    const r = await bucket.reserve(k, 1_000, 20_000, { nowMs: T0 });
    await bucket.reserve(k, 1, 20_000, { nowMs: T0 + 120_000 }); // expires the first
    expect(await bucket.settle(k, (r as { id: string }).id, 5_000)).toBeUndefined();
    expect(await bucket.used(k)).toBe(1);
  });

  it('lets a request larger than tpm into an empty window only', async () => {
    const k = key('huge');
    expect((await bucket.reserve(k, 1_000, 60_000, { nowMs: T0 })).ok).toBe(true);
    expect(await bucket.reserve(k, 90_000, 60_000, { nowMs: T0 + 1 })).toEqual({ ok: false, waitMs: 60_000, used: 1_000, reserved: 90_000 });
    expect(await bucket.reserve(k, 90_000, 60_000, { nowMs: T0 + 60_001 })).toMatchObject({ ok: true, used: 90_000 });
    expect(await bucket.reserve(k, 1, 60_000, { nowMs: T0 + 60_002 })).toMatchObject({ ok: false, waitMs: 60_000 });
  });

  it('never grants more than tpm to concurrent reservers', async () => {
    const k = key('race');
    const results = await Promise.all(Array.from({ length: 30 }, () => bucket.reserve(k, 10_000, 100_000, { nowMs: T0 })));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
  });

  it('never lets more than tpm into any sliding minute under random traffic with settles', async () => {
    const k = key('random');
    const tpm = 50_000;
    let seed = 3;
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const admitted: { at: number; id: string; n: number }[] = [];
    for (let t = 0; t < 240_000; t += 50 + Math.floor(rand() * 400)) {
      const n = 500 + Math.floor(rand() * 3_000);
      const r = await bucket.reserve(k, n, tpm, { nowMs: T0 + t });
      if (!r.ok) continue;
      // usage 60-100 % of the reservation, settled at once
      const actual = Math.floor(n * (0.6 + 0.4 * rand()));
      await bucket.settle(k, r.id, actual);
      admitted.push({ at: t, id: r.id, n: actual });
    }
    for (const a of admitted) {
      const inWindow = admitted.filter((b) => b.at > a.at - 60_000 && b.at <= a.at).reduce((s, b) => s + b.n, 0);
      expect(inWindow).toBeLessThanOrEqual(tpm);
    }
    const total = admitted.reduce((s, a) => s + a.n, 0);
    expect(total / 4).toBeGreaterThan(0.9 * tpm); // and it uses the quota: over 90 % of 4 minutes' worth
  });

  it('works on the server clock and expires its keys a minute after the window', async () => {
    const k = key('clock');
    expect((await bucket.reserve(k, 6_000, 60_000)).ok).toBe(true);
    const ttl = await redis.pttl(`${k}:log`);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
  });

  describe('with an RPM spacing: the request slot and the tokens together or not at all', () => {
    it('a request waiting for tokens takes no slot, one waiting for a slot takes no tokens', async () => {
      const rpm = { key: rpmSlotKey(`${prefix}-both`), spacingMs: 1_000 };
      const a = key('rpm-a');
      const b = key('rpm-b');
      expect(await bucket.reserve(a, 10_000, 10_000, { nowMs: T0, rpm })).toMatchObject({ ok: true, used: 10_000 });
      // model a's window is full: it waits for tokens and leaves the slot at T0 + 1,000 free
      expect(await bucket.reserve(a, 1_000, 10_000, { nowMs: T0 + 1_000, rpm })).toMatchObject({ ok: false });
      // so model b (its own window, the same account slot) gets it
      expect(await bucket.reserve(b, 1_000, 10_000, { nowMs: T0 + 1_000, rpm })).toMatchObject({ ok: true, used: 1_000 });
      // the next slot is T0 + 2,000: b waits 500 ms and its window keeps only the 1,000 it was granted
      expect(await bucket.reserve(b, 2_000, 10_000, { nowMs: T0 + 1_500, rpm })).toEqual({ ok: false, waitMs: 500, used: 1_000, reserved: 2_000 });
      expect(await bucket.used(b)).toBe(1_000);
      expect(await bucket.reserve(b, 2_000, 10_000, { nowMs: T0 + 2_000, rpm })).toMatchObject({ ok: true, used: 3_000 });
    });

    it('a caller told no spacing takes its slots at the stored one; none stored (or lifted): no slot', async () => {
      const slot = rpmSlotKey(`${prefix}-stored`);
      const follow = { key: slot };
      const ask = (m: string, t: number) => bucket.reserve(key(m), 1, 1_000_000, { nowMs: T0 + t, rpm: follow });
      expect((await ask('st-a', 0)).ok).toBe(true);
      expect((await ask('st-a', 1)).ok).toBe(true); // nothing stored: no request slot
      await bucket.storeSpacing(slot, 1_000);
      expect((await ask('st-b', 10)).ok).toBe(true);
      expect(await ask('st-b', 20)).toMatchObject({ ok: false, waitMs: 990 });
      expect((await ask('st-b', 1_010)).ok).toBe(true);
      await bucket.storeSpacing(slot, 0); // --rpm 0 somewhere: lifted
      expect((await ask('st-c', 1_020)).ok).toBe(true);
    });

    it('spaces requests evenly across two callers, and hands waiters successive slots', async () => {
      const rpm = { key: rpmSlotKey(`${prefix}-spacing`), spacingMs: 1_000 };
      const other = new TokenBucket(redis.duplicate(), 60_000);
      const granted: number[] = [];
      for (let t = 0; t < 10_000; t += 100) {
        for (const [b, m] of [
          [bucket, 'sp-x'],
          [other, 'sp-y'],
        ] as const) {
          if ((await b.reserve(key(m), 1, 1_000_000, { nowMs: T0 + t, rpm })).ok) granted.push(t);
        }
      }
      expect(granted).toEqual(Array.from({ length: 10 }, (_, i) => i * 1_000));
      await other.redis.quit();
      // three callers at once with the slot taken: told to come back one spacing apart
      const c = rpmSlotKey(`${prefix}-waiters`);
      const spaced = { key: c, spacingMs: 1_000 };
      expect((await bucket.reserve(key('w1'), 1, 1_000, { nowMs: T0, rpm: spaced })).ok).toBe(true);
      const waits = [];
      for (let i = 0; i < 3; i++) waits.push(await bucket.reserve(key('w2'), 1, 1_000, { nowMs: T0 + 200, rpm: spaced }));
      expect(waits.map((w) => (w.ok ? 'granted' : w.waitMs))).toEqual([800, 1_800, 2_800]);
      // no further than 8 slots ahead: hundreds of one model's waiters do not push the other model's back
      const many = [];
      for (let i = 0; i < 20; i++) many.push(await bucket.reserve(key('w3'), 1, 1_000, { nowMs: T0 + 200, rpm: spaced }));
      expect(Math.max(...many.map((w) => (w.ok ? 0 : w.waitMs)))).toBeLessThanOrEqual(7_800);
    });

    it('a waiter whose slot went to a late one before it gets the next slot, not a place behind every later waiter', async () => {
      const spaced = { key: rpmSlotKey(`${prefix}-late`), spacingMs: 1_000 };
      const ask = (t: number, waiter: string) => bucket.reserve(key('late'), 1, 1_000_000, { nowMs: T0 + t, rpm: spaced, waiter });
      expect((await ask(0, 'w0')).ok).toBe(true);
      // a, b, c handed the next three slots
      expect((await Promise.all(['a', 'b', 'c'].map((w) => ask(10, w)))).map((r) => (r.ok ? 'granted' : r.waitMs))).toEqual([990, 1_990, 2_990]);
      // a wakes 300 ms late and takes its slot: the next is a spacing after that
      expect((await ask(1_300, 'a')).ok).toBe(true);
      // b is back at its time, its slot not free yet: the next one (300 ms), not the end of the line (c, then d)
      expect(await ask(2_000, 'd')).toMatchObject({ ok: false, waitMs: 2_000 });
      expect(await ask(2_000, 'b')).toMatchObject({ ok: false, waitMs: 300 });
      expect((await ask(2_300, 'b')).ok).toBe(true);
      // and once granted, b is a new waiter again: its next try queues behind the others
      expect(await ask(2_400, 'b')).toMatchObject({ ok: false, waitMs: 2_600 });
    });
  });
});
