/**
 * `--batch-fallback realtime`, carried out at the poller's reads (the decision is cost/deadline-fallback.ts):
 * a batch that cannot answer by the deadline is cancelled at the provider, and the lines it never answered
 * leave it for real time (the step `realtime`, taken only by a line still packed into that batch); their jobs
 * are woken and call the model in real time (workers/batch-line-ports.ts).
 */
import type { Context } from '../app/context.ts';
import { type FallbackStep, leftWallMs, shouldFallBack } from '../cost/deadline-fallback.ts';
import { type BatchObject, windowSeconds } from '../models/batch-api.ts';
import type { InputRecord, LineState } from '../runs/batch-store.ts';
import type { RunSpec } from '../runs/types.ts';
import { wakeLine } from './batches.ts';

/**
 * At a read of a batch that has not ended: asks the decision and carries it out. Returns the wait before the
 * next read when the fallback shortens it (a cancelled batch is read again soon), else undefined.
 */
export async function fallBackIfLate(ctx: Context, spec: RunSpec, rec: InputRecord, b: BatchObject, nextPollMs: number): Promise<number | undefined> {
  if (spec.batchFallback !== 'realtime' || !spec.deadline || (b.status === 'cancelling' && rec.fellBackAt === undefined)) return undefined;
  const step = shouldFallBack({
    nowMs: Date.now(),
    deadlineMs: Date.parse(spec.deadline),
    batchCreatedMs: b.created_at * 1000,
    windowMs: windowSeconds(ctx.cfg.batchWindow) * 1000,
    leftWallMs: leftWallMs(plannedWallS(spec), await ctx.batches.lineCounts(spec.runId)),
    nextPollMs: rec.fellBackAt === undefined ? nextPollMs : ctx.cfg.batchPollMs,
    // the provider ends a cancel once its running lines are done: three first-poll intervals (30 s by default), at least 2 s
    cancelAllowanceMs: Math.max(3 * ctx.cfg.batchPollMs, 2000),
    ...(rec.fellBackAt !== undefined && { fellBackAtMs: rec.fellBackAt }),
  });
  return act(ctx, spec.runId, rec, b, step);
}

async function act(ctx: Context, runId: string, rec: InputRecord, b: BatchObject, step: FallbackStep): Promise<number | undefined> {
  switch (step.kind) {
    case 'wait':
      return undefined;
    case 'cancelling':
      return ctx.cfg.batchPollMs;
    case 'cancel': {
      await ctx.batches.patchInput(runId, rec.n, { fellBackAt: Date.now(), fallbackWhy: step.reason });
      // A batch that is finalizing cannot be cancelled: it is about to end, and its unanswered lines go in real time then.
      const c = await ctx.batchApi.cancelBatch(b.id).catch((err: unknown) => {
        ctx.log.warn({ runId, input: rec.n, batch: b.id, err: String(err) }, 'batch-fallback: the cancel was refused');
        return undefined;
      });
      if (c) await ctx.batches.patchInput(runId, rec.n, { status: c.status });
      ctx.log.info({ runId, input: rec.n, batch: b.id, reason: step.reason }, 'batch-fallback: batch cancelled for the deadline');
      return ctx.cfg.batchPollMs;
    }
    case 'force': {
      const n = await toRealtime(ctx, runId, rec);
      // told once: later reads until the provider ends the batch find no line left to move
      if (n > 0)
        ctx.log.warn({ runId, input: rec.n, batch: b.id, lines: n, reason: step.reason }, 'batch-fallback: lines sent in real time before their batch ended');
      return ctx.cfg.batchPollMs;
    }
  }
}

/** Every line still packed into the input leaves it for real time, and its job is woken. */
async function toRealtime(ctx: Context, runId: string, rec: InputRecord): Promise<number> {
  let n = 0;
  for (const ref of rec.lines) if (await lineToRealtime(ctx, runId, ref, rec.n)) n++;
  return n;
}

/** One line leaves its batch for real time (if still packed into it); its job is woken. */
export async function lineToRealtime(ctx: Context, runId: string, ref: string, input: number): Promise<LineState | undefined> {
  const st = await ctx.batches.toRealtime(runId, ref, input);
  if (st) await wakeLine(ctx, st);
  return st;
}

/** The planner's predicted wall time of the whole run in real time (0 when the run was not planned). */
function plannedWallS(spec: RunSpec): number {
  if (!spec.predictedFinishAt) return 0;
  return Math.max(0, (Date.parse(spec.predictedFinishAt) - Date.parse(spec.createdAt)) / 1000);
}
