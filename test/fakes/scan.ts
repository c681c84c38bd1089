/**
 * scan's ports in memory (src/workers/scan-ports.ts ScanPorts): the listing the test gives, a run store that
 * registers like the real one (its --max-files cap included), a destination store, and what was enqueued.
 */
import type { PreparePayload, ScanPayload } from '../../src/jobs/catalog.ts';
import { emptyUsage } from '../../src/models/types.ts';
import { buildResult } from '../../src/outputs/result.ts';
import { sha256Hex, signResult } from '../../src/outputs/signature.ts';
import type { Listed } from '../../src/producers/objects.ts';
import type { ScheduleSpec } from '../../src/producers/schedules.ts';
import type { FileState, FileStatus, RunSpec, StopReason } from '../../src/runs/types.ts';
import { outputKey } from '../../src/storage/keys.ts';
import { silentLogger } from '../../src/util/logger.ts';
import type { ScanJob } from '../../src/workers/scan.ts';
import type { ScanPorts } from '../../src/workers/scan-ports.ts';
import { MemoryStorage } from './storage.ts';

export const FAKE_RESULT_SECRET = 'fake-result-secret-0123456789';

export interface FakeScan {
  ports: ScanPorts;
  /** the destination's objects (earlier results) */
  dst: MemoryStorage;
  /** registered files by id, as the store holds them (status and the last state written) */
  files: Map<string, FileState>;
  generations: Map<string, number>;
  /** every prepare job added, in order, and how many addBulk calls carried them */
  prepared: PreparePayload[];
  addCalls: number;
  failed: { fileId: string; code: string; message: string }[];
  patched: { fileId: string; patch: Partial<FileState> }[];
  runsCreated: { schedule: string; runId: string }[];
  scanDone: boolean;
  reportsEnsured: number;
  /** the run's stop flag (a test sets it) */
  stop?: StopReason;
  /** the prepare queue's waiting count at each look, in order (then 0) */
  waiting: number[];
}

export function fakeScan(
  spec: RunSpec,
  objects: readonly Listed[],
  opts: { schedules?: ScheduleSpec[]; busy?: string; backpressure?: { maxWaitingPrepare: number; pollMs: number } } = {},
): FakeScan {
  const dst = new MemoryStorage();
  const f: Omit<FakeScan, 'ports'> = {
    dst,
    files: new Map(),
    generations: new Map(),
    prepared: [],
    addCalls: 0,
    failed: [],
    patched: [],
    runsCreated: [],
    scanDone: false,
    reportsEnsured: 0,
    waiting: [],
  };
  const fake = f as FakeScan;
  const finish = (fileId: string, file: FileState): 'done' | 'already' | 'unknown' => {
    const cur = f.files.get(fileId);
    if (!cur) return 'unknown';
    if (cur.status !== 'pending') return 'already';
    f.files.set(fileId, file);
    return 'done';
  };
  const ports: ScanPorts = {
    schedules: {
      get: async (name) => opts.schedules?.find((s) => s.name === name),
      createRun: async (s, runId) => {
        if (opts.busy) return { outcome: 'busy', lastRunId: opts.busy };
        f.runsCreated.push({ schedule: s.name, runId });
        return { outcome: 'created' };
      },
    },
    spec: async (runId) => ({ ...spec, runId }),
    runs: {
      // RunStore's REGISTER: 0 when known, -1 when the cap is reached, else 1.
      registerFile: async (_runId, fileId, file, maxFiles = 0) => {
        if (f.files.has(fileId)) return 0;
        if (maxFiles > 0 && f.files.size >= maxFiles) return -1;
        f.files.set(fileId, file);
        return 1;
      },
      finishFile: async (_runId, fileId, file) => finish(fileId, file),
      patchFile: async (_runId, fileId, patch) => {
        f.patched.push({ fileId, patch });
      },
      fileStatus: async (_runId, fileId) => f.files.get(fileId)?.status as FileStatus | undefined,
      generation: async (_runId, fileId) => f.generations.get(fileId) ?? 0,
      stopReason: async () => fake.stop,
      scanDone: async () => {
        f.scanDone = true;
        return false;
      },
      failFile: async (_runId, fileId, code, message) => {
        f.failed.push({ fileId, code, message });
        const cur = f.files.get(fileId);
        if (cur) finish(fileId, { ...cur, status: 'failed', code, message });
      },
      ensureReport: async () => {
        f.reportsEnsured++;
      },
    },
    objects: async function* () {
      yield* objects;
    },
    storage: (location) =>
      location === spec.destination ? { uri: location, getText: (key) => dst.getText(key) } : { uri: location, getText: async () => undefined },
    prepare: {
      add: async (jobs) => {
        f.addCalls++;
        f.prepared.push(...jobs.map((j) => j.data));
      },
      waiting: async () => f.waiting.shift() ?? 0,
    },
    resultSecret: async () => FAKE_RESULT_SECRET,
    backpressure: opts.backpressure ?? { maxWaitingPrepare: 2000, pollMs: 1 },
    log: silentLogger,
  };
  fake.ports = ports;
  return fake;
}

/** A listed object. */
export function listed(key: string, over: Partial<Listed> = {}): Listed {
  return { key, size: 100, etag: `etag-${key}`, lastModified: new Date(0), ...over };
}

/** A scan job (a scheduled firing when `schedule` is given), recording its progress and data updates. */
export function scanJob(data: ScanPayload, id = 'repeat:nightly:1767225600000'): ScanJob & { progress: unknown[] } {
  const job = {
    data,
    id,
    timestamp: 1_767_225_600_000,
    progress: [] as unknown[],
    async updateData(d: ScanPayload) {
      job.data = d;
    },
    async updateProgress(p: unknown) {
      job.progress.push(p);
    },
  };
  return job as unknown as ScanJob & { progress: unknown[] };
}

/**
 * An earlier result of `obj` in the destination, with its text output: signed with the fake's secret unless
 * `secret` says otherwise (undefined: unsigned), for the run's fingerprint unless told.
 */
export function putResult(
  dst: MemoryStorage,
  spec: RunSpec,
  obj: Listed,
  opts: { secret?: string | null; fingerprint?: string; etag?: string; txt?: string } = {},
): void {
  const base = obj.key.slice(obj.key.lastIndexOf('/') + 1);
  const txt = opts.txt ?? 'what was said';
  const doc = buildResult({
    source: { uri: `${spec.source}${obj.key}`, key: obj.key, etag: opts.etag ?? obj.etag, size: obj.size, durationS: 10 },
    task: spec.task,
    model: spec.model,
    protocol: spec.protocol,
    region: spec.region,
    fingerprint: opts.fingerprint ?? spec.fingerprint,
    chunks: [
      {
        index: 0,
        startS: 0,
        endS: 10,
        text: txt,
        usage: emptyUsage(),
        cost: { amountMicros: 0, currency: 'USD', priced: true },
        attempts: 1,
      },
    ],
    text: txt,
    outputs: [`${base}.txt`],
    createdAt: new Date(0),
  });
  const secret = opts.secret === undefined ? FAKE_RESULT_SECRET : opts.secret;
  const signed = secret === null ? doc : signResult(doc as unknown as Record<string, unknown>, { [`${base}.txt`]: sha256Hex(txt) }, secret);
  dst.put(outputKey(obj.key, 'txt'), txt);
  dst.put(outputKey(obj.key, 'json'), JSON.stringify(signed));
}
