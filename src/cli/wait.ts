/** Waiting for a run to end while showing its progress (a live bar on a terminal, a plain line otherwise). */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from '../app/context.ts';
import { unpricedNoteFor } from '../cost/price.ts';
import type { Stage } from '../jobs/catalog.ts';
import { jobIds } from '../jobs/catalog.ts';
import { batchRows } from '../runs/batch-progress.ts';
import { WorkHistory } from '../runs/eta.ts';
import type { RunState } from '../runs/types.ts';
import { OmniError } from '../util/errors.ts';
import { ttyLine } from '../util/tty-line.ts';
import { batchLines } from './batch-progress.ts';
import { exitCodeFor, formatProgress, isFinal, type Progress } from './progress.ts';
import { workersForWait } from './workers-alive.ts';

/**
 * Watching that somebody still works on the run: BullMQ's worker list of every stage's queue. A `run --wait`
 * that found a worker at its start (so it started none) would otherwise wait for ever after that worker exits.
 */
export interface WorkerWatch {
  /** live workers across the stages' queues */
  count(): Promise<number>;
  /** with none for this long: say so once (the run waits for one) */
  warnAfterMs: number;
  /** with none for this long: stop waiting, `no_worker` (the run stays: a worker started later finishes it) */
  giveUpAfterMs: number;
}

/** Live workers of any stage (BullMQ lists a queue's workers by their Redis connection names). */
export async function liveWorkers(ctx: Pick<Context, 'queues'>): Promise<number> {
  const counts = await Promise.all(Object.values(ctx.queues).map((q) => q.getWorkersCount()));
  return counts.reduce((a, n) => a + n, 0);
}

export async function waitForRun(
  ctx: Context,
  runId: string,
  opts: { quiet?: boolean; pollMs?: number; signal?: AbortSignal; workers?: WorkerWatch } = {},
): Promise<RunState> {
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI;
  const started = Date.now();
  const history = new WorkHistory();
  let lastLine = 0;
  let noWorkerSince: number | undefined;
  let warned = false;
  for (;;) {
    const state = await ctx.runs.state(runId);
    if (!state) throw new OmniError('run_not_found', `no run ${runId}`);
    const finished = isFinal(state.status);
    if (!finished && opts.workers) {
      const now = Date.now();
      if ((await opts.workers.count()) > 0) noWorkerSince = undefined;
      else noWorkerSince ??= now;
      const idle = noWorkerSince === undefined ? 0 : now - noWorkerSince;
      if (idle >= opts.workers.warnAfterMs && !warned) {
        warned = true;
        process.stderr.write(`${tty ? '\n' : ''}no worker is running: run ${runId} waits for one (start \`omnibatch worker\`)\n`);
      }
      if (idle >= opts.workers.giveUpAfterMs) {
        throw new OmniError(
          'no_worker',
          `no worker has run for ${Math.round(idle / 1000)} s: stopped waiting. Run ${runId} is intact: start \`omnibatch worker\` and it finishes (follow it with \`omnibatch status ${runId}\`)`,
        );
      }
    }
    if (!opts.quiet && (tty || finished || Date.now() - lastLine >= 5000)) {
      const line = formatProgress(await progressOf(ctx, state, (Date.now() - started) / 1000, history), tty);
      if (tty) {
        // Log lines go above the bar (util/tty-line.ts): the bar is redrawn under each of them.
        if (finished) ttyLine.done(line);
        else ttyLine.show(line);
      } else process.stderr.write(`${line}\n`);
      // --via batch: each batch on its own line (not on a live bar: it would scroll it away)
      if (state.spec.via === 'batch' && (!tty || finished)) {
        const rows = batchRows(await ctx.batches.inputs(runId), ctx.cfg.batchWindow, Date.now());
        for (const l of batchLines(rows.filter((r) => finished || r.status !== 'completed'))) process.stderr.write(`${l}\n`);
      }
      lastLine = Date.now();
    }
    if (finished) return state;
    if (opts.signal?.aborted) return state;
    await sleep(opts.pollMs ?? ctx.cfg.waitPollMs ?? (tty ? 250 : 1000));
  }
}

/** Everything a progress line shows, read now: state, cost (and what had no price), requests done. */
export async function progressOf(ctx: Context, state: RunState, elapsedS: number, history?: WorkHistory): Promise<Progress> {
  const t = await ctx.costs.totals(state.spec.runId);
  const now = Date.now();
  history?.observe(now, t.chunks);
  return {
    state,
    costMicros: t.costMicros,
    currency: t.currency,
    priced: t.priced,
    unpricedNote: unpricedNoteFor(t.usage, t.priced, state.spec.model, state.spec.region, ctx.pricing),
    elapsedS,
    requestsDone: t.chunks,
    now,
    recent: history?.recent(now),
  };
}

/** Why a finished run did not complete, in one line for stderr and `status`; undefined when it completed. */
export function stopLine(state: Pick<RunState, 'status' | 'stopReason' | 'stopMessage' | 'reportError'>): string | undefined {
  if (state.reportError) return `report_unwritable: ${state.reportError}`;
  if (!state.stopReason && !state.stopMessage) return undefined;
  return `stopped (${state.stopReason ?? 'unknown'}): ${state.stopMessage ?? 'no reason recorded'}`;
}

/** `run --wait`'s exit code: 1 when the run's report could not be written (its record is incomplete), else by status. */
export function waitExitCode(state: Pick<RunState, 'status' | 'reportError'>): number {
  return state.reportError ? 1 : exitCodeFor(state.status);
}

/**
 * `retry --wait` and `cancel --wait`: workers for `stages` in this process when none is alive, the progress until
 * the run ends, why it stopped, and the exit code `run --wait` would give.
 */
export async function waitWithWorkers(ctx: Context, runId: string, stages: readonly Stage[]): Promise<number> {
  const embedded = await workersForWait(ctx, stages, { stages });
  try {
    const state = await waitForRun(ctx, runId);
    process.stdout.write(`${state.status}\n`);
    const why = stopLine(state);
    if (why) process.stderr.write(`${why}\n`);
    return waitExitCode(state);
  } finally {
    await embedded?.close();
  }
}

/**
 * After a run ended: its end-of-run webhook job (report.ts enqueues it right after the run's final status)
 * delivered, failed for good, or not there (no report, no URL), polled up to `timeoutMs`.
 */
export async function awaitRunEndNotify(
  ctx: Pick<Context, 'queues'>,
  runId: string,
  generation: number,
  timeoutMs: number,
): Promise<'delivered' | 'failed' | 'none' | 'timed out'> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const job = await ctx.queues.notify.getJob(jobIds.notify(runId, 'run.end', generation));
    const state = job ? await job.getState() : undefined;
    if (state === 'completed') return 'delivered';
    if (state === 'failed') return 'failed';
    if (!job) {
      // Not queued yet, or never: the report job decides (it enqueues the webhook last, after the final status).
      const rep = await ctx.queues.report.getJob(jobIds.report(runId, generation));
      const repState = rep ? await rep.getState() : 'unknown';
      if (repState === 'completed' || repState === 'failed' || repState === 'unknown') {
        // one more look: the job may have been added between the two reads
        if (!(await ctx.queues.notify.getJob(jobIds.notify(runId, 'run.end', generation)))) return 'none';
      }
    }
    await sleep(200);
  }
  return 'timed out';
}
