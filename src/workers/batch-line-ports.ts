/**
 * The batch-line job's real-time ports: `--batch-fallback realtime` took its line from its batch
 * (lifecycle/batch-fallback.ts), so it runs infer's handler in real time, at the real-time rate, under the
 * real-time quota, and its ledger entry says `via: realtime`. The line is recorded once: a batch answer for it
 * that comes afterwards is not routed (the poller routes only lines still packed into that batch).
 */
import type { Job } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import type { Costs } from '../app/costs.ts';
import type { BatchLinePayload } from '../jobs/catalog.ts';
import { type InferCosts, type InferOutcome, type InferPorts, inferPorts, runInfer } from './infer.ts';

/**
 * The line job in real time: infer's handler over the real-time ports. The budget's reservation for the chunk
 * was made at the Batch rate: it is given back and the chunk reserved again at the real-time rate (a redone job
 * does the same, so it holds one reservation; a settled chunk stays settled).
 */
export async function realtimeLine(job: Job<BatchLinePayload>, ctx: JobContext, ref: string): Promise<InferOutcome> {
  const out = await runInfer(job, realtimePorts(inferPorts(ctx, job), ctx.costs));
  // recorded: no longer counted among the lines left when the next batch weighs its fallback
  if ('chunk' in out) await ctx.batches.patchLine(job.data.runId, ref, { step: 'recorded' });
  return out;
}

/** A line job's ports in real time: its rate, its quota, `via: realtime`, and the budget reserved again at that rate. */
export function realtimePorts(base: InferPorts, c: InferCosts & Pick<Costs, 'release'>): InferPorts {
  return { ...base, via: 'realtime', costs: realtimeCosts(c) };
}

function realtimeCosts(c: InferCosts & Pick<Costs, 'release'>): InferCosts {
  return {
    recordChunk: (...a) => c.recordChunk(...a),
    async reserve(runId, fileId, chunk, estimateMicros, budgetMicros) {
      await c.release(runId, fileId, chunk);
      return c.reserve(runId, fileId, chunk, estimateMicros, budgetMicros);
    },
    settle: (...a) => c.settle(...a),
    reserveTokens: (...a) => c.reserveTokens(...a),
    settleTokens: (...a) => c.settleTokens(...a),
  };
}
