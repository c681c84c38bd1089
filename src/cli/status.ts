/** `omnibatch status <runId> [--watch] [--json]` and `omnibatch runs`. */

import type { Command } from 'commander';
import { formatMicros } from '../cost/price.ts';
import { batchRows } from '../runs/batch-progress.ts';
import { workProgress } from '../runs/eta.ts';
import { OmniError } from '../util/errors.ts';
import { printable } from '../util/printable.ts';
import { batchLines } from './batch-progress.ts';
import { int, printJson, runCommand, withContext } from './common.ts';
import { formatProgress } from './progress.ts';
import { progressOf, stopLine, waitForRun } from './wait.ts';

export function register(program: Command): void {
  runCommand(program, 'status', "a run's progress: files, media time, requests, cost so far")
    .option('--watch', 'keep showing progress until the run ends')
    .option('--json', 'print one JSON object')
    .action(async (runId: string, f: { watch?: boolean; json?: boolean }, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        const state = f.watch ? await waitForRun(ctx, runId, { quiet: f.json }) : await ctx.runs.state(runId);
        if (!state) throw new OmniError('run_not_found', `no run ${runId}`);
        const t = await ctx.costs.totals(runId);
        const batches = state.spec.via === 'batch' ? batchRows(await ctx.batches.inputs(runId), ctx.cfg.batchWindow, Date.now()) : undefined;
        const p = await progressOf(ctx, state, 0);
        if (f.json) {
          const w = workProgress({ counts: state.counts, scanDone: state.scanDone, requestsDone: t.chunks, now: p.now ?? Date.now() });
          printJson({
            run_id: runId,
            status: state.status,
            stop_reason: state.stopReason ?? null,
            stop_message: state.stopMessage ?? null,
            report_error: state.reportError ?? null,
            scan_done: state.scanDone,
            counts: state.counts,
            cost: {
              amount: formatMicros(t.costMicros),
              amount_micros: t.costMicros,
              currency: t.currency,
              priced: t.priced,
              ...(!t.priced && { unpriced_note: p.unpricedNote || 'partly unpriced' }),
            },
            progress: { requests_done: w.requestsDone, requests_planned: w.requestsPlanned, fraction: w.fraction, eta_s: w.etaS },
            spec: state.spec,
            ...(batches && { batches }),
          });
        } else if (!f.watch) {
          process.stdout.write(`${formatProgress(p, false)}\n`);
          if (batches)
            process.stdout.write(
              `via batch: ${batches.length} batch(es)\n${batchLines(batches)
                .map((l) => `${l}\n`)
                .join('')}`,
            );
        }
        const why = stopLine(state);
        if (why && !f.json) process.stdout.write(`${printable(why)}\n`);
      });
    });

  program
    .command('runs')
    .description('recent runs, newest first')
    .option('--limit <n>', 'how many', int, 20)
    .option('--json', 'print JSON')
    .action(async (f: { limit: number; json?: boolean }, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        const rows = [];
        for (const id of await ctx.runs.listRuns(f.limit)) {
          const s = await ctx.runs.state(id);
          if (s)
            rows.push({
              run_id: id,
              status: s.status,
              task: s.spec.task,
              model: s.spec.model,
              source: s.spec.source,
              files: s.counts.total,
              done: s.counts.terminal,
              failed: s.counts.failed,
              created_at: s.spec.createdAt,
            });
        }
        if (f.json) return printJson(rows);
        for (const r of rows)
          process.stdout.write(
            `${r.run_id}  ${r.status.padEnd(24)} ${r.task.padEnd(10)} ${String(r.done).padStart(6)}/${r.files} files  ${r.failed} failed  ${r.source}\n`,
          );
      });
    });
}
