/**
 * The dashboard's JSON view-models, pure: run state + cost totals + samples in, plain data out. The page
 * only lays these out, so what a number means (progress of what, cost against which budget) is decided
 * and tested here.
 */

import type { CostTotals } from '../app/costs.ts';
import { formatMicros } from '../cost/price.ts';
import type { BatchRow } from '../runs/batch-progress.ts';
import { type Pace, workProgress } from '../runs/eta.ts';
import type { Sample } from '../runs/series.ts';
import type { FileState, RunState } from '../runs/types.ts';

export interface Money {
  micros: number;
  amount: string;
  currency: string | null;
}

export interface RunSummary {
  runId: string;
  createdAt: string;
  endedAt: string | null;
  status: RunState['status'];
  stopReason: string | null;
  task: string;
  model: string;
  /** how the model is called: one streaming request per chunk, or the provider's Batch API */
  via: 'realtime' | 'batch';
  source: string;
  destination: string;
  scanDone: boolean;
  files: { total: number; done: number; succeeded: number; failed: number; skipped: number; notRun: number; pending: number };
  progress: { fraction: number; text: string };
  media: { ms: number; hours: number; text: string };
  cost: Money & {
    priced: boolean;
    text: string /** what had no price, when something had none */;
    unpriced: string | null /** "Cost so far" while running, "Cost" once ended */;
    label: string;
  };
  budget: (Money & { fraction: number; text: string }) | null;
  /** when it started and ended, and for how long it ran (or has been running) */
  times: { startedAt: string; finishedAt: string | null; elapsedS: number; elapsedText: string };
  /** requests done of planned and the ETA by work (runs/eta.ts) */
  work: { requestsDone: number; requestsPlanned: number | null; plannedEstimated: boolean; etaS: number | null; etaText: string };
}

/** What the summary needs beyond state and totals: the note on unpriced usage, and the clock. */
export interface SummaryFacts {
  unpricedNote?: string;
  now?: number;
  /** an earlier look at the run's work (runs/eta.ts WorkHistory): the ETA's recent rate */
  recent?: Pace;
}

export function durationText(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
}

const FINISHED: ReadonlySet<RunState['status']> = new Set(['completed', 'completed_with_failures', 'stopped_budget', 'cancelled', 'stopped_error']);

export function isFinished(status: RunState['status']): boolean {
  return FINISHED.has(status);
}

function money(micros: number, currency: string | null): Money {
  return { micros, amount: formatMicros(micros), currency };
}

/** A money figure that says when it is partial, and (given `note`) what had no price. */
export function costText(micros: number, currency: string | null, priced: boolean, note?: string): string {
  const amount = `${formatMicros(micros)}${currency ? ` ${currency}` : ''}`;
  // Unknown money is never shown as zero (design: "priced": false, never zero cost).
  if (!priced) return micros > 0 || currency ? `${amount} (${note || 'partly unpriced'})` : note || 'unpriced';
  return amount;
}

export function runSummary(state: RunState, totals: CostTotals, facts: SummaryFacts = {}): RunSummary {
  const c = state.counts;
  const now = facts.now ?? Date.now();
  const finished = isFinished(state.status);
  const started = Date.parse(state.spec.createdAt);
  const ended = finished && state.endedAt ? Date.parse(state.endedAt) : null;
  const work = workProgress({ counts: c, scanDone: state.scanDone, requestsDone: totals.chunks, now, recent: facts.recent });
  const done = c.terminal;
  const files = { total: c.total, done, succeeded: c.succeeded, failed: c.failed, skipped: c.skipped, notRun: c.not_run, pending: Math.max(0, c.total - done) };
  const parts = [`${c.succeeded} succeeded`, `${c.failed} failed`, `${c.skipped} skipped`];
  if (c.not_run) parts.push(`${c.not_run} not run`);
  // While the scan still lists the source the total grows: '+' says the bar is of the files found so far.
  const text = `${done} / ${c.total}${state.scanDone ? '' : '+'} files · ${parts.join(' · ')}`;
  const hours = c.media_ms / 3_600_000;
  const budgetMicros = state.spec.budgetMicros;
  const budget =
    budgetMicros !== undefined && budgetMicros > 0
      ? {
          ...money(budgetMicros, totals.currency),
          fraction: totals.costMicros / budgetMicros,
          text: `of ${formatMicros(budgetMicros)}${totals.currency ? ` ${totals.currency}` : ''} budget (${((100 * totals.costMicros) / budgetMicros).toFixed(1)}%)`,
        }
      : null;
  return {
    runId: state.spec.runId,
    createdAt: state.spec.createdAt,
    endedAt: state.endedAt ?? null,
    status: state.status,
    stopReason: state.stopReason ?? null,
    task: state.spec.task,
    model: state.spec.model,
    via: state.spec.via ?? 'realtime',
    source: state.spec.source,
    destination: state.spec.destination,
    scanDone: state.scanDone,
    files,
    // by work once a plan is known (a 12-chunk file weighs twelve 1-chunk files), by files before
    progress: { fraction: work.requestsPlanned !== null ? work.fraction : c.total ? Math.min(1, done / c.total) : state.scanDone ? 1 : 0, text },
    media: { ms: c.media_ms, hours, text: `${hours.toFixed(hours < 10 ? 2 : 1)} h` },
    cost: {
      ...money(totals.costMicros, totals.currency),
      priced: totals.priced,
      text: costText(totals.costMicros, totals.currency, totals.priced, facts.unpricedNote),
      unpriced: totals.priced ? null : facts.unpricedNote || 'partly unpriced',
      label: finished ? 'Cost' : 'Cost so far',
    },
    budget,
    times: {
      startedAt: state.spec.createdAt,
      finishedAt: finished ? (state.endedAt ?? null) : null,
      elapsedS: Math.max(0, ((ended ?? now) - started) / 1000),
      elapsedText: durationText(((ended ?? now) - started) / 1000),
    },
    work: {
      requestsDone: work.requestsDone,
      requestsPlanned: work.requestsPlanned,
      plannedEstimated: work.plannedEstimated,
      etaS: finished ? 0 : work.etaS,
      etaText: finished ? 'ended' : work.etaS === null ? '?' : durationText(work.etaS),
    },
  };
}

/** Spec fields safe to show: no prompt text and no notify URL (a webhook URL may carry a token). */
export function specView(state: RunState): Record<string, string | number | boolean | null> {
  const s = state.spec;
  return {
    source: s.source,
    destination: s.destination,
    task: s.task,
    model: s.model,
    protocol: s.protocol,
    region: s.region,
    via: s.via ?? 'realtime',
    inputMode: s.inputMode,
    maxFiles: s.maxFiles ?? null,
    schedule: s.schedule ?? null,
    manifest: s.manifest ?? null,
    force: s.force,
    fingerprint: s.fingerprint,
  };
}

// ---- failures ---------------------------------------------------------------------------------------

export interface FailureRow {
  fileId: string;
  code: string;
  uri: string;
  message: string;
}

export interface FailureDigest {
  /** the first `limit` failed files met in the scan */
  rows: FailureRow[];
  /** every failed file, counted by code, most frequent first */
  byCode: { code: string; count: number }[];
  total: number;
}

/** A fold over the run's files (streamed, any number): keeps the first `limit` failures, counts all by code. */
export interface FailureFold {
  rows: FailureRow[];
  counts: Map<string, number>;
  total: number;
  limit: number;
}

export function failureFold(limit = 50): FailureFold {
  return { rows: [], counts: new Map(), total: 0, limit };
}

export function foldFailure(acc: FailureFold, fileId: string, f: FileState): void {
  if (f.status !== 'failed') return;
  acc.total++;
  const code = f.code ?? 'unknown';
  acc.counts.set(code, (acc.counts.get(code) ?? 0) + 1);
  if (acc.rows.length < acc.limit) acc.rows.push({ fileId, code, uri: f.uri, message: (f.message ?? '').slice(0, 300) });
}

export function failureDigest(acc: FailureFold): FailureDigest {
  const byCode = [...acc.counts].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  return { rows: acc.rows, byCode, total: acc.total };
}

export function digestFailures(files: Iterable<[string, FileState]>, limit = 50): FailureDigest {
  const acc = failureFold(limit);
  for (const [id, f] of files) foldFailure(acc, id, f);
  return failureDigest(acc);
}

/**
 * How stale the failure list may get: rescanning a run's files costs one HSCAN pass over all of them, so
 * a 5-file run rescans on every poll and a million-file run at most once a minute.
 */
export function failureRescanMs(totalFiles: number): number {
  return Math.min(60_000, Math.floor(totalFiles / 2));
}

// ---- chart ------------------------------------------------------------------------------------------

export interface ChartPoint {
  t: number;
  done: number;
  failed: number;
  costMicros: number;
  /** terminal files per minute over the trailing window ending at t */
  filesPerMin: number;
}

export interface Chart {
  points: ChartPoint[];
  currency: string | null;
  start: number | null;
  end: number | null;
  maxCostMicros: number;
  maxFilesPerMin: number;
  windowMs: number;
}

/** The run as it is now, as a sample: the chart's last point moves even between worker samples. */
export function liveSample(state: RunState, totals: CostTotals, now: number): Sample {
  return { t: now, done: state.counts.terminal, failed: state.counts.failed, costMicros: totals.costMicros, mediaMs: state.counts.media_ms };
}

/**
 * Samples -> chart points. Samples come from many workers whose writes may interleave, so they are
 * sorted by time; throughput is the slope of `done` over a trailing window (1/40 of the span, at least
 * 10 s) because single samples are bursty (a worker finishing four files at once).
 */
export function chartOf(samples: readonly Sample[], live: Sample | null, currency: string | null): Chart {
  const all = [...samples];
  const last = all.length ? all.reduce((a, b) => (b.t > a.t ? b : a)) : undefined;
  if (live && (!last || live.t > last.t) && (!last || live.done !== last.done || live.costMicros !== last.costMicros || live.failed !== last.failed)) {
    all.push(live);
  }
  all.sort((a, b) => a.t - b.t);
  const start = all.length ? all[0].t : null;
  const end = all.length ? all[all.length - 1].t : null;
  const windowMs = Math.max(10_000, start !== null && end !== null ? (end - start) / 40 : 0);
  const points: ChartPoint[] = [];
  let j = 0;
  for (let i = 0; i < all.length; i++) {
    const s = all[i];
    while (j < i && all[j].t < s.t - windowMs) j++;
    const from = j < i ? all[j] : i > 0 ? all[i - 1] : undefined;
    const dt = from ? s.t - from.t : 0;
    const filesPerMin = from && dt > 0 ? Math.max(0, ((s.done - from.done) * 60_000) / dt) : 0;
    points.push({ t: s.t, done: s.done, failed: s.failed, costMicros: s.costMicros, filesPerMin: Math.round(filesPerMin * 100) / 100 });
  }
  return {
    points,
    currency,
    start,
    end,
    windowMs,
    maxCostMicros: points.reduce((m, p) => Math.max(m, p.costMicros), 0),
    maxFilesPerMin: points.reduce((m, p) => Math.max(m, p.filesPerMin), 0),
  };
}

// ---- batches ----------------------------------------------------------------------------------------

/** A --via batch run's batches (runs/batch-progress.ts rows, the ones `status` prints) with a one-line total. */
export interface BatchesView {
  rows: BatchRow[];
  /** "3 batches: 2 in progress, 1 completed · 52/120 requests done, 1 failed" */
  text: string;
}

export function batchesView(rows: readonly BatchRow[]): BatchesView {
  const byStatus = new Map<string, number>();
  for (const r of rows) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  const statuses = [...byStatus].map(([st, n]) => `${n} ${st.replace(/_/g, ' ')}`).join(', ');
  const lines = rows.reduce((a, r) => a + (r.total || r.lines), 0);
  const done = rows.reduce((a, r) => a + (r.completed ?? 0), 0);
  const failed = rows.reduce((a, r) => a + (r.failed ?? 0), 0);
  const head = rows.length === 0 ? 'no batch yet (lines wait to be packed)' : `${rows.length} batch${rows.length === 1 ? '' : 'es'}: ${statuses}`;
  return { rows: [...rows], text: rows.length === 0 ? head : `${head} · ${done}/${lines} requests done${failed ? `, ${failed} failed` : ''}` };
}

export interface RunDetail {
  run: RunSummary;
  spec: Record<string, string | number | boolean | null>;
  requests: { total: number; retries: number };
  estimate: Money | null;
  failures: FailureDigest;
  chart: Chart;
  /** --via batch: each batch of the run; null for a real-time run */
  batches: BatchesView | null;
}

export function runDetail(
  state: RunState,
  totals: CostTotals,
  failures: FailureDigest,
  samples: readonly Sample[],
  now: number,
  facts: SummaryFacts = {},
  batches: readonly BatchRow[] | null = null,
): RunDetail {
  const live = isFinished(state.status) && samples.length ? null : liveSample(state, totals, now);
  return {
    run: runSummary(state, totals, { ...facts, now }),
    spec: specView(state),
    requests: { total: state.counts.requests, retries: state.counts.retries },
    estimate: state.counts.est_micros > 0 ? money(state.counts.est_micros, totals.currency) : null,
    failures,
    chart: chartOf(samples, live, totals.currency),
    batches: state.spec.via === 'batch' ? batchesView(batches ?? []) : null,
  };
}
