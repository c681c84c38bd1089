/**
 * report: when every file of a run is done, failed, skipped or not run: report.json, cost.csv,
 * failures.jsonl, skipped.jsonl (and for moderation moderation.jsonl and flagged.csv) under <destination>/_runs/<runId>/,
 * the run's final status, the output calibration of its model and task, and the webhook. The decisions are in
 * report-decide.ts and failure-decide.ts; this file runs them over narrow ports (fakes: test/fakes/report.ts).
 */
import type { Job } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import { addRun, priorOutput } from '../cost/calibration.ts';
import type { ReportPayload } from '../jobs/catalog.ts';
import { enqueueNotify } from '../lifecycle/notifications.ts';
import { type CollectedReport, collectRunReport } from '../lifecycle/run-report.ts';
import type { RunSpec, RunState } from '../runs/types.ts';
import { runKey, stagingPrefix } from '../storage/keys.ts';
import type { Storage } from '../storage/types.ts';
import { describeError } from '../util/errors.ts';
import type { Logger } from '../util/logger.ts';
import { isFinalAttempt } from './failure-decide.ts';
import { endNotification } from './report-decide.ts';

/** Everything report touches. */
export interface ReportPorts {
  spec(runId: string): Promise<RunSpec>;
  /** the run's documents, from its file states and ledger (lifecycle/run-report.ts) */
  collect(runId: string): Promise<CollectedReport>;
  runs: {
    generation(runId: string): Promise<number>;
    setFinal(runId: string, status: RunState['status'], retentionS: number): Promise<void>;
    reportFailed(runId: string, message: string, retentionS: number): Promise<void>;
  };
  storage(location: string): Pick<Storage, 'putText' | 'putJson' | 'deletePrefix' | 'uri'>;
  /** records what the run was billed for output against the task's prior (cost/calibration.ts) */
  calibrate(runId: string, spec: RunSpec, doc: CollectedReport['report'], retentionS: number): Promise<void>;
  /** the run's ledger and budget keys expire with its state */
  expireCosts(runId: string, seconds: number): Promise<void>;
  enqueueNotify(n: NonNullable<ReturnType<typeof endNotification>> & { runId: string; generation: number }): Promise<void>;
  retentionDays: number;
  log: Logger;
}

export function reportPorts(ctx: JobContext): ReportPorts {
  return {
    spec: (runId) => ctx.spec(runId),
    collect: (runId) => collectRunReport(ctx, runId),
    runs: {
      generation: async (runId) => (await ctx.runs.state(runId))?.generation ?? 0,
      setFinal: (runId, status, retentionS) => ctx.runs.setFinal(runId, status, retentionS),
      reportFailed: (runId, message, retentionS) => ctx.runs.reportFailed(runId, message, retentionS),
    },
    storage: (location) => ctx.storage(location),
    calibrate: (runId, spec, doc, retentionS) => calibrate(ctx, runId, spec, doc, retentionS),
    expireCosts: (runId, seconds) => ctx.costs.expire(runId, seconds),
    enqueueNotify: (n) => enqueueNotify(ctx, n),
    retentionDays: ctx.cfg.runRetentionDays,
    log: ctx.log,
  };
}

export async function report(job: Job<ReportPayload>, ctx: JobContext): Promise<{ status: string }> {
  return runReport(job, reportPorts(ctx));
}

export async function runReport(job: Pick<Job<ReportPayload>, 'data' | 'attemptsMade' | 'opts'>, p: ReportPorts): Promise<{ status: string }> {
  const { runId } = job.data;
  const spec = await p.spec(runId);
  const dst = p.storage(spec.destination);
  const r = await p.collect(runId);
  const generation = await p.runs.generation(runId);
  const retentionS = p.retentionDays * 24 * 3600;
  try {
    await dst.putText(runKey(runId, 'cost.csv'), r.costCsv, 'text/csv');
    await dst.putText(runKey(runId, 'failures.jsonl'), r.failuresJsonl, 'application/x-ndjson');
    await dst.putText(runKey(runId, 'skipped.jsonl'), r.skippedJsonl, 'application/x-ndjson');
    if (r.review) {
      await dst.putText(runKey(runId, 'moderation.jsonl'), r.review.jsonl, 'application/x-ndjson');
      await dst.putText(runKey(runId, 'flagged.csv'), r.review.flaggedCsv, 'text/csv');
    }
    await dst.putJson(runKey(runId, 'report.json'), r.report);
  } catch (err) {
    // The last attempt (or a refusal no attempt will change) still ends the run: stopped_error, with why.
    const e = describeError(err);
    if (isFinalAttempt({ code: e.code, attemptsMade: job.attemptsMade, attempts: job.opts.attempts })) {
      p.log.error({ code: e.code, err: e.message }, 'the run report could not be written: the run ends stopped_error');
      await p.runs.reportFailed(runId, `${dst.uri}${runKey(runId, 'report.json')}: ${e.code}: ${e.message}`, retentionS);
    }
    throw err;
  }
  // Whatever staging is left goes with the run: a file cleaned up while its storage blinked, or whose worker was
  // killed between the file's end and its cleanup (bench chaos kill-9 left one file's staging in one run of two).
  await dst.deletePrefix(stagingPrefix(runId)).catch((err: Error) => p.log.warn({ err: err.message }, 'run staging cleanup failed'));
  await p.runs.setFinal(runId, r.status, retentionS);
  await p.calibrate(runId, spec, r.report, retentionS);
  await p.expireCosts(runId, retentionS);
  p.log.info({ status: r.status }, 'run ended');
  // Queued, not sent: delivery retries on its own queue. The same job and delivery id on a redone report job
  // (and new ones for the report after a `retry`): receivers dedupe on the delivery id.
  // The report is stored (above): the job names it, and the notify worker reads it at delivery.
  const notification = endNotification(spec, r.status);
  if (notification) await p.enqueueNotify({ ...notification, runId, generation });
  return { status: r.status };
}

/**
 * What this run's answers were billed for output, beside what the task's prior expected for the same requests
 * and seconds (cost/calibration.ts): later estimates of this model and task are scaled by it. Only requests that
 * answered count (chunks of succeeded files: retries and failed files answered nothing).
 */
async function calibrate(ctx: JobContext, runId: string, spec: RunSpec, doc: CollectedReport['report'], retentionS: number): Promise<void> {
  const chunks = doc.requests - doc.retries;
  if (doc.counts.succeeded === 0 || chunks <= 0 || doc.counts.failed > 0) return;
  const run = { observed: doc.usage.output.text, expected: priorOutput(spec.task, chunks, doc.media_seconds), requests: chunks };
  await addRun(ctx.redis, ctx.keyPrefix, runId, spec.model, spec.task, run, retentionS).catch((err: unknown) =>
    ctx.log.warn({ err }, 'output calibration not recorded'),
  );
}
