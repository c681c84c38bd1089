/**
 * scan: list the source (or read the manifest) page by page, register each object with the run, skip those
 * whose result already exists for the same ETag and fingerprint, enqueue one prepare job per object.
 * Backpressure: waits while too many prepare jobs are pending, so Redis stays bounded for any prefix size.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import { resultSecret } from '../app/result-secret.ts';
import { jobIds, type PreparePayload, type ScanPayload } from '../jobs/catalog.ts';
import { SCAN_BACKPRESSURE } from '../jobs/policy.ts';
import { failFile } from '../lifecycle/file-state.ts';
import { ensureReport } from '../lifecycle/run-end.ts';
import { checkReusable, validateResultDoc } from '../outputs/result.ts';
import { checkSignature, sha256Hex } from '../outputs/signature.ts';
import type { OutputClaim } from '../producers/filter.ts';
import { type DestinationRecords, type ObjectProblem as Problem, runObjects } from '../producers/objects.ts';
import { buildRunSpec } from '../producers/run.ts';
import { getSchedule, scheduledRunId } from '../producers/schedules.ts';
import type { FileState, RunSpec } from '../runs/types.ts';
import { fileIdOf, localNameProblem, outputKey } from '../storage/keys.ts';
import type { ObjectInfo, Storage } from '../storage/types.ts';
import { describeError } from '../util/errors.ts';

export interface ScanResult {
  runId: string;
  registered: number;
  skipped: number;
  enqueued: number;
  firingSkipped?: string;
}

const PAGE = 200;
const REUSE_CHECKS = 16;

export async function scan(job: Job<ScanPayload>, ctx: JobContext): Promise<ScanResult> {
  let runId = job.data.runId;
  if (!runId) {
    const s = job.data.schedule ? await getSchedule(ctx, job.data.schedule) : undefined;
    if (!s) return { runId: '', registered: 0, skipped: 0, enqueued: 0 }; // schedule removed: nothing to do
    // The firing's job id names its run: a redone firing (stalled, retried) continues the same run.
    runId = scheduledRunId(job.id ?? '', job.timestamp);
    const spec = buildRunSpec({ ...s.request, schedule: s.name }, ctx.cfg, runId, new Date(), undefined, ctx.pricing);
    const made = await ctx.runs.create(spec, { schedule: s.name });
    if (made.outcome === 'busy') {
      // The schedule's previous run is still going: starting another would enqueue its unfinished objects twice.
      ctx.log.warn({ schedule: s.name, running: made.lastRunId }, 'schedule fired while its last run is still going: firing skipped');
      return { runId: '', registered: 0, skipped: 0, enqueued: 0, firingSkipped: made.lastRunId };
    }
    // From here the job is this run's scan (a final failure then stops the run instead of leaving it running).
    await job.updateData({ ...job.data, runId });
    ctx.log.info({ runId, schedule: s.name, outcome: made.outcome }, 'scheduled run created');
  }
  const spec = await ctx.spec(runId);
  const src = ctx.storage(spec.source);
  const dst = ctx.storage(spec.destination);
  const result: ScanResult = { runId, registered: 0, skipped: 0, enqueued: 0 };
  let batch: { obj: ObjectInfo; fileId: string }[] = [];
  /** objects registered as skipped by this scan (by name or pattern): outside --max-files */
  let notRead = 0;

  const flush = async () => {
    const jobs: { name: 'prepare'; data: PreparePayload; opts: { jobId: string } }[] = [];
    // One GET per object decides a skip: done for a page at a time, in parallel (S3 latency, not CPU, bounds it).
    const secret = await resultSecret(ctx);
    const reusable: Reuse[] = spec.force ? batch.map(() => false) : await mapLimit(batch, REUSE_CHECKS, ({ obj }) => reuseOf(dst, obj, spec, secret));
    for (const [i, { obj, fileId }] of batch.entries()) {
      const r = reusable[i];
      if (typeof r === 'object' && 'untrusted' in r) {
        // A result this deployment did not write (or one changed since): redone, and the report counts it.
        ctx.log.warn({ runId, key: obj.key, why: r.untrusted }, 'an earlier result is not trusted: the file is processed again');
        await ctx.runs.patchFile(runId, fileId, { untrustedResult: r.untrusted });
      } else if (typeof r === 'object') {
        await failFile(ctx, runId, fileId, r.code, r.message);
        continue;
      }
      if (r === true) {
        await ctx.runs.finishFile(runId, fileId, fileState(src, obj, 'skipped'));
        result.skipped++;
        continue;
      }
      jobs.push({ name: 'prepare', data: { runId, fileId, key: obj.key, etag: obj.etag, size: obj.size }, opts: { jobId: jobIds.prepare(runId, fileId) } });
    }
    batch = [];
    if (jobs.length) await ctx.queues.prepare.addBulk(jobs);
    result.enqueued += jobs.length;
    await job.updateProgress({ registered: result.registered, skipped: result.skipped, enqueued: result.enqueued });
    while ((await ctx.queues.prepare.getWaitingCount()) > SCAN_BACKPRESSURE.maxWaitingPrepare) {
      if (await ctx.runs.stopReason(runId)) return;
      await sleep(SCAN_BACKPRESSURE.pollMs);
    }
  };

  for await (const obj of runObjects(spec, src, destinationRecords(ctx, dst, await resultSecret(ctx)))) {
    const fileId = fileIdOf(obj.key);
    if (obj.skip) {
      // Not read, but accounted for: registered (outside --max-files) and ended as skipped with its reason.
      if ((await ctx.runs.registerFile(runId, fileId, fileState(src, obj, 'pending'))) === 1) {
        await ctx.runs.finishFile(runId, fileId, { ...fileState(src, obj, 'skipped'), code: obj.skip.code, message: obj.skip.message });
        result.skipped++;
        notRead++;
      }
      continue;
    }
    // --max-files counts the objects read: the registered total also holds those skipped by name or pattern.
    const r = await ctx.runs.registerFile(runId, fileId, fileState(src, obj, 'pending'), spec.maxFiles ? spec.maxFiles + notRead : 0);
    if (r === -1) break; // --max-files reached
    if (r === 0) {
      // A redone scan: already registered. Registered files are enqueued only a page at a time, so one still
      // pending at generation 0 may never have been: enqueue it again (its job id makes that harmless).
      if ((await ctx.runs.fileStatus(runId, fileId)) !== 'pending' || (await ctx.runs.generation(runId, fileId)) !== 0) continue;
    } else {
      result.registered++;
    }
    const bad = obj.problem ?? keyProblem(obj.key, dst);
    if (bad) {
      await failFile(ctx, runId, fileId, bad.code, bad.message);
      continue;
    }
    batch.push({ obj, fileId });
    if (batch.length >= PAGE) {
      await flush();
      if (await ctx.runs.stopReason(runId)) break;
    }
  }
  await flush();
  // scanDone says "ended" once: a redone scan whose first run ended the run but died before enqueueing the
  // report finds it ended and unreported.
  await ctx.runs.scanDone(runId);
  await ensureReport(ctx, runId);
  ctx.log.info(result, 'scan done');
  return result;
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

function fileState(src: Storage, obj: ObjectInfo, status: FileState['status']): FileState {
  return { key: obj.key, uri: src.uri + obj.key, etag: obj.etag, size: obj.size, status };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/** Whether the object's result can be reused, why checking that failed the object, or why a result found is not trusted. */
type Reuse = boolean | Problem | { untrusted: string };

/**
 * Why no output can be written under this key, or undefined. S3 holds keys like 'a/../b', './x' or 'a//b' that
 * no output may mirror (keys.ts): such an object fails alone with storage_invalid_key instead of failing the scan
 * (and with it every object listed after it). A folder destination also refuses names over 255 bytes once the
 * output suffix is added (key_too_long), checked here before any file system call meets them.
 */
function keyProblem(key: string, dst: Storage): Problem | undefined {
  try {
    outputKey(key, 'json');
  } catch (err) {
    return { code: 'storage_invalid_key', message: (err as Error).message };
  }
  const long = dst.uri.startsWith('file:') ? localNameProblem(key) : undefined;
  return long ? { code: 'key_too_long', message: long } : undefined;
}

/**
 * One object's reuse check. A permanent error is about this object (its name, its result file): it fails that
 * file alone. A retryable one (the destination blinking) fails the scan attempt, which is redone from the start.
 */
async function reuseOf(dst: Storage, obj: ObjectInfo, spec: RunSpec, secret: string): Promise<Reuse> {
  try {
    return await resultReusable(dst, obj, spec, secret);
  } catch (err) {
    const e = describeError(err);
    if (e.retryable) throw err;
    return { code: e.code, message: `checking for an earlier result: ${e.message}` };
  }
}

async function resultReusable(dst: Storage, obj: ObjectInfo, spec: RunSpec, secret: string): Promise<Reuse> {
  const raw = await dst.getText(outputKey(obj.key, 'json'));
  if (!raw) return false;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return false; // a malformed result is redone, not trusted
  }
  const r = checkReusable(json, obj.etag, spec.fingerprint, secret);
  if (!r.reusable) return r.reason === 'unsigned' || r.reason === 'forged' ? { untrusted: `${r.reason}: ${r.detail}` } : false;
  // Signed: each text output must still be what was signed (a replaced verdict file is a forgery too).
  const base = obj.key.slice(obj.key.lastIndexOf('/') + 1);
  for (const [name, digest] of Object.entries(r.doc.signature?.digests ?? {})) {
    if (!name.startsWith(`${base}.`)) return { untrusted: `forged: the signed output ${name} is not one of ${base}` };
    const body = await dst.getText(outputKey(obj.key, name.slice(base.length + 1)));
    if (body === undefined || sha256Hex(body) !== digest) return { untrusted: `forged: ${name} changed since its result was signed` };
  }
  return true;
}
