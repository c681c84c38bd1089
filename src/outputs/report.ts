/**
 * The run report `_runs/<runId>/report.json`: how the run ended, what happened to every file, what it
 * used and cost, next to what the estimate said. Built from per-file rows, folded one at a time
 * (`addFileRow`), so a run of 100,000 files never needs them all in memory at once.
 */
import { addCost, type Cost, ZERO_COST } from '../cost/price.ts';
import type { Currency } from '../models/catalog.ts';
import { addUsage, emptyUsage, type Usage } from '../models/types.ts';
import { definedOnly } from '../util/defined.ts';
import { OmniError } from '../util/errors.ts';
import type { FailureCode } from '../util/failure-codes.ts';
import { type CostJson, costJson, type UsageJson, usageJson } from './amounts.ts';
import { emptyReviewCounts, foldReview, type ModerationBrief, type QueueFile, type ReviewCounts } from './review-queue.ts';

export const REPORT_SCHEMA = 'omnibatch.report/v1';

export type RunStatus = 'running' | 'stopping' | 'completed' | 'completed_with_failures' | 'stopped_budget' | 'cancelled' | 'stopped_error';
export type FileOutcome = 'succeeded' | 'failed' | 'skipped' | 'not_run' | 'pending';

/** What became of one file. Field names match the run store's per-file state, so it can be passed as is. */
export interface FileRow {
  uri: string;
  status: FileOutcome;
  code?: FailureCode;
  message?: string;
  durationS?: number;
  chunks?: number;
  /** requests sent for this file, retries included */
  requests?: number;
  /** default: requests - chunks */
  retries?: number;
  usage?: Usage;
  costMicros?: number;
  currency?: string | null;
  priced?: boolean;
  /** moderation: the categories of a flagged file */
  flagged?: string[];
  /** moderation: the verdict in brief, and a reviewer's decision */
  moderation?: ModerationBrief;
  review?: QueueFile['review'];
  /** an earlier result was found but not trusted (signature.ts): why */
  untrustedResult?: string;
}

export interface RunTotals {
  counts: { total: number; succeeded: number; failed: number; skipped: number; not_run: number; pending: number };
  /** media seconds of the files that succeeded */
  mediaSeconds: number;
  requests: number;
  retries: number;
  usage: Usage;
  cost: Cost;
  flaggedFiles: number;
  flaggedByCategory: Record<string, number>;
  /** moderation: verdicts, severities, needs_review and reviewers' decisions */
  review: ReviewCounts;
  /** files whose earlier result was not trusted and which were processed again */
  untrustedResults: number;
  /** skipped files by reason: `excluded`, `not_media`, `unchanged` (a result of the same input exists) */
  skippedByCode: Record<string, number>;
}

/** The reason of a skipped file without a code: its result already existed (scan's reuse check). */
export const UNCHANGED = 'unchanged' satisfies FailureCode;

export function emptyTotals(): RunTotals {
  return {
    counts: { total: 0, succeeded: 0, failed: 0, skipped: 0, not_run: 0, pending: 0 },
    mediaSeconds: 0,
    requests: 0,
    retries: 0,
    usage: emptyUsage(),
    cost: ZERO_COST,
    flaggedFiles: 0,
    flaggedByCategory: {},
    review: emptyReviewCounts(),
    untrustedResults: 0,
    skippedByCode: {},
  };
}

export function rowCost(row: FileRow): Cost | undefined {
  if (row.costMicros === undefined && row.priced === undefined) return undefined;
  return { amountMicros: row.costMicros ?? 0, currency: (row.currency ?? null) as Currency | null, priced: row.priced ?? true };
}

/** Folds one file into the totals. Failed files count their requests and cost too: they were spent. */
export function addFileRow(t: RunTotals, row: FileRow): RunTotals {
  const counts = { ...t.counts, total: t.counts.total + 1, [row.status]: t.counts[row.status] + 1 };
  const cost = rowCost(row);
  if (cost && t.cost.currency && cost.currency && cost.currency !== t.cost.currency) {
    throw new OmniError('cost_currency_mismatch', `${row.uri} is priced in ${cost.currency}, the run in ${t.cost.currency}`);
  }
  const requests = row.requests ?? 0;
  const flagged = row.flagged ?? [];
  const byCategory = { ...t.flaggedByCategory };
  for (const name of new Set(flagged)) byCategory[name] = (byCategory[name] ?? 0) + 1;
  return {
    counts,
    mediaSeconds: t.mediaSeconds + (row.status === 'succeeded' ? (row.durationS ?? 0) : 0),
    requests: t.requests + requests,
    retries: t.retries + (row.retries ?? Math.max(0, requests - (row.chunks ?? requests))),
    usage: row.usage ? addUsage(t.usage, row.usage) : t.usage,
    cost: cost ? addCost(t.cost, cost) : t.cost,
    flaggedFiles: t.flaggedFiles + (flagged.length > 0 ? 1 : 0),
    flaggedByCategory: byCategory,
    review: row.moderation ? foldReview(structuredClone(t.review), row) : t.review,
    untrustedResults: t.untrustedResults + (row.untrustedResult ? 1 : 0),
    skippedByCode:
      row.status === 'skipped' ? { ...t.skippedByCode, [row.code ?? UNCHANGED]: (t.skippedByCode[row.code ?? UNCHANGED] ?? 0) + 1 } : t.skippedByCode,
  };
}

export function totalsOf(rows: Iterable<FileRow>): RunTotals {
  let t = emptyTotals();
  for (const r of rows) t = addFileRow(t, r);
  return t;
}

/** How a run ended, from its facts: a cancel wins over a budget stop, which wins over failures. */
export function decideRunStatus(f: { finished: boolean; cancelled?: boolean; stoppedBudget?: boolean; stoppedError?: boolean; failed: number }): RunStatus {
  if (f.cancelled) return 'cancelled';
  if (f.stoppedBudget) return 'stopped_budget';
  if (f.stoppedError) return 'stopped_error';
  if (!f.finished) return 'running';
  return f.failed > 0 ? 'completed_with_failures' : 'completed';
}

export interface EstimatedCost {
  expected: Cost;
  low?: Cost;
  high?: Cost;
}

/** What a report says the run was, in the input and in the document alike. */
interface RunIdentity {
  status: RunStatus;
  task: string;
  model: string;
  region: string;
  protocol?: string;
  /** realtime (one streaming request per chunk) or batch (the provider's Batch API, at its price) */
  via?: 'realtime' | 'batch';
  source?: string;
  destination?: string;
}

export interface ReportInput extends RunIdentity {
  runId: string;
  /** the files' rows, or totals already folded with addFileRow */
  files?: Iterable<FileRow>;
  totals?: RunTotals;
  estimated?: EstimatedCost | null;
  budget?: Cost | null;
  /** why the run stopped early (auth failure, ...) */
  stopReason?: string;
  startedAt: Date | string;
  finishedAt?: Date | string | null;
  /** --deadline runs: the deadline and the planner's predicted finish (ISO) */
  deadline?: string;
  predictedFinishAt?: string;
}

export interface ReportDoc extends RunIdentity {
  schema: typeof REPORT_SCHEMA;
  run_id: string;
  counts: { total: number; succeeded: number; failed: number; skipped: number; not_run: number; pending?: number };
  /** why the skipped files were (issue 22: every listed object accounted for); `skipped.jsonl` names each */
  skipped_by_code?: Record<string, number>;
  media_seconds: number;
  requests: number;
  retries: number;
  usage: UsageJson;
  cost: {
    estimated: (CostJson & { low?: string | null; high?: string | null }) | null;
    actual: CostJson;
    /** actual - expected estimate, when both are in the same currency */
    estimate_error?: { amount_micros: number; ratio: number | null };
  };
  budget?: CostJson;
  moderation?: {
    flagged_files: number;
    by_category: Record<string, number>;
    /** files by verdict, flagged files by their highest severity, files marked for review, reviewers' decisions */
    by_verdict?: ReviewCounts['by_verdict'];
    by_severity?: ReviewCounts['by_severity'];
    needs_review?: number;
    to_review?: number;
    decisions?: ReviewCounts['decisions'];
  };
  /** earlier results found in the destination but not trusted (unsigned or forged): those files were redone */
  reuse?: { untrusted_results: number };
  stop_reason?: string;
  started_at: string;
  finished_at: string | null;
  /** --deadline runs: predicted vs actual finish; `late_s` > 0 when the run ended after its deadline */
  deadline?: {
    deadline: string | null;
    predicted_finish: string | null;
    actual_finish: string | null;
    prediction_error_s: number | null;
    late_s: number | null;
  };
}

const iso = (d: Date | string): string => (typeof d === 'string' ? d : d.toISOString());
const amountOf = (c: Cost | undefined): string | null | undefined => (c === undefined ? undefined : costJson(c).amount);

export function buildReport(input: ReportInput): ReportDoc {
  const t = input.totals ?? totalsOf(input.files ?? []);
  const { pending, ...counts } = t.counts;
  const est = input.estimated ?? null;
  const estimated = est && {
    ...costJson(est.expected),
    ...(est.low && { low: amountOf(est.low) }),
    ...(est.high && { high: amountOf(est.high) }),
  };
  const comparable = est && est.expected.currency === t.cost.currency && t.cost.currency !== null;
  const byCategory = Object.fromEntries(Object.entries(t.flaggedByCategory).sort(([a], [b]) => a.localeCompare(b)));
  return {
    schema: REPORT_SCHEMA,
    run_id: input.runId,
    status: input.status,
    task: input.task,
    model: input.model,
    region: input.region,
    ...definedOnly({ protocol: input.protocol, via: input.via, source: input.source, destination: input.destination }),
    counts: pending > 0 ? { ...counts, pending } : counts,
    ...(counts.skipped > 0 && { skipped_by_code: Object.fromEntries(Object.entries(t.skippedByCode).sort(([a], [b]) => a.localeCompare(b))) }),
    media_seconds: Math.round(t.mediaSeconds * 1000) / 1000,
    requests: t.requests,
    retries: t.retries,
    usage: usageJson(t.usage),
    cost: {
      estimated,
      actual: costJson(t.cost),
      ...(comparable && {
        estimate_error: {
          amount_micros: t.cost.amountMicros - est.expected.amountMicros,
          ratio: est.expected.amountMicros > 0 ? Math.round((t.cost.amountMicros / est.expected.amountMicros) * 1000) / 1000 : null,
        },
      }),
    },
    ...(input.budget && { budget: costJson(input.budget) }),
    ...((input.task === 'moderate' || t.flaggedFiles > 0) && {
      moderation: {
        flagged_files: t.flaggedFiles,
        by_category: byCategory,
        ...(input.task === 'moderate' && {
          by_verdict: t.review.by_verdict,
          by_severity: t.review.by_severity,
          needs_review: t.review.needs_review,
          to_review: t.review.to_review,
          decisions: t.review.decisions,
        }),
      },
    }),
    ...(t.untrustedResults > 0 && { reuse: { untrusted_results: t.untrustedResults } }),
    ...(input.stopReason !== undefined && { stop_reason: input.stopReason }),
    started_at: iso(input.startedAt),
    finished_at: input.finishedAt ? iso(input.finishedAt) : null,
    ...((input.deadline || input.predictedFinishAt) && { deadline: deadlineJson(input) }),
  };
}

function deadlineJson(input: ReportInput): NonNullable<ReportDoc['deadline']> {
  const actual = input.finishedAt ? iso(input.finishedAt) : null;
  const diffS = (a: string | null, b: string | undefined) => (a && b ? Math.round((Date.parse(a) - Date.parse(b)) / 1000) : null);
  return {
    deadline: input.deadline ?? null,
    predicted_finish: input.predictedFinishAt ?? null,
    actual_finish: actual,
    prediction_error_s: diffS(actual, input.predictedFinishAt),
    late_s: diffS(actual, input.deadline),
  };
}

/** One line for a terminal: "12 files: 10 succeeded, 1 failed, 1 skipped; 0.123456 USD". */
export function reportLine(doc: ReportDoc): string {
  const c = doc.counts;
  const money = doc.cost.actual.amount === null ? 'unpriced' : `${doc.cost.actual.amount} ${doc.cost.actual.currency ?? ''}`.trim();
  return `${c.total} files: ${c.succeeded} succeeded, ${c.failed} failed, ${c.skipped} skipped, ${c.not_run} not run; ${doc.requests} requests; ${money}${doc.cost.actual.priced || doc.cost.actual.amount === null ? '' : ' (partly unpriced)'}`;
}
