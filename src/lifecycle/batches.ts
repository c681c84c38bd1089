/**
 * How a run's Batch lines end when their batch cannot: a line failed here wakes its job, which raises the
 * code and fails its file like any request (lifecycle of a chunk stays in the line job). And a cancelled
 * run's batches are cancelled at the provider, so no answer is paid for after the user said stop.
 */
import type { Job } from 'bullmq';
import type { Context } from '../app/context.ts';
import { TERMINAL_BATCH_STATUSES } from '../models/batch-api.ts';
import type { LineState } from '../runs/batch-store.ts';
import type { FailureCode } from '../util/failure-codes.ts';

/** A line job waiting delayed is told now, not at its next safety-net wake (`job`: already fetched). */
export async function wakeLine(ctx: Context, st: Pick<LineState, 'job'>, job?: Job): Promise<void> {
  const j = job ?? (await ctx.queues['batch-line'].getJob(st.job));
  // promote() refuses a job that is not delayed (still running its first run, or already woken): nothing to do
  await j?.promote().catch(() => undefined);
}

/** Fails every line still packed into `input` (or into any input without a batch, when `input` is undefined). */
export async function failPackedLines(ctx: Context, runId: string, input: number | undefined, code: FailureCode, message: string): Promise<number> {
  let n = 0;
  for (const rec of await ctx.batches.inputs(runId)) {
    if (input === undefined ? rec.batchId !== undefined : rec.n !== input) continue;
    for (const ref of rec.lines) {
      const st = await ctx.batches.line(runId, ref);
      if (st?.step !== 'packed' || st.input !== rec.n) continue;
      await ctx.batches.patchLine(runId, ref, { step: 'failed', code, message });
      await wakeLine(ctx, st);
      n++;
    }
  }
  return n;
}

/**
 * `omnibatch cancel`: every batch of the run the provider has not ended is cancelled there. Returns their ids.
 * The poller cancels a stopped run's batches too and may come first: the provider then refuses this cancel (400,
 * "cannot cancel a batch with status cancelled"); the batch's own status says whether that refusal is the answer.
 */
export async function cancelRunBatches(ctx: Context, runId: string): Promise<string[]> {
  const cancelled: string[] = [];
  for (const rec of await ctx.batches.inputs(runId)) {
    if (!rec.batchId || rec.done || (rec.status && TERMINAL_BATCH_STATUSES.includes(rec.status))) continue;
    const id = rec.batchId;
    const b = await ctx.batchApi.cancelBatch(id).catch(async (e: unknown) => {
      const current = await ctx.batchApi.retrieveBatch(id).catch(() => undefined);
      if (current && (current.status === 'cancelling' || TERMINAL_BATCH_STATUSES.includes(current.status))) return current;
      throw e;
    });
    await ctx.batches.patchInput(runId, rec.n, { status: b.status });
    if (b.status === 'cancelling' || b.status === 'cancelled') cancelled.push(id);
  }
  return cancelled;
}
