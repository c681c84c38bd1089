/**
 * The TPM reservations as a schedule: the real Lua (src/cost/lua/token-bucket.ts) in Redis on a virtual clock,
 * driven by a simulated infer queue (test/helpers/tpm-sim.ts) against the emulator's quota. What the tpm bench
 * measures in ten minutes of real time, as a property of the algorithm alone, in seconds.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { testRedis } from '../helpers/redis.ts';
import { type SimModel, simulate } from '../helpers/tpm-sim.ts';

let redis: Redis;
beforeAll(() => {
  redis = testRedis({ maxRetriesPerRequest: 3 });
});
afterAll(async () => {
  await redis.quit();
});

// The bench's archive: transcripts whose prior (speech) is 20x what the tone really yields, captions at 5x.
const flash300: SimModel = { name: 'flash', task: 'transcribe', jobs: 200, input: 3_773, prior: 905, output: 42, spread: 20, latencyMs: 1500 };
const flash159: SimModel = { ...flash300, jobs: 400, input: 2_011, prior: 480 };
const captions: SimModel = { name: 'captioner', task: 'caption', jobs: 1_500, input: 350, prior: 172, output: 31, spread: 15, latencyMs: 1500 };
const quota = { tpm: 40_000, rpm: 300, concurrency: 16, lagMs: 300, startMs: 10, minutes: 3, warmupMinutes: 1.5 };

// Each simulation is a chain of Redis calls on a virtual clock under its own key prefix, its own quota and PRNG:
// the cases (and the two runs of the last) go at once, their calls sharing the connection's round trips.
describe.concurrent('TPM schedule (simulated minutes, real Lua)', () => {
  it('keeps a backlog of large requests at the quota: outputs learnt, waiters paced early, none refused', async ({ expect }) => {
    const r = await simulate(redis, { ...quota, models: [flash300] });
    // ten ~3,815-token requests fit a 40,000 window, eleven do not: 0.954 is the ceiling of 300-s requests
    // (paced by their unlearnt prior, as before, the backlog held 0.80)
    expect(r.perModel.flash.fraction).toBeGreaterThanOrEqual(0.91);
    expect(r.perModel.flash.refusedByProvider).toBe(0);
  }, 120_000);

  it('holds two models at their quotas at once with chunks packed for it', async ({ expect }) => {
    const r = await simulate(redis, { ...quota, models: [flash159, captions] });
    expect(r.perModel.flash.fraction).toBeGreaterThanOrEqual(0.95);
    expect(r.perModel.captioner.fraction).toBeGreaterThanOrEqual(0.95);
    expect(r.perModel.flash.refusedByProvider + r.perModel.captioner.refusedByProvider).toBe(0);
    // once the backlog is scheduled, waiters come back about once per admission, not in herds
    for (const m of ['flash', 'captioner']) expect(r.perModel[m].waits).toBeLessThan(r.perModel[m].admitted * 4);
  }, 120_000);

  it('dates each reservation by how much later than usual the provider admitted it: jittery uploads, no refusal', async ({ expect }) => {
    // the provider admits each request 0.3 to 1.8 s after its reservation; our window outlives the provider's
    // by 0.5 s, so a request late by more than that would be refused for the room of an earlier one
    const jittery = { ...quota, lagMs: 300, lagJitterMs: 1_500, models: [flash159, captions] };
    const [told, untold] = await Promise.all([simulate(redis, jittery), simulate(redis, { ...jittery, redate: false })]);
    const refused = (r: typeof told) => r.perModel.flash.refusedByProvider + r.perModel.captioner.refusedByProvider;
    expect(refused(untold)).toBeGreaterThan(0);
    expect(refused(told)).toBe(0);
    // not by all of the delay: the usual part cancels out, and counting it would cost throughput
    expect(told.perModel.captioner.fraction).toBeGreaterThanOrEqual(untold.perModel.captioner.fraction - 0.01);
  }, 120_000);
});
