import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Budget, budgetChunkKey } from '../../src/cost/budget.ts';
import { dropKeys, testRedis } from '../helpers/redis.ts';

const prefix = `test-budget-${randomUUID()}`;
let redis: Redis;
let budget: Budget;

beforeAll(() => {
  redis = testRedis({ maxRetriesPerRequest: 3 });
  budget = new Budget(redis, prefix);
});
afterAll(async () => {
  await dropKeys(redis, prefix);
  await redis.quit();
});

describe('budget reservations', () => {
  it('grants exactly 10 of 50 concurrent reservations when the budget holds 10', async () => {
    // Separate connections, so the calls really interleave at the server.
    const clients = Array.from({ length: 5 }, () => testRedis());
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => new Budget(clients[i % clients.length], prefix).reserve('race', budgetChunkKey(`f${i}`, 0), 100_000, 1_000_000)),
      );
      expect(results.filter((r) => r.granted)).toHaveLength(10);
      expect(results.filter((r) => r.outcome === 'denied')).toHaveLength(40);
      expect(await budget.state('race')).toEqual({ budgetMicros: 1_000_000, spentMicros: 0, reservedMicros: 1_000_000, openReservations: 10 });
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('settles to the actual cost, releases on failure, and lets the freed money be reserved again', async () => {
    const run = 'flow';
    expect((await budget.reserve(run, 'a', 400, 1_000)).outcome).toBe('granted');
    expect((await budget.reserve(run, 'b', 400, 1_000)).outcome).toBe('granted');
    expect((await budget.reserve(run, 'c', 400, 1_000)).outcome).toBe('denied'); // 800 reserved + 400 > 1000
    expect(await budget.settle(run, 'a', 150)).toEqual({ applied: true, spentMicros: 150, reservedMicros: 400 });
    expect(await budget.settle(run, 'a', 150)).toEqual({ applied: false, spentMicros: 150, reservedMicros: 400 }); // idempotent
    expect(await budget.release(run, 'b')).toBe(true);
    expect(await budget.release(run, 'b')).toBe(false);
    const c = await budget.reserve(run, 'c', 400, 1_000);
    expect(c).toMatchObject({ granted: true, outcome: 'granted', spentMicros: 150, reservedMicros: 400 });
    // exactly at the budget is allowed, one micro over is not
    expect((await budget.reserve(run, 'd', 450, 1_000)).granted).toBe(true);
    expect((await budget.reserve(run, 'e', 1, 1_000)).granted).toBe(false);
  });

  it('lets a redone job re-use its own reservation instead of taking a second one', async () => {
    const run = 'redo';
    expect((await budget.reserve(run, 'x', 600, 1_000)).outcome).toBe('granted');
    // the worker was killed; the job comes back and reserves again: same reservation, nothing more held
    const again = await budget.reserve(run, 'x', 600, 1_000);
    expect(again).toMatchObject({ granted: true, outcome: 'reused', reservedMicros: 600 });
    await budget.settle(run, 'x', 500);
    expect((await budget.reserve(run, 'x', 600, 1_000)).outcome).toBe('already_settled');
    expect(await budget.state(run)).toMatchObject({ spentMicros: 500, reservedMicros: 0, openReservations: 0 });
  });

  it('returns reservations whose worker died for good once they expire', async () => {
    const run = 'expiry';
    const t0 = 1_700_000_000_000;
    expect((await budget.reserve(run, 'dead', 900, 1_000, { nowMs: t0, ttlMs: 60_000 })).granted).toBe(true);
    expect((await budget.reserve(run, 'live', 900, 1_000, { nowMs: t0 + 59_999, ttlMs: 60_000 })).granted).toBe(false);
    const later = await budget.reserve(run, 'live', 900, 1_000, { nowMs: t0 + 60_000, ttlMs: 60_000 });
    expect(later).toMatchObject({ granted: true, outcome: 'granted', reservedMicros: 900 });
    expect(await budget.state(run)).toMatchObject({ reservedMicros: 900, openReservations: 1 });
  });

  it('reports crossing a fraction of the budget exactly once', async () => {
    const run = 'alert';
    await budget.reserve(run, 'a', 500, 1_000);
    await budget.settle(run, 'a', 500);
    expect(await budget.crossed(run, 0.8)).toBe(false);
    await budget.reserve(run, 'b', 300, 1_000);
    await budget.settle(run, 'b', 300);
    const firsts = await Promise.all(Array.from({ length: 10 }, () => budget.crossed(run, 0.8)));
    expect(firsts.filter(Boolean)).toHaveLength(1);
    expect(await budget.crossed(run, 0.8)).toBe(false);
    expect(await budget.crossed(run, 0.5)).toBe(true); // another threshold has its own flag
    expect(await budget.crossed('no-budget-run', 0.8)).toBe(false);
  });

  it('rejects amounts that are not integer micro-units', async () => {
    await expect(budget.reserve('bad', 'a', 1.5, 10)).rejects.toThrow(/integer/u);
    await expect(budget.settle('bad', 'a', -1)).rejects.toThrow(/integer/u);
  });
});
