/** A run's report from its state in Redis (files streamed with HSCAN) and its ledger: for `report` and the report job. */

import type { Context } from '../app/context.ts';
import { batchSaving, type Cost, resolvePrices, unpricedNote, unpricedUsage, usageCost } from '../cost/price.ts';
import { modelOf, type Via } from '../models/catalog.ts';
import { costJson } from '../outputs/amounts.ts';
import { costCsvHeader, costCsvRow } from '../outputs/csv.ts';
import { failureLine } from '../outputs/failures.ts';
import { addFileRow, buildReport, decideRunStatus, emptyTotals, type ReportDoc, UNCHANGED } from '../outputs/report.ts';
import { flaggedCsvHeader, flaggedCsvRow, moderationLine } from '../outputs/review-queue.ts';
import type { FileReview, RunState } from '../runs/types.ts';
import { outputKey } from '../storage/keys.ts';
import { OmniError } from '../util/errors.ts';

export interface CollectedReport {
  status: RunState['status'];
  report: ReportDoc & {
    cost: ReportDoc['cost'] & {
      ledger?: ReturnType<typeof costJson>;
      unpriced?: { kind: string; tokens: number }[];
      unpriced_note?: string;
      /** --via batch: what the ledger's usage costs in real time, and what Batch saved against it */
      realtime_equivalent?: ReturnType<typeof costJson>;
      batch_saving?: ReturnType<typeof costJson>;
      /** --via batch: the ledger's chunks and cost by how they were answered (`realtime`: --batch-fallback's) */
      by_via?: Partial<Record<Via, { chunks: number; cost: ReturnType<typeof costJson> }>>;
    };
  };
  costCsv: string;
  failuresJsonl: string;
  /** one line per skipped object: its uri, why (`excluded`, `not_media`, `unchanged`) and the detail */
  skippedJsonl: string;
  /** moderation runs: `moderation.jsonl` (every file) and `flagged.csv` (the files to look at) */
  review?: { jsonl: string; flaggedCsv: string };
}

export async function collectRunReport(ctx: Context, runId: string): Promise<CollectedReport> {
  const state = await ctx.runs.state(runId);
  if (!state) throw new OmniError('run_not_found', `no run ${runId}`);
  const spec = state.spec;
  let totals = emptyTotals();
  let csv = costCsvHeader();
  let failures = '';
  let skipped = '';
  const moderate = spec.task === 'moderate';
  const reviews = moderate ? await ctx.runs.reviews(runId) : new Map<string, FileReview>();
  let jsonl = '';
  let flaggedCsv = flaggedCsvHeader();
  for await (const [fileId, file] of ctx.runs.files(runId)) {
    const review = reviews.get(fileId);
    const f = review ? { ...file, review } : file;
    totals = addFileRow(totals, f);
    csv += costCsvRow(f);
    if (moderate) {
      const q = { ...f, fileId };
      jsonl += moderationLine(q, outputKey(f.key, 'json'));
      flaggedCsv += flaggedCsvRow(q, outputKey(f.key, 'json'));
    }
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
  const prices = resolvePrices(spec.model, spec.region, ctx.pricing);
  const currency = prices?.currency ?? null;
  // As `estimate` said before the run: partly unpriced when any file's plan sends something without a price.
  const priced = currency !== null && modelOf(spec) !== undefined && !(state.counts.est_unpriced ?? 0);
  const est = (micros: number): Cost => ({ amountMicros: micros, currency, priced });
  const doc = buildReport({
    runId,
    status,
    task: spec.task,
    model: spec.model,
    region: spec.region,
    protocol: spec.protocol,
    via: spec.via ?? 'realtime',
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
  // What had no price (every paid chunk's usage): a partial amount says what it leaves out.
  const unpriced = ledger.priced ? [] : unpricedUsage(ledger.usage, prices);
  const paid: Cost = { amountMicros: ledger.costMicros, currency: (ledger.currency ?? currency) as Cost['currency'], priced: ledger.priced };
  // A Batch run shows what it saved: the ledger's whole usage priced at the real-time rate (one rounding for the
  // run, where the ledger rounds each chunk: they differ by under a micro-unit a chunk).
  const compared = spec.via === 'batch' && prices ? batchSaving(usageCost(ledger.usage, prices), paid) : undefined;
  const byVia =
    spec.via === 'batch'
      ? Object.fromEntries(Object.entries(ledger.byVia).map(([via, v]) => [via, { chunks: v.chunks, cost: costJson({ ...paid, amountMicros: v.costMicros }) }]))
      : undefined;
  const report = {
    ...doc,
    cost: {
      ...doc.cost,
      ledger: costJson(paid),
      ...(unpriced.length && { unpriced, unpriced_note: unpricedNote(unpriced) }),
      ...(compared && { realtime_equivalent: costJson(compared.realtime), batch_saving: costJson(compared.saving) }),
      ...(byVia && { by_via: byVia }),
    },
  };
  return { status, report, costCsv: csv, failuresJsonl: failures, skippedJsonl: skipped, ...(moderate && { review: { jsonl, flaggedCsv } }) };
}
