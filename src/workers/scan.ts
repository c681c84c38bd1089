/**
 * scan: list the source (or read the manifest) page by page, register each object with the run, skip those
 * whose result already exists for the same ETag and fingerprint, enqueue one prepare job per object.
 * Backpressure: waits while too many prepare jobs are pending, so Redis stays bounded for any prefix size.
 * The decisions are in scan-decide.ts; this file runs them over narrow ports (scan-ports.ts; fakes:
 * test/fakes/scan.ts).
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import type { ScanPayload } from '../jobs/catalog.ts';
import type { Listed } from '../producers/objects.ts';
import { scheduledRunId } from '../producers/schedules.ts';
import type { FileState, RunSpec } from '../runs/types.ts';
import { fileIdOf, outputKey } from '../storage/keys.ts';
import type { ObjectInfo, Storage } from '../storage/types.ts';
import { describeError } from '../util/errors.ts';
import {
  countListed,
  countPage,
  decideFiring,
  decideListed,
  outputsVerdict,
  pendingAtFirst,
  planPage,
  type Reuse,
  registrationCap,
  resultVerdict,
  type ScanResult,
} from './scan-decide.ts';
import { type ScanPorts, scanPorts } from './scan-ports.ts';

export type { ScanResult } from './scan-decide.ts';

/** A job as the handler uses it. */
export type ScanJob = Pick<Job<ScanPayload>, 'data' | 'id' | 'timestamp' | 'updateData' | 'updateProgress'>;

const PAGE = 200;
const REUSE_CHECKS = 16;

export async function scan(job: Job<ScanPayload>, ctx: JobContext): Promise<ScanResult> {
  return runScan(job, scanPorts(ctx));
}

export async function runScan(job: ScanJob, p: ScanPorts): Promise<ScanResult> {
  const runId = job.data.runId || (await startFiring(job, p));
  if (typeof runId !== 'string') return runId;
  const spec = await p.spec(runId);
  const srcUri = p.storage(spec.source).uri;
  const dst = p.storage(spec.destination);
  const secret = await p.resultSecret();
  let result: ScanResult = { runId, registered: 0, skipped: 0, enqueued: 0 };
  let page: { obj: Listed; fileId: string }[] = [];
  /** objects registered as skipped by this scan (by name or pattern): outside --max-files */
  let notRead = 0;

  const flush = async () => {
    // One GET per object decides a skip: done for a page at a time, in parallel (S3 latency, not CPU, bounds it).
    const items = spec.force
      ? page.map((x) => ({ ...x, reuse: false }))
      : await mapLimit(page, REUSE_CHECKS, async (x) => ({ ...x, reuse: await reuseOf(dst, x.obj, spec, secret) }));
    page = [];
    const plan = planPage(runId, items);
    for (const u of plan.untrusted) {
      // A result this deployment did not write (or one changed since): redone, and the report counts it.
      p.log.warn({ runId, key: u.key, why: u.why }, 'an earlier result is not trusted: the file is processed again');
      await p.runs.patchFile(runId, u.fileId, { untrustedResult: u.why });
    }
    for (const f of plan.fail) await p.runs.failFile(runId, f.fileId, f.code, f.message);
    for (const s of plan.skip) await p.runs.finishFile(runId, s.fileId, fileState(srcUri, s.obj, 'skipped'));
    if (plan.prepare.length) await p.prepare.add(plan.prepare);
    result = countPage(result, plan);
    await job.updateProgress({ registered: result.registered, skipped: result.skipped, enqueued: result.enqueued });
    while ((await p.prepare.waiting()) > p.backpressure.maxWaitingPrepare) {
      if (await p.runs.stopReason(runId)) return;
      await sleep(p.backpressure.pollMs);
    }
  };

  for await (const obj of p.objects(spec, secret)) {
    const fileId = fileIdOf(obj.key);
    // Not read (obj.skip) is still accounted for: registered (outside --max-files) and ended as skipped with its reason.
    const cap = obj.skip ? 0 : registrationCap(spec.maxFiles, notRead);
    const registered = await p.runs.registerFile(runId, fileId, fileState(srcUri, obj, 'pending'), cap);
    const again = registered === 0 && !obj.skip ? pendingAtFirst(await p.runs.fileStatus(runId, fileId), await p.runs.generation(runId, fileId)) : undefined;
    const step = decideListed({ obj, registered, pendingAtFirst: again, destinationUri: dst.uri });
    result = countListed(result, step);
    if (step.kind === 'stop') break;
    if (step.kind === 'ignore') continue;
    if (step.kind === 'skip-unread') {
      await p.runs.finishFile(runId, fileId, { ...fileState(srcUri, obj, 'skipped'), code: step.code, message: step.message });
      notRead++;
      continue;
    }
    if (step.kind === 'fail') {
      await p.runs.failFile(runId, fileId, step.problem.code, step.problem.message);
      continue;
    }
    page.push({ obj, fileId });
    if (page.length >= PAGE) {
      await flush();
      if (await p.runs.stopReason(runId)) break;
    }
  }
  await flush();
  // scanDone says "ended" once: a redone scan whose first run ended the run but died before enqueueing the
  // report finds it ended and unreported.
  await p.runs.scanDone(runId);
  await p.runs.ensureReport(runId);
  p.log.info(result, 'scan done');
  return result;
}

/** A scheduled firing: its run created (the run id), or the scan's result when there is nothing to run. */
async function startFiring(job: ScanJob, p: ScanPorts): Promise<string | ScanResult> {
  const s = job.data.schedule ? await p.schedules.get(job.data.schedule) : undefined;
  // The firing's job id names its run: a redone firing (stalled, retried) continues the same run.
  const runId = scheduledRunId(job.id ?? '', job.timestamp);
  const made = s ? await p.schedules.createRun(s, runId) : undefined;
  const firing = decideFiring({ scheduleFound: s !== undefined, made });
  const none: ScanResult = { runId: '', registered: 0, skipped: 0, enqueued: 0 };
  if (firing.kind === 'none') return none; // schedule removed: nothing to do
  if (firing.kind === 'skip') {
    p.log.warn({ schedule: s?.name, running: firing.running }, 'schedule fired while its last run is still going: firing skipped');
    return { ...none, firingSkipped: firing.running };
  }
  // From here the job is this run's scan (a final failure then stops the run instead of leaving it running).
  await job.updateData({ ...job.data, runId });
  p.log.info({ runId, schedule: s?.name, outcome: made?.outcome }, 'scheduled run created');
  return runId;
}

function fileState(srcUri: string, obj: Pick<ObjectInfo, 'key' | 'etag' | 'size'>, status: FileState['status']): FileState {
  return { key: obj.key, uri: srcUri + obj.key, etag: obj.etag, size: obj.size, status };
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

/**
 * One object's reuse check: its result document, then each output it signed. A permanent error is about this
 * object (its name, its result file): it fails that file alone. A retryable one (the destination blinking) fails
 * the scan attempt, which is redone from the start.
 */
async function reuseOf(dst: Pick<Storage, 'getText'>, obj: ObjectInfo, spec: RunSpec, secret: string): Promise<Reuse> {
  try {
    const v = resultVerdict(await dst.getText(outputKey(obj.key, 'json')), obj, spec.fingerprint, secret);
    if (typeof v !== 'object' || !('verify' in v)) return v;
    const bodies: (string | undefined)[] = [];
    for (const s of v.verify) bodies.push(await dst.getText(s.key));
    return outputsVerdict(v.verify, bodies);
  } catch (err) {
    const e = describeError(err);
    if (e.retryable) throw err;
    return { code: e.code, message: `checking for an earlier result: ${e.message}` };
  }
}
