/**
 * report: when every file of a run is done, failed, skipped or not run: report.json, cost.csv and
 * failures.jsonl under <destination>/_runs/<runId>/, the run's final status, and the webhook.
 */
import type { Job } from 'bullmq';
import { jobIds, type ReportPayload } from '../jobs/catalog.ts';
import { sendWebhook } from '../ops/webhook.ts';
import { runKey } from '../storage/keys.ts';
import type { Context, JobContext } from './context.ts';
import { collectRunReport } from './run-report.ts';

export async function enqueueReport(ctx: Context, runId: string): Promise<void> {
  const state = await ctx.runs.state(runId);
  await ctx.queues.report.add('report', { runId }, { jobId: jobIds.report(runId, state?.generation ?? 0) });
}

export async function report(job: Job<ReportPayload>, ctx: JobContext): Promise<{ status: string }> {
  const { runId } = job.data;
  const spec = await ctx.spec(runId);
  const dst = ctx.storage(spec.destination);
  const r = await collectRunReport(ctx, runId);
  await dst.putText(runKey(runId, 'cost.csv'), r.costCsv, 'text/csv');
  await dst.putText(runKey(runId, 'failures.jsonl'), r.failuresJsonl, 'application/x-ndjson');
  await dst.putJson(runKey(runId, 'report.json'), r.report);
  await ctx.runs.setFinal(runId, r.status);
  ctx.log.info({ status: r.status }, 'run ended');
  if (spec.notifyUrl) {
    const event = r.status === 'completed' || r.status === 'completed_with_failures' ? 'run.completed' : 'run.stopped';
    await sendWebhook(spec.notifyUrl, event, r.report, { secret: ctx.cfg.webhookSecret, log: ctx.log });
  }
  return { status: r.status };
}
