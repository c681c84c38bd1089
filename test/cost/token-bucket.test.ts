import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenBucket, tpmBucketKey } from '../../src/cost/token-bucket.ts';

const prefix = `test-tpm-${randomUUID()}`;
let redis: Redis;
let bucket: TokenBucket;
const key = (name: string): string => tpmBucketKey(prefix, name);

beforeAll(() => {
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
  bucket = new TokenBucket(redis);
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

const T0 = 1_700_000_000_000;

describe('TPM token bucket', () => {
  it('starts full, refills at tpm/60000 per ms up to its capacity, and says how long to wait', async () => {
    const k = key('refill');
    // 60,000 TPM = 1 token per ms
    expect(await bucket.take(k, 50_000, 60_000, T0)).toEqual({ ok: true, level: 10_000 });
    expect(await bucket.take(k, 20_000, 60_000, T0)).toEqual({ ok: false, waitMs: 10_000, level: 10_000 });
    expect(await bucket.take(k, 20_000, 60_000, T0 + 9_999)).toEqual({ ok: false, waitMs: 1, level: 19_999 });
    expect(await bucket.take(k, 20_000, 60_000, T0 + 10_000)).toEqual({ ok: true, level: 0 });
    // an hour idle refills only up to the capacity
    expect(await bucket.take(k, 0, 60_000, T0 + 3_600_000)).toEqual({ ok: true, level: 60_000 });
  });

  it('uses fractional refill rates exactly (100,000 TPM = 5/3 tokens per ms)', async () => {
    const k = key('fraction');
    expect((await bucket.take(k, 100_000, 100_000, T0)).ok).toBe(true);
    // 4,500 tokens need 2,700 ms
    expect(await bucket.take(k, 4_500, 100_000, T0)).toMatchObject({ ok: false, waitMs: 2_700 });
    expect(await bucket.take(k, 4_500, 100_000, T0 + 2_699)).toEqual({ ok: false, waitMs: 1, level: 4_498 + 1 / 3 });
    expect(await bucket.take(k, 4_500, 100_000, T0 + 2_700)).toMatchObject({ ok: true });
  });

  it('lets a request larger than the capacity through once the bucket is full, then makes others wait for the debt', async () => {
    const k = key('huge');
    expect(await bucket.take(k, 1_000, 60_000, T0)).toEqual({ ok: true, level: 59_000 });
    expect(await bucket.take(k, 90_000, 60_000, T0)).toEqual({ ok: false, waitMs: 1_000, level: 59_000 });
    expect(await bucket.take(k, 90_000, 60_000, T0 + 1_000)).toEqual({ ok: true, level: -30_000 });
    expect(await bucket.take(k, 1, 60_000, T0 + 1_000)).toEqual({ ok: false, waitMs: 30_001, level: -30_000 });
  });

  it('settles to the real usage: more takes the difference, less gives it back up to the capacity', async () => {
    const k = key('settle');
    await bucket.take(k, 10_000, 60_000, T0);
    expect(await bucket.settle(k, 10_000, 12_500)).toBe(2_500);
    expect(await bucket.level(k)).toBe(47_500);
    expect(await bucket.settle(k, 10_000, 4_000)).toBe(-6_000);
    expect(await bucket.level(k)).toBe(53_500);
    expect(await bucket.settle(k, 50_000, 0)).toBe(-50_000);
    expect(await bucket.level(k)).toBe(60_000);
    expect(await bucket.settle(key('absent'), 10, 20)).toBe(10);
  });

  it('never grants more than the bucket holds to concurrent takers', async () => {
    const k = key('race');
    const results = await Promise.all(Array.from({ length: 30 }, () => bucket.take(k, 10_000, 100_000, T0)));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
  });

  it('works on the server clock when no time is given, and expires once it would be full again', async () => {
    const k = key('clock');
    expect((await bucket.take(k, 6_000, 60_000)).ok).toBe(true);
    const ttl = await redis.pttl(k);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(66_000);
  });
});
