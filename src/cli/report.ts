/** `omnibatch report <runId> [--json|--csv|--flagged]`: the run report (live when the run has not ended yet). */
import type { Command } from 'commander';
import { reviewQueue } from '../lifecycle/review.ts';
import { type CollectedReport, collectRunReport } from '../lifecycle/run-report.ts';
import type { CostJson } from '../outputs/amounts.ts';
import { type QueueFile, reviewLine } from '../outputs/review-queue.ts';
import { redactUrls } from '../util/redact.ts';
import { printJson, runCommand, withContext } from './common.ts';

/** One money line that never hides a partial figure: the amount, then what had no price. */
export function moneyLine(c: CostJson, note?: string): string {
  if (c.amount === null) return note ?? 'unpriced: no price for this model/region';
  return `${c.amount} ${c.currency ?? ''}`.trim() + (c.priced ? '' : ` (${note ?? 'partly unpriced'})`);
}

/** A flagged file in one line, then its spans: "high  violence,hate  s3://.../a.mp4  [needs review] [confirmed]". */
export function flaggedLines(f: QueueFile): string[] {
  const m = f.moderation!;
  const marks = [m.needs_review ? '[needs review]' : '', f.review ? `[${f.review.decision === 'confirm' ? 'confirmed' : 'cleared'}]` : ''].filter(Boolean);
  const head = `${(m.max_severity ?? m.verdict).padEnd(8)} ${m.categories.join(',') || '-'}  ${redactUrls(f.uri)}${marks.length ? `  ${marks.join(' ')}` : ''}`;
  const spans = m.spans.map(
    (s) => `    ${s.start_s.toFixed(1)}-${s.end_s.toFixed(1)} s  ${s.category} (${s.severity})  ${s.evidence.replace(/\s+/gu, ' ').slice(0, 120)}`,
  );
  return [head, ...spans, ...(m.more_spans ? [`    ... ${m.more_spans} more span(s) in the .moderation.json`] : [])];
}

/** The report as `omnibatch report` prints it: status, counts, the cost lines, moderation, failures. Pure. */
export function reportText(runId: string, r: Pick<CollectedReport, 'status' | 'report' | 'failuresJsonl'>): string {
  const rep = r.report;
  const out = [`run ${runId}: ${r.status}`];
  for (const [k, v] of Object.entries(rep.counts)) out.push(`  ${k.padEnd(12)} ${v}`);
  out.push(`  cost         ${moneyLine(rep.cost.actual, rep.cost.unpriced_note)}`);
  if (rep.cost.realtime_equivalent && rep.cost.batch_saving)
    out.push(`  via batch    ${moneyLine(rep.cost.realtime_equivalent)} in real time for the same usage: saved ${moneyLine(rep.cost.batch_saving)}`);
  // --batch-fallback's chunks, at the real-time price: what the deadline cost on top of Batch
  const fellBack = rep.cost.by_via?.realtime;
  if (fellBack) out.push(`  fallback     ${fellBack.chunks} chunk(s) sent in real time for the deadline: ${moneyLine(fellBack.cost)}`);
  if (rep.cost.estimated)
    out.push(`  estimated    ${moneyLine(rep.cost.estimated, rep.cost.estimated.priced ? undefined : 'partly unpriced: the plan sends usage with no price')}`);
  const m = rep.moderation;
  if (m?.by_verdict && m.by_severity && m.decisions) {
    const counts = {
      by_verdict: m.by_verdict,
      by_severity: m.by_severity,
      needs_review: m.needs_review ?? 0,
      to_review: m.to_review ?? 0,
      decisions: m.decisions,
    };
    out.push(`  moderation   ${reviewLine(counts)} (omnibatch report ${runId} --flagged)`);
  }
  return `${out.join('\n')}\n${r.failuresJsonl ? `failures:\n${r.failuresJsonl}` : ''}`;
}

export function register(program: Command): void {
  runCommand(program, 'report', "a run's report: status, counts, usage, estimated and actual cost; --csv: the per-file cost ledger")
    .option('--json', 'the report as JSON')
    .option('--csv', 'the per-file cost CSV')
    .option('--flagged', 'moderation: the files to review (flagged, refused or marked for review), worst first, with their spans')
    .action(async (runId: string, f: { json?: boolean; csv?: boolean; flagged?: boolean }, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        if (f.flagged) {
          const q = await reviewQueue(ctx, runId);
          if (f.json) return printJson({ run_id: runId, counts: q.counts, files: q.files });
          process.stdout.write(`run ${runId}: ${reviewLine(q.counts)}\n`);
          for (const file of q.files) process.stdout.write(`${flaggedLines(file).join('\n')}\n`);
          return;
        }
        const r = await collectRunReport(ctx, runId);
        if (f.csv) return void process.stdout.write(r.costCsv);
        if (f.json) return printJson(r.report);
        process.stdout.write(reportText(runId, r));
      });
    });
}
