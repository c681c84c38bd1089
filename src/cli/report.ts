/** `omnibatch report <runId> [--json|--csv]`: the run report (live when the run has not ended yet). */
import type { Command } from 'commander';
import { formatMicros } from '../cost/price.ts';
import { printJson, withContext, runCommand } from './common.ts';
import { collectRunReport } from '../lifecycle/run-report.ts';

export function register(program: Command): void {
  runCommand(program, 'report', "a run's report: status, counts, usage, estimated and actual cost; --csv: the per-file cost ledger")
    .option('--json', 'the report as JSON')
    .option('--csv', 'the per-file cost CSV')
    .action(async (runId: string, f: { json?: boolean; csv?: boolean }, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        const r = await collectRunReport(ctx, runId);
        if (f.csv) return void process.stdout.write(r.costCsv);
        if (f.json) return printJson(r.report);
        const rep = r.report as { counts: Record<string, number>; cost: { actual: { amount_micros: number; currency: string | null } } };
        process.stdout.write(`run ${runId}: ${r.status}\n`);
        for (const [k, v] of Object.entries(rep.counts)) process.stdout.write(`  ${k.padEnd(12)} ${v}\n`);
        process.stdout.write(`  cost         ${formatMicros(rep.cost.actual.amount_micros)} ${rep.cost.actual.currency ?? ''}\n`);
        if (r.failuresJsonl) process.stdout.write(`failures:\n${r.failuresJsonl}`);
      });
    });
}
