/**
 * BatchStore's count of a run's lines left (what --batch-fallback would send in real time): kept by every step
 * change in Redis, so a poll reads two numbers instead of every line. Checked against a count of the lines
 * themselves after each change.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchStore } from '../../src/runs/batch-store.ts';
import { dropKeys, testRedis } from '../helpers/redis.ts';

const prefix = `test-batch-store-${randomUUID()}`;
let redis: Redis;
let store: BatchStore;

beforeAll(() => {
  redis = testRedis();
  store = new BatchStore(redis, prefix);
});
afterAll(async () => {
  await dropKeys(redis, prefix);
  await redis.quit();
});

describe('BatchStore.lineCounts', () => {
  it('follows every step change: queued, packed, answered, failed, sent again, taken for real time', async () => {
    const run = randomUUID();
    const refs = ['l0', 'l1', 'l2', 'l3'];
    /** the count the old code made: every line read */
    const counted = async () => {
      const all = await store.lines(run, refs);
      const states = all.filter((s) => s !== undefined);
      return { total: states.length, left: states.filter((s) => !['recorded', 'answered', 'failed'].includes(s.step)).length };
    };
    const check = async (left: number) => {
      const counts = await store.lineCounts(run);
      expect(counts).toEqual(await counted());
      expect(counts.left).toBe(left);
      // from the counter the step changes keep (two reads, whatever the run's size), not from reading the lines
      expect(Number((await redis.hget(store.key(run, 'stats'), 'settled')) ?? 0)).toBe(counts.total - left);
    };
    expect(await store.lineCounts(run)).toEqual({ total: 0, left: 0 });
    for (const [chunk, ref] of refs.entries()) await store.queueLine(run, ref, { job: `job-${ref}`, fileId: 'f', generation: 0, chunk, bytes: 100 });
    await check(4);
    // a redone job finds its line queued: nothing changes
    await store.queueLine(run, 'l0', { job: 'job-l0', fileId: 'f', generation: 0, chunk: 0, bytes: 100 });
    await check(4);
    const n = await store.claimInput(run, { maxRequests: 10, maxBytes: 10_000 }, false);
    expect(n).toBe(1);
    await check(4);
    await store.patchLine(run, 'l0', { step: 'recorded' });
    await check(3);
    await store.patchLine(run, 'l1', { step: 'answered' });
    await store.patchLine(run, 'l1', { step: 'recorded' }); // settled to settled
    await check(2);
    await store.patchLine(run, 'l2', { step: 'failed', code: 'batch_expired', message: 'expired' });
    await store.patchLine(run, 'l2', { message: 'expired again' }); // no step in the patch
    await check(1);
    // a failed line sent again is left again
    await store.queueLine(run, 'l2', { job: 'job-l2', fileId: 'f', generation: 0, chunk: 2, bytes: 100 }, { resend: true });
    await check(2);
    expect(await store.toRealtime(run, 'l3', n as number)).toMatchObject({ step: 'realtime' });
    await check(2);
    await store.patchInput(run, n as number, { status: 'completed', done: true });
    await store.patchLine(run, 'l3', { step: 'recorded' });
    await check(1);
    await store.patchLine(run, 'missing', { step: 'failed' }); // no such line: nothing counted
    await check(1);
  });
});
