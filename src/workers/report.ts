/**
 * report: when every file of a run is done, failed, skipped or not run: report.json, cost.csv and
 * failures.jsonl under <destination>/_runs/<runId>/, the run's final status, and the webhook.
 */
import type { Job } from 'bullmq';
import type { ReportPayload } from '../jobs/catalog.ts';
import { runKey, stagingPrefix } from '../storage/keys.ts';
import type { JobContext } from '../app/context.ts';
import { collectRunReport } from '../lifecycle/run-report.ts';
import { describeError } from '../util/errors.ts';
import { isFinalAttempt } from './failure-decide.ts';
import { enqueueNotify } from '../lifecycle/notifications.ts';

export async function report(job: Job<ReportPayload>, ctx: JobContext): Promise<{ status: string }> {
  const { runId } = job.data;
  const spec = await ctx.spec(runId);
  const dst = ctx.storage(spec.destination);
  const r = await collectRunReport(ctx, runId);
  const generation = (await ctx.runs.state(runId))?.generation ?? 0;
  const retentionS = ctx.cfg.runRetentionDays * 24 * 3600;
  try {
    await dst.putText(runKey(runId, 'cost.csv'), r.costCsv, 'text/csv');
    await dst.putText(runKey(runId, 'failures.jsonl'), r.failuresJsonl, 'application/x-ndjson');
    await dst.putJson(runKey(runId, 'report.json'), r.report);
  } catch (err) {
    // The last attempt (or a refusal no attempt will change) still ends the run: stopped_error, with why.
    const e = describeError(err);
    if (isFinalAttempt({ code: e.code, attemptsMade: job.attemptsMade, attempts: job.opts.attempts })) {
      ctx.log.error({ code: e.code, err: e.message }, 'the run report could not be written: the run ends stopped_error');
      await ctx.runs.reportFailed(runId, `${dst.uri}${runKey(runId, 'report.json')}: ${e.code}: ${e.message}`, retentionS);
    }
    throw err;
  }
  // Whatever staging is left goes with the run: a file cleaned up while its storage blinked, or whose worker was
  // killed between the file's end and its cleanup (bench chaos kill-9 left one file's staging in one run of two).
  await dst.deletePrefix(stagingPrefix(runId)).catch((err: Error) => ctx.log.warn({ err: err.message }, 'run staging cleanup failed'));
  await ctx.runs.setFinal(runId, r.status, retentionS);
  await ctx.costs.expire(runId, ctx.cfg.runRetentionDays * 24 * 3600);
  ctx.log.info({ status: r.status }, 'run ended');
  if (spec.notifyUrl) {
    const event = r.status === 'completed' || r.status === 'completed_with_failures' ? 'run.completed' : 'run.stopped';
    // Queued, not sent: delivery retries on its own queue. The same job and delivery id on a redone report job
    // (and new ones for the report after a `retry`): receivers dedupe on the delivery id.
    // The report is stored (above): the job names it, and the notify worker reads it at delivery.
    await enqueueNotify(ctx, {
      runId,
      url: spec.notifyUrl,
      event,
      bodyRef: { destination: spec.destination, key: runKey(runId, 'report.json') },
      allowUnsigned: spec.allowUnsignedWebhooks === true,
      generation,
    });
  }
  return { status: r.status };
}
