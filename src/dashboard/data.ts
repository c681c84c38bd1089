/**
 * Reads what the dashboard shows from Redis and hands it to the pure view functions. The only state kept
 * here is a per-run cache of the failure digest, because that one costs a pass over every file.
 */
import type { Redis } from 'ioredis';
import { readSeries } from '../runs/series.ts';
import type { RunStore } from '../runs/store.ts';
import type { Costs } from '../app/costs.ts';
import {
  failureDigest,
  failureFold,
  failureRescanMs,
  foldFailure,
  runDetail,
  runSummary,
  type FailureDigest,
  type RunDetail,
  type RunSummary,
} from './view.ts';

export interface RunsDataDeps {
  redis: Redis;
  keyPrefix: string;
  runs: RunStore;
  costs: Costs;
}

export interface RunsData {
  list(limit: number): Promise<RunSummary[]>;
  detail(runId: string, now?: number): Promise<RunDetail | undefined>;
}

interface CachedFailures {
  failed: number;
  generation: number;
  at: number;
  digest: FailureDigest;
}

export const FAILURES_SHOWN = 50;

export function createRunsData(deps: RunsDataDeps): RunsData {
  const failureCache = new Map<string, CachedFailures>();

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
          return state ? runSummary(state, totals) : undefined;
        }),
      );
      return rows.filter((r): r is RunSummary => r !== undefined);
    },

    async detail(runId, now = Date.now()) {
      const state = await deps.runs.state(runId);
      if (!state) return undefined;
      const [totals, samples, digest] = await Promise.all([
        deps.costs.totals(runId),
        readSeries(deps.redis, deps.keyPrefix, runId),
        failures(runId, state.counts.failed, state.generation, state.counts.total, now),
      ]);
      return runDetail(state, totals, digest, samples, now);
    },
  };
}
