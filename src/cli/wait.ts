/** Waiting for a run to end while showing its progress (a live bar on a terminal, a plain line otherwise). */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunState } from '../runs/types.ts';
import { OmniError } from '../util/errors.ts';
import type { Context } from '../app/context.ts';
import { exitCodeFor, formatProgress, isFinal } from './progress.ts';
import { batchLines, batchRows } from './batch-progress.ts';

export async function waitForRun(ctx: Context, runId: string, opts: { quiet?: boolean; pollMs?: number; signal?: AbortSignal } = {}): Promise<RunState> {
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI;
  const started = Date.now();
  let lastLine = 0;
  for (;;) {
    const state = await ctx.runs.state(runId);
    if (!state) throw new OmniError('run_not_found', `no run ${runId}`);
    const finished = isFinal(state.status);
    if (!opts.quiet && (tty || finished || Date.now() - lastLine >= 5000)) {
      const t = await ctx.costs.totals(runId);
      const line = formatProgress({ state, costMicros: t.costMicros, currency: t.currency, priced: t.priced, elapsedS: (Date.now() - started) / 1000 }, tty);
      process.stderr.write(tty ? `\r\x1b[2K${line}${finished ? '\n' : ''}` : `${line}\n`);
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
