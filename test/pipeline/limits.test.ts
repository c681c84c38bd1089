/** The account-wide limits live in Redis: a worker changes them only when told to. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rpmSpacingMs, startWorkers } from '../../src/workers/index.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

describe('global limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('a worker started without --rpm or --infer-concurrency keeps the limits the others run under', async () => {
    const first = await startWorkers(h.ctx, { stages: ['infer'], inferConcurrency: 3, rpm: 120 });
    expect(await h.ctx.queues.infer.getGlobalConcurrency()).toBe(3);
    expect((await h.ctx.queues.infer.getGlobalRateLimit())?.duration).toBe(rpmSpacingMs(120));
    const second = await startWorkers(h.ctx, { stages: ['infer'] });
    expect(await h.ctx.queues.infer.getGlobalConcurrency()).toBe(3);
    expect((await h.ctx.queues.infer.getGlobalRateLimit())?.duration).toBe(rpmSpacingMs(120));
    // --rpm 0 lifts it, on purpose.
    const third = await startWorkers(h.ctx, { stages: ['infer'], rpm: 0 });
    expect(await h.ctx.queues.infer.getGlobalRateLimit()).toBeFalsy();
    await Promise.all([first.close(), second.close(), third.close()]);
  });

  it('with --tpm, no BullMQ rate limit: infer takes the request slot with the tokens', async () => {
    const first = await startWorkers(h.ctx, { stages: ['infer'], rpm: 120 });
    expect((await h.ctx.queues.infer.getGlobalRateLimit())?.duration).toBe(rpmSpacingMs(120));
    const ctx = { ...h.ctx, cfg: { ...h.ctx.cfg, tpm: 100_000, rpm: 120 } };
    const second = await startWorkers(ctx, { stages: ['infer'] });
    expect(await h.ctx.queues.infer.getGlobalRateLimit()).toBeFalsy();
    await Promise.all([first.close(), second.close()]);
  });
});
