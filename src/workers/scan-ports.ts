/**
 * Everything the scan handler touches, narrowed to what it uses, so that tests give it in-memory fakes
 * (test/fakes/scan.ts) the way prepare's are.
 */
import type { JobContext } from '../app/context.ts';
import { resultSecret } from '../app/result-secret.ts';
import type { PreparePayload } from '../jobs/catalog.ts';
import { SCAN_BACKPRESSURE } from '../jobs/policy.ts';
import { failFile } from '../lifecycle/file-state.ts';
import { ensureReport } from '../lifecycle/run-end.ts';
import { validateResultDoc } from '../outputs/result.ts';
import { checkSignature } from '../outputs/signature.ts';
import type { OutputClaim } from '../producers/filter.ts';
import { type DestinationRecords, type Listed, runObjects } from '../producers/objects.ts';
import { buildRunSpec } from '../producers/run.ts';
import { getSchedule, type ScheduleSpec } from '../producers/schedules.ts';
import type { RunStore } from '../runs/store.ts';
import type { RunSpec } from '../runs/types.ts';
import type { Storage } from '../storage/types.ts';
import type { FailureCode } from '../util/failure-codes.ts';
import type { Logger } from '../util/logger.ts';

/** The run store, as scan uses it: registration, the raw skipped transition, the stop flag, the end of the listing. */
export interface ScanRuns extends Pick<RunStore, 'registerFile' | 'finishFile' | 'patchFile' | 'fileStatus' | 'generation' | 'stopReason' | 'scanDone'> {
  /** fails the file (lifecycle/file-state.ts: staging goes, the run's report when it was the last) */
  failFile(runId: string, fileId: string, code: FailureCode, message: string): Promise<void>;
  /** enqueues the run's report when the run has ended unreported */
  ensureReport(runId: string): Promise<void>;
}

export interface ScanPorts {
  /** a scheduled firing: the schedule by name, and the run it creates (RunStore.create's outcome) */
  schedules: {
    get(name: string): Promise<ScheduleSpec | undefined>;
    createRun(s: ScheduleSpec, runId: string): Promise<{ outcome: 'created' | 'exists' | 'busy'; lastRunId?: string }>;
  };
  spec(runId: string): Promise<RunSpec>;
  runs: ScanRuns;
  /** the run's objects in order (producers/objects.ts runObjects), the destination's own outputs left out */
  objects(spec: RunSpec, secret: string): AsyncIterable<Listed>;
  storage(location: string): Pick<Storage, 'getText' | 'uri'>;
  prepare: {
    add(jobs: { name: 'prepare'; data: PreparePayload; opts: { jobId: string } }[]): Promise<unknown>;
    waiting(): Promise<number>;
  };
  /** the deployment's result secret: only a result it signed is reused */
  resultSecret(): Promise<string>;
  backpressure: { maxWaitingPrepare: number; pollMs: number };
  log: Logger;
}

export function scanPorts(ctx: JobContext): ScanPorts {
  return {
    schedules: {
      get: (name) => getSchedule(ctx, name),
      createRun: (s, runId) =>
        ctx.runs.create(buildRunSpec({ ...s.request, schedule: s.name }, ctx.cfg, runId, new Date(), undefined, ctx.pricing), { schedule: s.name }),
    },
    spec: (runId) => ctx.spec(runId),
    runs: {
      registerFile: (...a) => ctx.runs.registerFile(...a),
      finishFile: (...a) => ctx.runs.finishFile(...a),
      patchFile: (...a) => ctx.runs.patchFile(...a),
      fileStatus: (...a) => ctx.runs.fileStatus(...a),
      generation: (...a) => ctx.runs.generation(...a),
      stopReason: (runId) => ctx.runs.stopReason(runId),
      scanDone: (runId) => ctx.runs.scanDone(runId),
      failFile: (runId, fileId, code, message) => failFile(ctx, runId, fileId, code, message),
      ensureReport: (runId) => ensureReport(ctx, runId),
    },
    objects: (spec, secret) => runObjects(spec, ctx.storage(spec.source), destinationRecords(ctx, ctx.storage(spec.destination), secret)),
    storage: (location) => ctx.storage(location),
    prepare: {
      add: (jobs) => ctx.queues.prepare.addBulk(jobs),
      waiting: () => ctx.queues.prepare.getWaitingCount(),
    },
    resultSecret: () => resultSecret(ctx),
    backpressure: SCAN_BACKPRESSURE,
    log: ctx.log,
  };
}

/** Results looked up at a time while listing (a listing is sorted: a source and its outputs come together). */
const RESULT_CACHE = 256;

/**
 * The run's records for a destination inside its source (producers/filter.ts outputsOf): a run id this
 * deployment has in Redis, or a result it signed that lists the name. Nothing else makes a key an output.
 */
function destinationRecords(ctx: JobContext, dst: Storage, secret: string): DestinationRecords {
  const results = new Map<string, Promise<ReadonlySet<string>>>();
  const outputsOfResult = async (resultKey: string): Promise<ReadonlySet<string>> => {
    const raw = await dst.getText(resultKey).catch(() => undefined);
    if (!raw) return new Set();
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return new Set();
    }
    const v = validateResultDoc(json);
    if (!v.ok || !checkSignature(json as Record<string, unknown>, secret).ok) return new Set();
    return new Set([resultKey.slice(resultKey.lastIndexOf('/') + 1), ...v.doc.outputs]);
  };
  return {
    uri: dst.uri,
    async confirms(claim: OutputClaim): Promise<boolean> {
      if (claim.kind === 'run') return (await ctx.runs.spec(claim.runId)) !== undefined;
      let p = results.get(claim.resultKey);
      if (!p) {
        if (results.size >= RESULT_CACHE) results.delete(results.keys().next().value as string);
        p = outputsOfResult(claim.resultKey);
        results.set(claim.resultKey, p);
      }
      return (await p).has(claim.name);
    },
  };
}
