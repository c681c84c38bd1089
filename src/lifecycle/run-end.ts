/**
 * How a run ends: its report job is enqueued once, when the last file has ended (file-state.ts), and any later
 * look at an ended run without a final status enqueues it again (a worker that died in between).
 */

import type { Context } from '../app/context.ts';
import { jobIds } from '../jobs/catalog.ts';

export async function enqueueReport(ctx: Context, runId: string): Promise<void> {
  const state = await ctx.runs.state(runId);
  await ctx.queues.report.add('report', { runId }, { jobId: jobIds.report(runId, state?.generation ?? 0) });
}

/**
 * Enqueues the report when the run has ended but has no final status yet. The run ends once (one transition
 * learns it): if that job's worker died before enqueueing the report, any later look at the run repairs it.
 * Idempotent: the report's job id is the run's.
 */
export async function ensureReport(ctx: Context, runId: string): Promise<void> {
  if (await ctx.runs.endedUnreported(runId)) await enqueueReport(ctx, runId);
}
