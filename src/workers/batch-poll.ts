/**
 * batch-poll: follows one batch until it ends, waiting between reads as a delayed job (never a sleeping worker
 * slot), then routes its output and error files, read as streams, line by line to their chunks: an answer is
 * recorded here through the line's own handler (recordAnswer: runInfer, the staged result as the commit point,
 * the ledger entry once) and its job promoted to complete; one that cannot be recorded here (a moderation
 * repair to make in real time, an error) is staged for the line job to record. An error is classified as a
 * real-time error and either fails the line (its job raises it) or sends it again in a later batch; a line the
 * batch never answered (expired, cancelled) is sent again. The input is then marked done, so a redone poll
 * does nothing; a poll redone before that finds each recorded line no longer packed, and recording a line
 * again only re-records the same ledger entry.
 */
import type { Job } from 'bullmq';
import { DelayedError } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import type { BatchPollPayload } from '../jobs/catalog.ts';
import { fallBackIfLate, lineToRealtime } from '../lifecycle/batch-fallback.ts';
import { wakeLine } from '../lifecycle/batches.ts';
import { stagedKey } from '../lifecycle/file-state.ts';
import type { BatchObject } from '../models/batch-api.ts';
import { type BatchResultLine, isAnswer, lineError, neverRan, parseResultLine } from '../models/batch-lines.ts';
import type { InputRecord, LineState } from '../runs/batch-store.ts';
import type { Storage } from '../storage/types.ts';
import { describeError } from '../util/errors.ts';
import { ANSWER_FILE, queueForPacker, recordAnswer } from './batch-line.ts';
import { errorLineFate, type LineFate, pollDelayMs, TERMINAL, unansweredFate, unansweredWhy } from './batch-poll-decide.ts';
import { RepairLeftToJob } from './infer.ts';

export type PollOutcome = { input: number; status: string; answered: number; failed: number; resent: number; realtime: number } | { skipped: string };

export async function batchPoll(job: Job<BatchPollPayload>, ctx: JobContext): Promise<PollOutcome> {
  const { runId, input } = job.data;
  const rec = await ctx.batches.input(runId, input);
  if (!rec?.batchId) return { skipped: 'no batch for this input' };
  if (rec.done) return { skipped: 'already routed' };
  const b = await ctx.batchApi.retrieveBatch(rec.batchId);
  await ctx.batches.patchInput(runId, input, { status: b.status, ...(b.request_counts && { counts: b.request_counts }) });
  if (!TERMINAL.has(b.status)) {
    // A stopped run (cancel, budget) cancels its batches; the poll goes on until the provider says cancelled.
    if ((await ctx.runs.stopReason(runId)) && b.status !== 'cancelling') await ctx.batchApi.cancelBatch(b.id).catch(() => undefined);
    const age = Date.now() - b.created_at * 1000;
    const wait = pollDelayMs(age, ctx.cfg.batchPollMs, ctx.cfg.batchPollMaxMs);
    // --batch-fallback realtime: a batch that cannot answer by the deadline is cancelled (lifecycle/batch-fallback.ts)
    const sooner = await fallBackIfLate(ctx, await ctx.spec(runId), rec, b, wait);
    if (!ctx.token) throw new Error('batch-poll can only wait inside a worker');
    await job.moveToDelayed(Date.now() + (sooner ?? wait), ctx.token);
    throw new DelayedError();
  }
  const out = await route(ctx, runId, rec, b);
  await ctx.batches.patchInput(runId, input, { done: true });
  ctx.log.info({ runId, input, batch: b.id, status: b.status, ...out }, 'batch ended');
  return { input, status: b.status, ...out };
}

async function route(ctx: JobContext, runId: string, rec: InputRecord, b: BatchObject) {
  const spec = await ctx.spec(runId);
  const dst = ctx.storage(spec.destination);
  const counts = { answered: 0, failed: 0, resent: 0, realtime: 0 };
  const seen = new Set<string>();
  // a stopped run sends nothing again: its unanswered lines end (their jobs end their files as not run)
  const stopped = await ctx.runs.stopReason(runId);
  const mine = async (ref: string): Promise<LineState | undefined> => {
    const st = await ctx.batches.line(runId, ref);
    // a line sent again meanwhile belongs to its later batch
    if (!st || st.input !== rec.n || st.step === 'queued') return undefined;
    if (st.step === 'packed') return st;
    // settled by an earlier try of this poll that was killed before it woke the job: woken now
    await wakeLine(ctx, st);
    return undefined;
  };
  for (const fileId of [b.output_file_id, b.error_file_id]) {
    if (!fileId) continue;
    for await (const text of ctx.batchApi.fileLines(fileId)) {
      const line = parseResultLine(text);
      if (!line || seen.has(line.custom_id)) continue;
      seen.add(line.custom_id);
      const st = await mine(line.custom_id);
      if (!st) continue;
      if (isAnswer(line)) {
        await answer(ctx, runId, dst, line, st);
        counts.answered++;
        continue;
      }
      const err = lineError(line);
      const fate: LineFate = stopped
        ? { kind: 'fail', code: 'batch_failed', message: `${err.message}; the run stopped (${stopped})` }
        : neverRan(line)
          ? unansweredFate(st.sends, ctx.cfg.batchMaxResubmits, unansweredWhy(b.status))
          : errorLineFate(err.code, err.message, st.sends, ctx.cfg.batchMaxResubmits);
      await settle(ctx, runId, line.custom_id, st, fate, counts, rec);
    }
  }
  // What the batch never answered: a failed batch's named lines fail (validation will fail them again), and
  // so do all its lines when it names none; an expired or cancelled batch's go again (unless the run stopped).
  const errors = b.errors?.data ?? [];
  const named = new Set(errors.flatMap((e) => (typeof e.line === 'number' ? [e.line] : [])));
  for (const [i, ref] of rec.lines.entries()) {
    if (seen.has(ref)) continue;
    const st = await mine(ref);
    if (!st) continue;
    const why = unansweredWhy(b.status, errors);
    let fate: LineFate;
    if (stopped) fate = { kind: 'fail', code: 'batch_failed', message: `${why}; the run stopped (${stopped})` };
    else if (b.status === 'failed' && (named.size === 0 || named.has(i + 1))) fate = { kind: 'fail', code: 'batch_failed', message: why };
    else fate = unansweredFate(st.sends, ctx.cfg.batchMaxResubmits, why);
    await settle(ctx, runId, ref, st, fate, counts, rec);
  }
  return counts;
}

/**
 * An answer, recorded here when it can be (its job then only completes); otherwise (its job gone, a moderation
 * repair to make, an error) staged for the job to record. The line's step says which, once the work is done.
 */
async function answer(ctx: JobContext, runId: string, dst: Storage, line: BatchResultLine, st: LineState): Promise<void> {
  const job = await ctx.queues['batch-line'].getJob(st.job);
  const recorded =
    job !== undefined &&
    (await recordAnswer(ctx, job, line).then(
      () => true,
      (err: unknown) => {
        if (!(err instanceof RepairLeftToJob)) ctx.log.warn({ runId, line: line.custom_id, ...describeError(err) }, 'answer left to its line job');
        return false;
      },
    ));
  if (!recorded) await dst.putJson(stagedKey(runId, st.fileId, st.generation, st.chunk, ANSWER_FILE), line);
  await ctx.batches.patchLine(runId, line.custom_id, { step: recorded ? 'recorded' : 'answered' });
  await wakeLine(ctx, st, job);
}

async function settle(
  ctx: JobContext,
  runId: string,
  ref: string,
  st: LineState,
  fate: LineFate,
  counts: { failed: number; resent: number; realtime: number },
  rec: InputRecord,
): Promise<void> {
  if (fate.kind === 'resend' && rec.fellBackAt !== undefined) {
    // cancelled for the deadline: what it never answered goes in real time, not into another batch
    await lineToRealtime(ctx, runId, ref, rec.n);
    counts.realtime++;
    return;
  }
  if (fate.kind === 'resend') {
    await queueForPacker(ctx, runId, ref, st, { resend: true });
    counts.resent++;
    return;
  }
  await ctx.batches.patchLine(runId, ref, { step: 'failed', code: fate.code, message: fate.message });
  await wakeLine(ctx, st);
  counts.failed++;
}
