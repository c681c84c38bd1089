/** File-level transitions every handler shares: finish once, clean staging, end the run when it was the last. */

import type { Job } from 'bullmq';
import type { Context } from '../app/context.ts';
import { type InferPayload, jobIds } from '../jobs/catalog.ts';
import { sampleProgress } from '../runs/series.ts';
import type { FileState, StopReason } from '../runs/types.ts';
import { stagingKey, stagingPrefix } from '../storage/keys.ts';
import type { FailureCode } from '../util/failure-codes.ts';
import { enqueueReport, ensureReport } from './run-end.ts';

/**
 * True while the file is pending. A job that finds its file already finished also makes sure the run's report
 * was enqueued: the job that ended the run may have died between the transition and enqueueing it.
 */
export async function isFileOpen(ctx: Context, runId: string, fileId: string): Promise<boolean> {
  const status = await ctx.runs.fileStatus(runId, fileId);
  if (status && status !== 'pending') await ensureReport(ctx, runId);
  return status === 'pending';
}

/**
 * A staged object's key for one generation of a file: a re-planned file's chunks never meet the results of
 * the generation it replaced, and removing the file's staging prefix removes every generation.
 */
export function stagedKey(runId: string, fileId: string, generation: number | undefined, chunk: number, name: string): string {
  return stagingKey(runId, fileId, chunk, generation ? `g${generation}.${name}` : name);
}

/** True when the file has a newer generation (re-planned or retried) than this job's: the job has nothing left to do. */
export async function isSuperseded(ctx: Context, runId: string, fileId: string, generation: number | undefined): Promise<boolean> {
  return (await ctx.runs.generation(runId, fileId)) > (generation ?? 0);
}

/** Makes the file terminal (once) and, when that ended the run, enqueues the run report. */
export async function finishFile(ctx: Context, runId: string, fileId: string, patch: Partial<FileState> & Pick<FileState, 'status'>): Promise<void> {
  const current = await ctx.runs.file(runId, fileId);
  if (!current) return;
  const r = await ctx.runs.finishFile(runId, fileId, { ...current, ...patch });
  if (r === 'done' || r === 'ended') await removeStaging(ctx, runId, fileId);
  // the dashboard's chart point (never throws; at most one per interval across workers)
  if (r === 'done' || r === 'ended') await sampleProgress(ctx, runId, { ended: r === 'ended' });
  if (r === 'ended') await enqueueReport(ctx, runId);
  // A redone job of a file that ended the run before its report was enqueued (the worker died in between).
  if (r === 'already') await ensureReport(ctx, runId);
}

export async function failFile(ctx: Context, runId: string, fileId: string, code: FailureCode, message: string): Promise<void> {
  await finishFile(ctx, runId, fileId, { status: 'failed', code, message: message.slice(0, 1000) });
}

export async function finishNotRun(ctx: Context, runId: string, fileId: string, reason: StopReason): Promise<void> {
  await finishFile(ctx, runId, fileId, {
    status: 'not_run',
    code: `stopped_${reason}` satisfies FailureCode,
    message: `not run: the run was stopped (${reason})`,
  });
}

async function removeStaging(ctx: Context, runId: string, fileId: string): Promise<void> {
  const spec = await ctx.spec(runId);
  const dst = ctx.storage(spec.destination);
  try {
    await dst.deletePrefix(stagingPrefix(runId, fileId));
  } catch (err) {
    // Staging is scratch space: a leftover is harmless (and swept with the run), a crash here is not.
    ctx.log.warn({ err: (err as Error).message }, 'staging cleanup failed');
  }
}

/**
 * "A chunk refused for size -> re-plan smaller once": the file's staging goes, and a new generation of the
 * file (fresh job ids) is prepared with halved targets. False when it was already re-planned: then it fails.
 */
export async function replanSmaller(job: Job<InferPayload>, ctx: Context): Promise<boolean> {
  const d = job.data;
  if ((d.shrink ?? 0) >= 1 || !(await isFileOpen(ctx, d.runId, d.fileId))) return false;
  const file = await ctx.runs.file(d.runId, d.fileId);
  if (!file) return false;
  // One generation counter per file (shared with `retry`): the first sibling to get here allocates the next
  // generation, the others (and a redone job) get the same one. The claim guards only the staging removal:
  // the prepare job is added by every caller (its job id dedupes), so a kill between claim and add loses nothing.
  const { first, generation } = await ctx.runs.replan(d.runId, d.fileId, d.generation ?? 0);
  if (!generation) return true; // the file has already moved on to a newer generation
  if (first) await removeStaging(ctx, d.runId, d.fileId);
  await ctx.queues.prepare.add(
    'prepare',
    { runId: d.runId, fileId: d.fileId, key: file.key, etag: file.etag, size: file.size, generation, shrink: (d.shrink ?? 0) + 1 },
    { jobId: jobIds.prepare(d.runId, d.fileId, generation) },
  );
  return true;
}
