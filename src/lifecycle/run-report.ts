/** A run's report from its state in Redis (files streamed with HSCAN) and its ledger: for `report` and the report job. */
import { findModel } from '../models/catalog.ts';
import { resolvePrices, type Cost } from '../cost/price.ts';
import { costJson } from '../outputs/amounts.ts';
import { costCsvHeader, costCsvRow } from '../outputs/csv.ts';
import { failureLine } from '../outputs/failures.ts';
import { addFileRow, buildReport, decideRunStatus, emptyTotals, UNCHANGED, type ReportDoc } from '../outputs/report.ts';
import type { RunState } from '../runs/types.ts';
import { OmniError } from '../util/errors.ts';
import type { Context } from '../app/context.ts';

export interface CollectedReport {
  status: RunState['status'];
  report: ReportDoc & { cost: ReportDoc['cost'] & { ledger?: ReturnType<typeof costJson> } };
  costCsv: string;
  failuresJsonl: string;
  /** one line per skipped object: its uri, why (`excluded`, `not_media`, `unchanged`) and the detail */
  skippedJsonl: string;
}

export async function collectRunReport(ctx: Context, runId: string): Promise<CollectedReport> {
  const state = await ctx.runs.state(runId);
  if (!state) throw new OmniError('run_not_found', `no run ${runId}`);
  const spec = state.spec;
  let totals = emptyTotals();
  let csv = costCsvHeader();
  let failures = '';
  let skipped = '';
  for await (const [, f] of ctx.runs.files(runId)) {
    totals = addFileRow(totals, f);
    csv += costCsvRow(f);
    if (f.status === 'failed' || f.status === 'not_run') failures += failureLine({ uri: f.uri, code: f.code ?? 'internal', message: f.message ?? '' });
    if (f.status === 'skipped')
      skipped += failureLine({ uri: f.uri, code: f.code ?? UNCHANGED, message: f.message ?? 'a result of the same input and settings exists' });
  }
  // Requests and retries as counted when they were sent: every attempt, whatever became of its file.
  totals = { ...totals, requests: state.counts.requests, retries: state.counts.retries };
  const finished = state.scanDone && state.counts.terminal >= state.counts.total;
  const status = decideRunStatus({
    finished,
    cancelled: state.stopReason === 'cancelled',
    stoppedBudget: state.stopReason === 'budget',
    stoppedError: state.stopReason === 'auth' || state.stopReason === 'error',
    failed: totals.counts.failed,
  });
  const currency = resolvePrices(spec.model, spec.region, ctx.pricing)?.currency ?? null;
  const priced = currency !== null && Boolean(findModel(spec.model));
  const est = (micros: number): Cost => ({ amountMicros: micros, currency, priced });
  const doc = buildReport({
    runId,
    status,
    task: spec.task,
    model: spec.model,
    region: spec.region,
    protocol: spec.protocol,
    source: spec.source,
    destination: spec.destination,
    totals,
    estimated: { expected: est(state.counts.est_micros), low: est(state.counts.est_low_micros), high: est(state.counts.est_high_micros) },
    ...(spec.budgetMicros !== undefined && { budget: { amountMicros: spec.budgetMicros, currency, priced: true } }),
    ...(state.stopMessage && { stopReason: state.stopMessage }),
    startedAt: spec.createdAt,
    finishedAt: finished ? new Date() : null,
    ...(spec.deadline && { deadline: spec.deadline }),
    ...(spec.predictedFinishAt && { predictedFinishAt: spec.predictedFinishAt }),
  });
  // Everything paid, including chunks of files that did not finish (a budget stop, a file failing after
  // some chunks): equal to cost.actual when every file that cost money succeeded.
  const ledger = await ctx.costs.totals(runId);
  const report = {
    ...doc,
    cost: {
      ...doc.cost,
      ledger: costJson({ amountMicros: ledger.costMicros, currency: (ledger.currency ?? currency) as Cost['currency'], priced: ledger.priced }),
    },
  };
  return { status, report, costCsv: csv, failuresJsonl: failures, skippedJsonl: skipped };
}
