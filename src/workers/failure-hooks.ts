/**
 * What a stage's final failure does to its run, one hook per stage: a table typed over every Stage, so a new
 * stage without one does not compile. The worker bootstrap (index.ts) calls them; it decides only when a
 * failure is final.
 */
import type { Job } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import type { Payloads, Stage } from '../jobs/catalog.ts';
import { failPackedLines } from '../lifecycle/batches.ts';
import { failFile, finishNotRun, isSuperseded, replanSmaller } from '../lifecycle/file-state.ts';
import { ensureReport } from '../lifecycle/run-end.ts';
import type { FailureCode } from '../util/failure-codes.ts';
import { ledgerFile } from './infer.ts';

export interface FailureHook<S extends Stage> {
  /**
   * A final failure the stage turns into something else before its file fails: what was done (the job ends
   * without failing its file), or undefined (it fails).
   */
  rescue?(job: Job<Payloads[S]>, ctx: JobContext, code: FailureCode): Promise<{ note: string; outcome: string } | undefined>;
  /** The job failed for good with `code` (its run and its file, when it has one, are known). */
  onFailed(job: Job<Payloads[S]>, ctx: JobContext, code: FailureCode, message: string): Promise<void>;
}

/** A file-level job: its file fails with the code, unless the job's generation was left behind. */
async function failItsFile(
  job: Job<{ runId: string; fileId: string; generation?: number }>,
  ctx: JobContext,
  code: FailureCode,
  message: string,
): Promise<void> {
  const d = job.data;
  if (!(await isCurrent(ctx, d))) return;
  await failFile(ctx, d.runId, d.fileId, code, message);
}

/** A job of a generation the file has left (re-planned, retried) does not decide the file's fate. */
async function isCurrent(ctx: JobContext, d: { runId: string; fileId?: string; generation?: number }): Promise<boolean> {
  return Boolean(d.fileId) && !(await isSuperseded(ctx, d.runId, d.fileId!, d.generation));
}

/** A chunk's final failure, through a streaming request or a Batch line alike. */
const chunkHook: FailureHook<'infer'> = {
  async rescue(job, ctx, code) {
    if (code !== 'input_too_large' || !(await replanSmaller(job, ctx))) return undefined;
    return { note: 'the service refused the chunk as too large: planning the file again, smaller', outcome: 're-planned smaller' };
  },
  async onFailed(job, ctx, code, message) {
    const d = job.data;
    if (!(await isCurrent(ctx, d))) return;
    // A budget reservation is for a request that will not happen now: give it back at once.
    await ctx.costs.release(d.runId, ledgerFile(d), d.chunk);
    await failFile(ctx, d.runId, d.fileId, code, message);
  },
};

export const failureHooks: { [S in Stage]: FailureHook<S> } = {
  scan: {
    async onFailed(job, ctx, code, message) {
      const { runId } = job.data;
      if (!runId) return;
      await ctx.runs.stop(runId, 'error', `scan failed: ${code}: ${message}`);
      await ctx.runs.scanDone(runId);
      // Files the scan registered but never enqueued would stay pending for ever: the stopped run ends them.
      for await (const [fileId, f] of ctx.runs.files(runId)) if (f.status === 'pending') await finishNotRun(ctx, runId, fileId, 'error');
      await ensureReport(ctx, runId);
    },
  },
  prepare: { onFailed: failItsFile },
  infer: chunkHook,
  finalize: { onFailed: failItsFile },
  report: { async onFailed() {} }, // the report handler ends its run itself when it cannot write (report.ts)
  // A notification that failed for good is in the worker's log and BullMQ's failed set; no file or run depends on it.
  notify: { async onFailed() {} },
  'batch-line': chunkHook as unknown as FailureHook<'batch-line'>, // the same payload as infer's
  // The packer or a poller gave up (the provider's Files/Batches endpoints kept failing): the lines it held
  // fail, so their files end instead of waiting for a batch that will not come.
  'batch-submit': {
    async onFailed(job, ctx, _code, message) {
      await failPackedLines(ctx, job.data.runId, undefined, 'batch_failed', `could not hand the lines to the Batch API: ${message}`);
    },
  },
  'batch-poll': {
    async onFailed(job, ctx, _code, message) {
      await failPackedLines(ctx, job.data.runId, job.data.input, 'batch_failed', `could not follow the batch: ${message}`);
    },
  },
};

/**
 * Every stage's common part first (a code the failure table says nothing else will survive stops the run), then
 * the stage's own hook.
 */
export async function onFinalFailure<S extends Stage>(
  stage: S,
  job: Job<Payloads[S]>,
  ctx: JobContext,
  code: FailureCode,
  message: string,
  stopRun: boolean,
): Promise<void> {
  const d = job.data as { runId?: string };
  if (!d.runId) return;
  if (stopRun) await ctx.runs.stop(d.runId, 'auth', `${code}: ${message}`);
  await (failureHooks[stage] as FailureHook<S>).onFailed(job, ctx, code, message);
}
