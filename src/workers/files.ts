/** File-level transitions every handler shares: finish once, clean staging, end the run when it was the last. */
import { sampleProgress } from '../runs/series.ts';
import type { FileState, StopReason } from '../runs/types.ts';
import { stagingPrefix } from '../storage/keys.ts';
import type { Context } from './context.ts';
import { enqueueReport } from './report.ts';

export async function isFileOpen(ctx: Context, runId: string, fileId: string): Promise<boolean> {
  return (await ctx.runs.fileStatus(runId, fileId)) === 'pending';
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
}

export async function failFile(ctx: Context, runId: string, fileId: string, code: string, message: string): Promise<void> {
  await finishFile(ctx, runId, fileId, { status: 'failed', code, message: message.slice(0, 1000) });
}

export async function finishNotRun(ctx: Context, runId: string, fileId: string, reason: StopReason): Promise<void> {
  await finishFile(ctx, runId, fileId, { status: 'not_run', code: `stopped_${reason}`, message: `not run: the run was stopped (${reason})` });
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
