/**
 * --via batch when batches go wrong, against the emulator's Batch faults: an expired batch keeps its finished
 * lines and sends the rest again; failed lines are classified (transient: sent again; too large: the file is
 * re-planned); a batch failed in validation fails its files; a cancelled run cancels its batches. In every
 * case, what the emulator billed is what the ledger says, and no line is recorded twice.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, type ExpectStatic, it } from 'vitest';
import { waitForRun } from '../../src/cli/wait.ts';
import type { EmulatorOptions } from '../../src/emulator/server.ts';
import { queueName } from '../../src/jobs/queues.ts';
import { cancelRunBatches } from '../../src/lifecycle/batches.ts';
import { finishNotRun } from '../../src/lifecycle/file-state.ts';
import { createRun } from '../../src/producers/run.ts';
import { batchHarness } from '../helpers/batch.ts';
import type { Harness } from '../helpers/pipeline.ts';

const MODEL = 'qwen-omni-turbo';

/**
 * Each case its own harness (emulator, Redis prefix, workers): the cases run at once. All are closed after the
 * last case: a worker's close ends every ffmpeg child of the process (workers/index.ts), the other cases' too.
 */
const harnesses: Harness[] = [];
afterAll(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

async function setUp(emulator: EmulatorOptions, env: Record<string, string> = {}): Promise<{ h: Harness; src: string }> {
  const set = await batchHarness(emulator, env);
  harnesses.push(set.h);
  return set;
}

const request = (src: string, out: string) => ({ source: src, destination: out, task: 'transcribe', model: MODEL, via: 'batch', chunkSeconds: 12 });

/** Every chunk the ledger holds was answered once by the emulator, and its tokens are the emulator's bill. */
async function ledgerIsTheBill(expect: ExpectStatic, x: Harness, runId: string): Promise<number> {
  const totals = await x.ctx.costs.totals(runId);
  const stats = x.emulator.stats().batch;
  expect(totals.chunks).toBe(stats.lines.completed);
  expect(totals.usage.input.audio).toBe(stats.billed[MODEL]?.input.audio ?? 0);
  expect(totals.usage.output.text).toBe(stats.billed[MODEL]?.output.text ?? 0);
  return totals.chunks;
}

// Each case is a run of its own, mostly waiting on the emulator's batches and the poller: they run at once.
describe.concurrent('--via batch faults', () => {
  it('an expired batch keeps its finished lines and sends the rest in a later batch', async ({ expect }) => {
    // every batch expires half-way: a line goes in up to 4 batches (the default 3 sends again), a lone line never runs
    const { h, src } = await setUp({ batchExpire: 1, batchExpireAfter: 0.5 }, { OMNIBATCH_BATCH_MAX_RESUBMITS: '3' });
    const s = await h.run(request(src, path.join(h.tmp, 'out')));
    const stats = h.emulator.stats().batch;
    expect(stats.batches.expired).toBeGreaterThanOrEqual(2);
    expect(stats.lines.notRun).toBeGreaterThan(0);
    // the lines an expired batch never ran went in later batches, and some were answered there
    const refs = (await h.ctx.batches.inputs(s.spec.runId)).flatMap((r) => r.lines);
    expect(new Set(refs).size).toBeLessThan(refs.length);
    const states = await h.ctx.batches.lines(s.spec.runId, [...new Set(refs)]);
    expect(states.filter((st) => st?.step === 'recorded' && st.sends >= 2).length).toBeGreaterThan(0);
    const chunks = await ledgerIsTheBill(expect, h, s.spec.runId);
    // Lines go again until answered or out of sends: the run ends either way, nothing recorded twice.
    expect(chunks).toBeGreaterThan(0);
    expect(s.counts.succeeded + s.counts.failed).toBe(2);
    for await (const [, f] of h.ctx.runs.files(s.spec.runId)) if (f.status === 'failed') expect(f.code).toBe('batch_failed');
  }, 120_000);

  it('transient line failures are sent again; the run completes, each line billed once', async ({ expect }) => {
    const { h, src } = await setUp({ batchFailLines: 0.25, batchFailKind: 'server_error' }, { OMNIBATCH_BATCH_MAX_RESUBMITS: '6' });
    const s = await h.run(request(src, path.join(h.tmp, 'out')));
    const codes = [];
    for await (const [, f] of h.ctx.runs.files(s.spec.runId)) codes.push(`${f.code}: ${f.message}`);
    expect(codes.filter((c) => !c.startsWith('undefined'))).toEqual([]);
    expect(s.status).toBe('completed');
    expect(h.emulator.stats().batch.lines.failed).toBeGreaterThan(0);
    expect(await ledgerIsTheBill(expect, h, s.spec.runId)).toBe((await h.ctx.costs.totals(s.spec.runId)).chunks);
  }, 120_000);

  it('a too-large refusal re-plans the file smaller, as in real time', async ({ expect }) => {
    const { h, src } = await setUp({ batchFailLines: 1, batchFailKind: 'too_large' }, { OMNIBATCH_BATCH_MAX_RESUBMITS: '1' });
    const s = await h.run(request(src, path.join(h.tmp, 'out')));
    expect(s.counts.failed).toBe(2);
    const files = [];
    for await (const [, f] of h.ctx.runs.files(s.spec.runId)) files.push(f);
    // re-planned once with halved chunks, refused again: the file fails with the service's code
    expect(files.map((f) => f.code)).toEqual(['input_too_large', 'input_too_large']);
    expect(Object.values(h.emulator.stats().batch.billed)).toEqual([]);
  }, 120_000);

  it('a batch failed in validation fails its files with batch_failed; nothing is billed', async ({ expect }) => {
    const { h, src } = await setUp({ batchValidationFail: 1 });
    const out = path.join(h.tmp, 'out');
    const s = await h.run(request(src, out));
    expect(s.status).toBe('completed_with_failures');
    expect(s.counts.failed).toBe(2);
    const failures = (await readFile(path.join(out, '_runs', s.spec.runId, 'failures.jsonl'), 'utf8')).trim().split('\n');
    for (const f of failures) expect(JSON.parse(f)).toMatchObject({ code: 'batch_failed', message: expect.stringMatching(/failed validation/) });
    expect(h.emulator.stats().batch.batches.failed).toBeGreaterThanOrEqual(1);
    expect((await h.ctx.costs.totals(s.spec.runId)).chunks).toBe(0);
  }, 120_000);

  it('cancel: the run stops and its batches are cancelled at the provider', async ({ expect }) => {
    // a cancel takes 2 s at the provider: the poller, seeing the run stopped, may cancel first; a batch still
    // cancelling takes a second cancel (one already cancelled refuses it: the next case)
    const { h, src } = await setUp({ batchInProgressMs: 60_000, batchCancellingMs: 2000 });
    const spec = await createRun(h.ctx, request(src, path.join(h.tmp, 'out')));
    await expect.poll(async () => (await h.ctx.batches.inputs(spec.runId)).some((r) => r.batchId), { timeout: 60_000 }).toBe(true);
    // what `omnibatch cancel` does
    await h.ctx.runs.stop(spec.runId, 'cancelled', 'cancelled by the user');
    for await (const [fileId, f] of h.ctx.runs.files(spec.runId)) if (f.status === 'pending') await finishNotRun(h.ctx, spec.runId, fileId, 'cancelled');
    const cancelled = await cancelRunBatches(h.ctx, spec.runId);
    expect(cancelled.length).toBeGreaterThan(0);
    const state = await waitForRun(h.ctx, spec.runId, { quiet: true, pollMs: 100 });
    expect(state.status).toBe('cancelled');
    await expect.poll(() => h.emulator.stats().batch.batches.cancelled ?? 0, { timeout: 30_000 }).toBe(cancelled.length);
  }, 120_000);

  it('cancel after the poller cancelled first: the provider refuses the second cancel, the batch counts as cancelled', async ({ expect }) => {
    const { h, src } = await setUp({ batchInProgressMs: 60_000, batchCancellingMs: 50 });
    const spec = await createRun(h.ctx, request(src, path.join(h.tmp, 'out')));
    await expect.poll(async () => (await h.ctx.batches.inputs(spec.runId)).some((r) => r.batchId), { timeout: 60_000 }).toBe(true);
    // the poller held still, so that what it would have done is this test's to do, at the moment the race needs
    const poller = h.workers?.workers.find((w) => w.name === queueName('batch-poll'));
    expect(poller).toBeDefined();
    await poller?.pause();
    await h.ctx.runs.stop(spec.runId, 'cancelled', 'cancelled by the user');
    // the poller's cancel, ended at the provider before the command's: the command's own cancel is refused (400)
    const ids = (await h.ctx.batches.inputs(spec.runId)).flatMap((r) => (r.batchId ? [r.batchId] : []));
    for (const id of ids) await h.ctx.batchApi.cancelBatch(id).catch(() => undefined);
    for (const id of ids) await expect.poll(async () => (await h.ctx.batchApi.retrieveBatch(id)).status, { timeout: 30_000 }).toBe('cancelled');
    await expect(h.ctx.batchApi.cancelBatch(ids[0])).rejects.toThrow(/cancel/i);
    expect((await cancelRunBatches(h.ctx, spec.runId)).sort()).toEqual(ids.filter((id, n, all) => all.indexOf(id) === n).sort());
    expect(new Set((await h.ctx.batches.inputs(spec.runId)).filter((r) => r.batchId).map((r) => r.status))).toEqual(new Set(['cancelled']));
    poller?.resume();
    expect((await waitForRun(h.ctx, spec.runId, { quiet: true, pollMs: 100 })).status).toBe('cancelled');
  }, 120_000);
});
