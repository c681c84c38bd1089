/**
 * A bug is not weather: a corrupt staged chunk result (SyntaxError from JSON.parse) fails its file at the first
 * attempt, as a non-retryable `internal` that says it is a programmer error, instead of being retried 6 times.
 * Real Redis, ffmpeg, local storage and the emulator.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { waitForRun } from '../../src/cli/wait.ts';
import type { InferPayload } from '../../src/jobs/catalog.ts';
import { stagedKey } from '../../src/lifecycle/file-state.ts';
import { createRun } from '../../src/producers/run.ts';
import { startWorkers } from '../../src/workers/index.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { noiseWithGaps } from '../media/generate.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function waitingInfer(h: Harness, ms = 30_000): Promise<Job<InferPayload>> {
  const end = Date.now() + ms;
  for (;;) {
    const [job] = await h.ctx.queues.infer.getJobs(['waiting', 'prioritized', 'delayed'], 0, 0);
    if (job) return job as Job<InferPayload>;
    if (Date.now() > end) throw new Error('no infer job was queued');
    await sleep(50);
  }
}

describe('programmer errors', () => {
  it('a corrupt staged result fails its file at the first attempt, and the failures file says it was not retried', async () => {
    const h = await startHarness();
    cleanups.push(() => h.close());
    const src = path.join(h.tmp, 'in');
    const out = path.join(h.tmp, 'out');
    await mkdir(src, { recursive: true });
    await noiseWithGaps(path.join(src, 'a.wav'), { seconds: 3 });
    // Up to the infer queue only: the staged result is spoiled before any infer worker reads it.
    const early = await startWorkers(h.ctx, { stages: ['scan', 'prepare'] });
    cleanups.push(() => early.close(5000));
    const spec = await createRun(h.ctx, { source: src, destination: out, task: 'caption' });
    const job = await waitingInfer(h);
    const d = job.data;
    await h.ctx.storage(out).putText(stagedKey(d.runId, d.fileId, d.generation, d.chunk, 'result.json'), '{"usage": {"input_tokens": 1');
    const late = await startWorkers(h.ctx, { stages: ['infer', 'finalize', 'report'] });
    cleanups.push(() => late.close(5000));

    const state = await waitForRun(h.ctx, spec.runId, { quiet: true, pollMs: 100, signal: AbortSignal.timeout(30_000) });
    expect(state.counts).toMatchObject({ total: 1, failed: 1, retries: 0 });
    const after = (await h.ctx.queues.infer.getJob(job.id!))!;
    expect(after.attemptsMade).toBe(1);
    expect(h.emulator.stats().requests).toBe(0);
    const failures = (await h.ctx.storage(out).getText(`_runs/${spec.runId}/failures.jsonl`))!
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ code: 'internal' });
    expect(failures[0].message).toMatch(/^programmer error \(SyntaxError\), not retried: /);
  });
});
