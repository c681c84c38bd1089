/**
 * Reads what the dashboard shows from Redis and hands it to the pure view functions. The only state kept
 * here is a per-run cache of the failure digest, because that one costs a pass over every file.
 */
import type { Redis } from 'ioredis';
import type { Costs, CostTotals } from '../app/costs.ts';
import { chunkField } from '../cost/ledger.ts';
import { type PricingOverride, unpricedNoteFor } from '../cost/price.ts';
import { batchRows } from '../runs/batch-progress.ts';
import type { BatchStore, InputRecord } from '../runs/batch-store.ts';
import { WorkHistory } from '../runs/eta.ts';
import { readSeries } from '../runs/series.ts';
import type { RunStore } from '../runs/store.ts';
import type { FileState, RunState } from '../runs/types.ts';
import { compareRows, type FileRowView, fileRowView } from './files-view.ts';
import {
  type FailureDigest,
  failureDigest,
  failureFold,
  failureRescanMs,
  foldFailure,
  type RunDetail,
  type RunSummary,
  runDetail,
  runSummary,
} from './view.ts';

export interface RunsDataDeps {
  redis: Redis;
  keyPrefix: string;
  runs: RunStore;
  costs: Costs;
  /** the price overrides the workers use: what had no price is said by the same table */
  pricing?: PricingOverride;
  /** a --via batch run's batches, and the completion window they are created with (OMNIBATCH_BATCH_WINDOW) */
  batches: BatchStore;
  cfg: { batchWindow: string };
}

export interface RunsData {
  list(limit: number): Promise<RunSummary[]>;
  detail(runId: string, now?: number): Promise<RunDetail | undefined>;
  /** one page of the run's files, failed and pending first */
  files(runId: string, offset: number, limit: number): Promise<{ total: number; rows: FileRowView[] } | undefined>;
}

interface CachedFailures {
  failed: number;
  generation: number;
  at: number;
  digest: FailureDigest;
}

export const FAILURES_SHOWN = 50;

/**
 * How often an open --via batch run's batch records are re-read. Each record holds its input file's line refs
 * (up to 50,000 of ~40 bytes: ~2 MB of JSON), so a 1-second poll would re-read and parse them all every second;
 * the ages are still computed against the current clock.
 */
export const BATCHES_RESCAN_MS = 5_000;

export function createRunsData(deps: RunsDataDeps): RunsData {
  // What this dashboard has seen of each run's work: the ETA's recent rate (runs/eta.ts).
  const histories = new Map<string, WorkHistory>();
  const factsOf = (state: RunState, t: CostTotals, now: number) => {
    let hist = histories.get(state.spec.runId);
    if (!hist) {
      if (histories.size > 500) histories.clear();
      hist = new WorkHistory();
      histories.set(state.spec.runId, hist);
    }
    hist.observe(now, t.chunks);
    return { unpricedNote: noteOf(state, t), now, recent: hist.recent(now) };
  };
  const noteOf = (state: RunState, t: CostTotals): string => unpricedNoteFor(t.usage, t.priced, state.spec.model, state.spec.region, deps.pricing);

  const failureCache = new Map<string, CachedFailures>();

  const batchCache = new Map<string, { at: number; inputs: InputRecord[] }>();
  async function batchInputs(runId: string, now: number): Promise<InputRecord[]> {
    const hit = batchCache.get(runId);
    if (hit && now - hit.at < BATCHES_RESCAN_MS) return hit.inputs;
    const inputs = await deps.batches.inputs(runId);
    if (batchCache.size > 200) batchCache.clear();
    batchCache.set(runId, { at: now, inputs });
    return inputs;
  }

  async function failures(runId: string, failed: number, generation: number, total: number, now: number): Promise<FailureDigest> {
    const hit = failureCache.get(runId);
    if (hit && hit.generation === generation && (hit.failed === failed || now - hit.at < failureRescanMs(total))) return hit.digest;
    const acc = failureFold(FAILURES_SHOWN);
    for await (const [id, f] of deps.runs.files(runId)) foldFailure(acc, id, f);
    const digest = failureDigest(acc);
    if (failureCache.size > 200) failureCache.clear(); // a long-lived dashboard over many runs stays small
    failureCache.set(runId, { failed, generation, at: now, digest });
    return digest;
  }

  return {
    async list(limit) {
      const ids = await deps.runs.listRuns(limit);
      const rows = await Promise.all(
        ids.map(async (id) => {
          const [state, totals] = await Promise.all([deps.runs.state(id), deps.costs.totals(id)]);
          return state ? runSummary(state, totals, factsOf(state, totals, Date.now())) : undefined;
        }),
      );
      return rows.filter((r): r is RunSummary => r !== undefined);
    },

    async detail(runId, now = Date.now()) {
      const state = await deps.runs.state(runId);
      if (!state) return undefined;
      const [totals, samples, digest, inputs] = await Promise.all([
        deps.costs.totals(runId),
        readSeries(deps.redis, deps.keyPrefix, runId),
        failures(runId, state.counts.failed, state.generation, state.counts.total, now),
        state.spec.via === 'batch' ? batchInputs(runId, now) : undefined,
      ]);
      const batches = inputs ? batchRows(inputs, deps.cfg.batchWindow, now) : null;
      return runDetail(state, totals, digest, samples, now, factsOf(state, totals, now), batches);
    },

    async files(runId, offset, limit) {
      const spec = await deps.runs.spec(runId);
      if (!spec) return undefined;
      // A pass over the run's files (HSCAN): the page asks for it every few seconds, not every poll.
      const all: [string, FileState][] = [];
      for await (const entry of deps.runs.files(runId)) all.push(entry);
      const reviews = spec.task === 'moderate' ? await deps.runs.reviews(runId) : new Map();
      const rows = all.map(([id, f]) => fileRowView(runId, spec.task, id, f, { review: reviews.get(id) })).sort(compareRows);
      const page = rows.slice(offset, offset + limit);
      // Chunks done and planned for the page's open files: their plans, and the ledger's chunks of each.
      const open = page.filter((r) => r.status === 'pending' || r.status === 'failed');
      const planned = await deps.runs.plannedRequests(
        runId,
        open.map((r) => r.fileId),
      );
      const ledger = deps.costs.ledger;
      for (const [i, r] of open.entries()) {
        const n = planned[i];
        if (n === undefined) continue;
        r.chunks.planned = n;
        const fields = Array.from({ length: n }, (_, c) => chunkField(r.fileId, c));
        const got = fields.length ? await deps.redis.hmget(ledger.keys(runId).chunks, ...fields) : [];
        r.chunks.done = got.filter((v) => v !== null).length;
      }
      return { total: rows.length, rows: page };
    },
  };
}
