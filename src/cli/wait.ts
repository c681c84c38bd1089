/** Waiting for a run to end while showing its progress (a live bar on a terminal, a plain line otherwise). */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stage } from '../jobs/catalog.ts';
import type { RunState } from '../runs/types.ts';
import { workersForWait } from './workers-alive.ts';
import { OmniError } from '../util/errors.ts';
import type { Context } from '../app/context.ts';
import { unpricedNoteFor } from '../cost/price.ts';
import { ttyLine } from '../util/tty-line.ts';
import { WorkHistory } from '../runs/eta.ts';
import { exitCodeFor, formatProgress, isFinal, type Progress } from './progress.ts';
import { batchLines, batchRows } from './batch-progress.ts';

export async function waitForRun(ctx: Context, runId: string, opts: { quiet?: boolean; pollMs?: number; signal?: AbortSignal } = {}): Promise<RunState> {
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI;
  const started = Date.now();
  const history = new WorkHistory();
  let lastLine = 0;
  for (;;) {
    const state = await ctx.runs.state(runId);
    if (!state) throw new OmniError('run_not_found', `no run ${runId}`);
    const finished = isFinal(state.status);
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
    await sleep(opts.pollMs ?? (tty ? 250 : 1000));
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
