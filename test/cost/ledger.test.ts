import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/cost/ledger.ts';
import type { Usage } from '../../src/models/types.ts';
import { dropKeys, testRedis } from '../helpers/redis.ts';

const prefix = `test-ledger-${randomUUID()}`;
let redis: Redis;
let ledger: Ledger;

beforeAll(() => {
  redis = testRedis({ maxRetriesPerRequest: 3 });
  ledger = new Ledger(redis, prefix);
});
afterAll(async () => {
  await dropKeys(redis, prefix);
  await redis.quit();
});

const usage = (audio: number, text: number): Usage => ({
  input: { text: 7, audio, image: 0, video: 0 },
  output: { text, audio: 0, reasoning: 2 },
  inputTotal: audio + 7,
  outputTotal: text + 2,
});

describe('ledger', () => {
  it('counts a chunk once when 20 copies of it race (a redone job after a killed worker)', async () => {
    const run = 'race';
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        ledger.recordChunk(run, 'in/a.mp3', 0, `job-a:${i}`, usage(375, 100 + i), { amountMicros: 1_800 + i, currency: 'USD', priced: true }, { via: 'batch' }),
      ),
    );
    const winners = outcomes.filter((o) => o.recorded);
    expect(winners).toHaveLength(1);
    // everyone learns which attempt won, and its numbers
    for (const o of outcomes) expect(o.record.attempt).toBe(winners[0].record.attempt);
    const i = Number(winners[0].record.attempt.split(':')[1]);
    const totals = await ledger.getLedger(run);
    expect(totals).toEqual({
      usage: usage(375, 100 + i),
      cost: { amountMicros: 1_800 + i, currency: 'USD', priced: true },
      chunks: 1,
      requests: 1,
      retries: 0,
      // the way it was answered is counted once too
      byVia: { batch: { chunks: 1, costMicros: 1_800 + i } },
    });
  });

  it('adds different chunks and files, requests and unpriced chunks', async () => {
    const run = 'sum';
    await ledger.recordChunk(run, 'in/a.mp3', 0, 't1', usage(375, 10), { amountMicros: 1_000, currency: 'USD', priced: true });
    await ledger.recordChunk(run, 'in/a.mp3', 1, 't2', usage(100, 20), { amountMicros: 2_000, currency: 'USD', priced: true }, { requests: 3 });
    await ledger.recordChunk(run, 'in/b.mp3', 0, 't3', usage(50, 5), { amountMicros: 3, currency: 'USD', priced: false });
    // the same chunk again: nothing changes
    const again = await ledger.recordChunk(run, 'in/a.mp3', 1, 't9', usage(999, 999), { amountMicros: 999_999, currency: 'USD', priced: true });
    expect(again.recorded).toBe(false);
    expect(again.record).toMatchObject({ attempt: 't2', requests: 3, cost: { amountMicros: 2_000 } });
    await ledger.addRequests(run, 2);
    const t = await ledger.getLedger(run);
    expect(t.usage.input).toEqual({ text: 21, audio: 525, image: 0, video: 0 });
    expect(t.usage.output).toEqual({ text: 35, audio: 0, reasoning: 6 });
    expect(t.usage.inputTotal).toBe(546);
    expect(t.cost).toEqual({ amountMicros: 3_003, currency: 'USD', priced: false });
    expect(t.chunks).toBe(3);
    expect(t.requests).toBe(1 + 3 + 1 + 2);
    expect(t.retries).toBe(4);
    expect(await ledger.getChunk(run, 'in/b.mp3', 0)).toMatchObject({ attempt: 't3' });
    expect(await ledger.getChunk(run, 'in/b.mp3', 1)).toBeNull();
  });

  it('keeps large integer amounts exact (no Lua number formatting on the way)', async () => {
    const big = 123_456_789_012_345;
    await ledger.recordChunk('big', 'k', 0, 't', usage(1, 1), { amountMicros: big, currency: 'CNY', priced: true });
    await ledger.recordChunk('big', 'k', 1, 't', usage(1, 1), { amountMicros: big, currency: 'CNY', priced: true });
    expect((await ledger.getLedger('big')).cost.amountMicros).toBe(2 * big);
  });

  it('keeps runs apart, reads an empty run as zero and expires with its retention', async () => {
    expect(await ledger.getLedger('nothing')).toMatchObject({ chunks: 0, requests: 0, cost: { amountMicros: 0, currency: null, priced: true } });
    await ledger.recordChunk('ttl', 'k', 0, 't', usage(1, 1), { amountMicros: 1, currency: 'USD', priced: true }, { retentionMs: 60_000 });
    const ttl = await redis.pttl(ledger.keys('ttl').totals);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await ledger.deleteRun('ttl');
    expect(await redis.exists(ledger.keys('ttl').totals, ledger.keys('ttl').chunks)).toBe(0);
  });
});
