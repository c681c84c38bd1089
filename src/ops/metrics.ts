/**
 * Prometheus metrics: one Registry per process, every series prefixed `omnibatch_`, plus Node's default
 * process metrics under their standard names (so stock dashboards find them). Workers call the typed
 * helpers below and never touch prom-client themselves; label values come from small fixed sets
 * (stage, model, error code), never from keys or run ids, so the series count stays bounded.
 */
import type http from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Cost } from '../cost/price.ts';
import { STAGES } from '../jobs/catalog.ts';
import type { Usage } from '../models/types.ts';
import type { FailureCode } from '../util/failure-codes.ts';
import { type DepthSnapshot, emptyDepth, QUEUE_STATES } from './depth.ts';
import { hostAllowed } from './host-allow.ts';
import { type RunningServer, send, startHttpServer } from './http.ts';

export type Stage = (typeof STAGES)[number];
export type JobState = 'completed' | 'failed' | 'retried' | 'skipped';
/** 'ok', 'rate_limited', or the OmniError code of the failure (a bounded set) */
export type RequestOutcome = 'ok' | 'rate_limited' | (string & {});
export type ByteDirection = 'downloaded' | 'uploaded';

/** Request latency buckets, seconds: from a short refusal to a 20-minute chunk streaming its answer. */
export const REQUEST_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200];

export interface Metrics {
  readonly registry: Registry;
  jobFinished(stage: Stage, state: JobState): void;
  /** a job of `stage` started; call the returned function (once; extra calls are ignored) when it ends */
  jobStarted(stage: Stage): () => void;
  /** one model request ended; 'rate_limited' also counts a 429 */
  requestObserved(r: { model: string; protocol: string; outcome: RequestOutcome; seconds: number }): void;
  tokens(usage: Usage, model: string): void;
  /** unpriced costs are not counted here: money is never reported as zero when it is unknown */
  cost(cost: Cost, model: string): void;
  retry(stage: Stage, code: FailureCode): void;
  bytes(direction: ByteDirection, n: number): void;
  mediaSeconds(task: string, seconds: number): void;
  /**
   * Where the queue-depth and work-left gauges read from on each scrape (ops/depth.ts readDepth). Without
   * one (or when it fails) they still export, as zeros, with omnibatch_depth_up 0 on failure.
   */
  depthSource(read: (() => Promise<DepthSnapshot>) | undefined): void;
  /** Prometheus text exposition */
  render(): Promise<string>;
  readonly contentType: string;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  /** Every counter lives in this process's registry, with its labels fixed here. */
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Counter<L>({ name, help, labelNames, registers });

  const jobs = counter('omnibatch_jobs_total', 'Jobs finished, by stage and final state', ['stage', 'state']);
  const active = new Gauge({ name: 'omnibatch_jobs_active', help: 'Jobs running now in this process, by stage', labelNames: ['stage'] as const, registers });
  const duration = new Histogram({
    name: 'omnibatch_request_duration_seconds',
    help: 'Model request wall time, first byte sent to last byte read',
    labelNames: ['model', 'protocol', 'outcome'] as const,
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const tokens = counter('omnibatch_tokens_total', 'Tokens billed, by model, direction (input|output) and modality', ['model', 'direction', 'modality']);
  const cost = counter('omnibatch_cost_micros_total', 'Money spent, integer micro-units of the currency', ['model', 'currency']);
  const limited = counter('omnibatch_rate_limited_total', 'Requests refused with 429 (throttling)', ['model']);
  const retries = counter('omnibatch_retries_total', 'Retries scheduled, by stage and error code', ['stage', 'code']);
  const bytes = counter('omnibatch_bytes_total', 'Bytes moved to and from object storage', ['direction']);
  const media = counter('omnibatch_media_seconds_total', 'Seconds of source media processed, by task', ['task']);
  // An idle process still exports every stage's series, at zero: a scraper sees the worker, not a gap.
  for (const stage of STAGES) {
    active.set({ stage }, 0);
    for (const state of ['completed', 'failed', 'retried', 'skipped'] as const) jobs.inc({ stage, state }, 0);
  }

  // Autoscaling gauges, read from Redis once per scrape (all gauges share one snapshot).
  let readDepth: (() => Promise<DepthSnapshot>) | undefined;
  let pending: Promise<{ snap: DepthSnapshot; ok: boolean }> | undefined;
  const snapshot = () => {
    pending ??= (async () => {
      try {
        return { snap: readDepth ? await readDepth() : emptyDepth(), ok: true };
      } catch {
        return { snap: emptyDepth(), ok: false };
      } finally {
        setTimeout(() => {
          pending = undefined;
        }, 250).unref();
      }
    })();
    return pending;
  };
  /** A gauge set on each scrape from the one depth snapshot. */
  const depthGauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: Gauge<L>, d: Awaited<ReturnType<typeof snapshot>>) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        fill(this, await snapshot());
      },
    });
  depthGauge(
    'omnibatch_queue_jobs',
    'Jobs in each queue by state (waiting, active, delayed, failed): scale workers on waiting',
    ['queue', 'state'],
    (g, { snap }) => {
      for (const stage of STAGES) for (const state of QUEUE_STATES) g.set({ queue: stage, state }, snap.queues[stage][state]);
    },
  );
  depthGauge('omnibatch_depth_up', '1 when the last queue-depth read from Redis succeeded', [], (g, { ok }) => g.set(ok ? 1 : 0));
  depthGauge('omnibatch_runs_live', 'Runs running or stopping', [], (g, { snap }) => g.set(snap.runs.length));
  depthGauge('omnibatch_files_left', 'Files not yet ended, over all live runs', [], (g, { snap }) => g.set(snap.runs.reduce((a, r) => a + r.filesLeft, 0)));
  depthGauge(
    'omnibatch_work_seconds_left',
    'Predicted seconds of work left over all live runs at their current pace (runs with no pace yet count 0)',
    [],
    (g, { snap }) => g.set(snap.runs.reduce((a, r) => a + (Number.isNaN(r.secondsLeft) ? 0 : r.secondsLeft), 0)),
  );
  // Per run: run ids are labels here because live runs are few and their series vanish when they end.
  depthGauge('omnibatch_run_files_left', 'Files not yet ended, per live run', ['run_id'], (g, { snap }) => {
    g.reset();
    for (const r of snap.runs) g.set({ run_id: r.runId }, r.filesLeft);
  });
  depthGauge(
    'omnibatch_run_work_seconds_left',
    'Predicted seconds of work left per live run at its current pace (NaN: no pace yet)',
    ['run_id'],
    (g, { snap }) => {
      g.reset();
      for (const r of snap.runs) g.set({ run_id: r.runId }, r.secondsLeft);
    },
  );

  return {
    registry,
    contentType: registry.contentType,
    jobFinished: (stage, state) => jobs.inc({ stage, state }),
    jobStarted(stage) {
      active.inc({ stage });
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        active.dec({ stage });
      };
    },
    requestObserved({ model, protocol, outcome, seconds }) {
      duration.observe({ model, protocol, outcome }, Math.max(0, seconds));
      if (outcome === 'rate_limited') limited.inc({ model });
    },
    tokens(usage, model) {
      for (const [modality, n] of Object.entries(usage.input)) if (n > 0) tokens.inc({ model, direction: 'input', modality }, n);
      for (const [modality, n] of Object.entries(usage.output)) if (n > 0) tokens.inc({ model, direction: 'output', modality }, n);
    },
    cost(c, model) {
      if (c.priced && c.currency && c.amountMicros > 0) cost.inc({ model, currency: c.currency }, c.amountMicros);
    },
    retry: (stage, code) => retries.inc({ stage, code }),
    bytes(direction, n) {
      if (n > 0) bytes.inc({ direction }, n);
    },
    mediaSeconds(task, seconds) {
      if (seconds > 0) media.inc({ task }, seconds);
    },
    depthSource(read) {
      readDepth = read;
      pending = undefined;
    },
    render: () => registry.metrics(),
  };
}

/** The process's metrics; created on first use so commands that never serve them pay nothing. */
let processMetrics: Metrics | undefined;
export function metrics(): Metrics {
  processMetrics ??= createMetrics();
  return processMetrics;
}

/** Loopback unless asked: /metrics names models, stages and error codes; bind wider only behind a network boundary. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

export interface MetricsServerOptions {
  /** default DEFAULT_METRICS_HOST */
  host?: string;
  metrics?: Metrics;
  /** what /healthz checks (e.g. a Redis PING); a rejection or `false` answers 503 */
  health?: () => unknown;
  /** the Host names served (host-allow.ts allowedHosts); another Host is refused (DNS rebinding). Absent: any */
  allowedHosts?: ReadonlySet<string>;
}

/** Serves GET /metrics (Prometheus text) and GET /healthz. Port 0 picks a free port. */
export function startMetricsServer(port: number, opts: MetricsServerOptions = {}): Promise<RunningServer> {
  const m = opts.metrics ?? metrics();
  return startHttpServer(
    async (req: http.IncomingMessage, res: http.ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0];
      if (opts.allowedHosts && !hostAllowed(req.headers.host, opts.allowedHosts)) return send(res, 421, 'unknown Host: add it with --allowed-host\n');
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
      if (path === '/metrics') return send(res, 200, await m.render(), m.contentType);
      if (path === '/healthz') {
        let healthy = true;
        let detail = 'ok';
        try {
          healthy = (await opts.health?.()) !== false;
          if (!healthy) detail = 'unhealthy';
        } catch (err) {
          healthy = false;
          detail = err instanceof Error ? err.message : String(err);
        }
        return send(res, healthy ? 200 : 503, `${JSON.stringify({ status: healthy ? 'ok' : 'unhealthy', detail })}\n`, 'application/json');
      }
      return send(res, 404, 'not found: try /metrics or /healthz\n');
    },
    port,
    opts.host ?? DEFAULT_METRICS_HOST,
  );
}
