/**
 * --via batch --batch-fallback realtime --deadline against the emulator: its batches take a minute to answer
 * (lines started evenly over it), the deadline is seconds away. The poller cancels the batch at the provider;
 * what it answered before the cancel is kept at the Batch rate, the rest is answered in real time at the
 * real-time rate (`via: realtime` in the ledger); every chunk is recorded once, and the ledger is what the
 * emulator billed, in Batch and in real time.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { reportText } from '../../src/cli/report.ts';
import type { ChunkRecord } from '../../src/cost/ledger.ts';
import { resolvePrices, usageCost } from '../../src/cost/price.ts';
import type { EmulatorOptions } from '../../src/emulator/server.ts';
import { collectRunReport } from '../../src/lifecycle/run-report.ts';
import { batchHarness } from '../helpers/batch.ts';
import type { Harness } from '../helpers/pipeline.ts';

const MODEL = 'qwen-omni-turbo';

/**
 * Each case its own harness (emulator, Redis prefix, workers): the cases run at once. Both are closed after the
 * last case: a worker's close ends every ffmpeg child of the process (workers/index.ts), the other case's too.
 */
const harnesses: Harness[] = [];
afterAll(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

async function setUp(emulator: EmulatorOptions): Promise<{ h: Harness; src: string }> {
  // reads every second: the fallback allows a cancel three of them (machine load stretches every step here)
  const set = await batchHarness(emulator, { OMNIBATCH_BATCH_POLL_MS: '1000', OMNIBATCH_BATCH_POLL_MAX_MS: '1000' });
  harnesses.push(set.h);
  return set;
}

/**
 * What the deadline planner would fix into the request: the deadline as typed and the run's real-time wall time.
 * The fallback comes at the first read after deadline - wall time - next read - the cancel's allowance (10 - 2 - 1
 * - 3 s: 4 s after the run starts), or at the batch's first read when it was created later than that: long before
 * a batch of a minute could answer.
 */
const request = (src: string, out: string) => ({
  source: src,
  destination: out,
  task: 'transcribe',
  model: MODEL,
  via: 'batch',
  batchFallback: 'realtime',
  deadline: '10s',
  plannedWallS: 2,
  chunkSeconds: 12,
});

async function ledgerRecords(x: Harness, runId: string): Promise<ChunkRecord[]> {
  const all = await x.ctx.redis.hgetall(x.ctx.costs.ledger.keys(runId).chunks);
  return Object.values(all).map((s) => JSON.parse(s) as ChunkRecord);
}

/** The chunks of both results. */
async function chunkCount(out: string): Promise<number> {
  let n = 0;
  for (const name of ['long.wav', 'jfk.flac']) n += JSON.parse(await readFile(path.join(out, `${name}.json`), 'utf8')).chunks.length;
  return n;
}

// Both cases wait mostly for their deadline: they run at once, each on its own harness.
describe.concurrent('--batch-fallback realtime', () => {
  it('a batch that cannot answer by the deadline is cancelled; its answers are kept, the rest answered in real time, each once', async ({ expect }) => {
    // every line of a batch started evenly over a minute: by the deadline's fallback only the first has run
    const { h, src } = await setUp({ batchInProgressMs: 60_000 });
    const out = path.join(h.tmp, 'out');
    const t0 = Date.now();
    // under a budget: reserved at the Batch rate, then (for the lines that fall back) at the real-time rate
    const s = await h.run({ ...request(src, out), budgetMicros: 5_000_000 });
    const tookMs = Date.now() - t0;
    expect(s.status).toBe('completed');
    expect(s.spec).toMatchObject({ via: 'batch', batchFallback: 'realtime' });
    // well before the batch's minute (by the 10-s deadline on an idle machine; more under load)
    expect(tookMs).toBeLessThan(45_000);
    await expect.poll(async () => (await h.ctx.batches.inputs(s.spec.runId)).every((r) => r.done), { timeout: 30_000 }).toBe(true);

    const stats = h.emulator.stats();
    // each batch (one per input file the packer closed) cancelled at the provider, none completed
    expect(stats.batch.created).toBeGreaterThanOrEqual(1);
    expect(stats.batch.batches).toEqual({ cancelled: stats.batch.created });
    const records = await ledgerRecords(h, s.spec.runId);
    // every chunk answered and recorded once: by the batch before its cancel, or in real time after it
    expect(records.length).toBe(await chunkCount(out));
    const batch = records.filter((r) => r.via === 'batch');
    const realtime = records.filter((r) => r.via === 'realtime');
    expect(batch.length + realtime.length).toBe(records.length);
    expect(realtime.length).toBeGreaterThan(0);
    // a batch's first line starts as it begins: it was answered before the cancel, and kept
    expect(batch.length).toBeGreaterThan(0);
    expect(batch.length).toBe(stats.batch.lines.completed);
    expect(realtime.length).toBe(stats.batch.lines.notRun);
    expect(realtime.length).toBe(stats.completed);

    // each part at its own rate, and each part exactly what the emulator billed for it
    const prices = { batch: resolvePrices(MODEL, 'cn', undefined, 'batch'), realtime: resolvePrices(MODEL, 'cn') };
    for (const r of records) expect(r.cost.amountMicros).toBe(usageCost(r.usage, prices[r.via ?? 'realtime']).amountMicros);
    const sum = (rs: ChunkRecord[], k: 'audio' | 'text') => rs.reduce((n, r) => n + (k === 'audio' ? r.usage.input.audio : r.usage.output.text), 0);
    expect(sum(realtime, 'audio')).toBe(stats.billed[MODEL].input.audio);
    expect(sum(realtime, 'text')).toBe(stats.billed[MODEL].output.text);
    expect(sum(batch, 'audio')).toBe(stats.batch.billed[MODEL]?.input.audio ?? 0);
    expect(sum(batch, 'text')).toBe(stats.batch.billed[MODEL]?.output.text ?? 0);
    const totals = await h.ctx.costs.totals(s.spec.runId);
    expect(totals.costMicros).toBe(records.reduce((n, r) => n + r.cost.amountMicros, 0));
    // the budget spent what the ledger says, and holds no reservation (the Batch-rate ones were given back)
    expect(await h.ctx.costs.budget.state(s.spec.runId)).toMatchObject({ spentMicros: totals.costMicros, reservedMicros: 0, openReservations: 0 });
    const report = JSON.parse(await readFile(path.join(out, '_runs', s.spec.runId, 'report.json'), 'utf8'));
    expect(report.cost.ledger.amount_micros).toBe(totals.costMicros);
    // the report says what went which way, and what each way cost: the fallback is not only in the ledger's lines
    const part = (rs: ChunkRecord[]) => rs.reduce((n, r) => n + r.cost.amountMicros, 0);
    expect(report.cost.by_via).toEqual({
      batch: { chunks: batch.length, cost: expect.objectContaining({ amount_micros: part(batch), currency: 'CNY' }) },
      realtime: { chunks: realtime.length, cost: expect.objectContaining({ amount_micros: part(realtime), currency: 'CNY' }) },
    });
    // and `omnibatch report` prints both: what Batch saved, and what the deadline's real-time part cost
    const text = reportText(s.spec.runId, await collectRunReport(h.ctx, s.spec.runId));
    expect(text).toMatch(/\n {2}via batch {4}[\d.]+ CNY in real time for the same usage: saved [\d.]+ CNY\n/);
    expect(text).toContain(`\n  fallback     ${realtime.length} chunk(s) sent in real time for the deadline: ${report.cost.by_via.realtime.cost.amount} CNY\n`);
  }, 120_000);

  it('a provider still cancelling at the last moment: its lines go in real time at once, and its late answers are ignored', async ({ expect }) => {
    // the cancel takes longer than the deadline leaves
    const { h, src } = await setUp({ batchInProgressMs: 60_000, batchCancellingMs: 6000 });
    const out = path.join(h.tmp, 'out');
    const s = await h.run(request(src, out));
    expect(s.status).toBe('completed');
    // the batches end (cancelled) after the run, and are routed: their answers find no line waiting for them
    await expect.poll(async () => (await h.ctx.batches.inputs(s.spec.runId)).every((r) => r.done), { timeout: 30_000 }).toBe(true);
    const stats = h.emulator.stats();
    expect(stats.batch.batches).toEqual({ cancelled: stats.batch.created });
    const records = await ledgerRecords(h, s.spec.runId);
    expect(records.length).toBe(await chunkCount(out));
    // recorded once, in real time: the Batch answers that came after were paid at the provider, never recorded
    expect(records.every((r) => r.via === 'realtime')).toBe(true);
    expect(records.length).toBe(stats.completed);
    expect(stats.batch.lines.completed).toBeGreaterThan(0);
    expect(records.reduce((n, r) => n + r.usage.input.audio, 0)).toBe(stats.billed[MODEL].input.audio);
    expect((await h.ctx.costs.totals(s.spec.runId)).chunks).toBe(records.length);
  }, 120_000);
});
