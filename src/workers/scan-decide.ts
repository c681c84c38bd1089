/**
 * scan's decisions, pure: what a scheduled firing does, what becomes of each object listed (read, skipped unread,
 * failed alone, left to an earlier scan, or the end of --max-files), whether an earlier result stands for an
 * object, and what one page of objects turns into (prepare jobs, skips, failures) with the run's counts. The
 * handler (scan.ts) reads the facts and carries the decisions out; tested without Redis or storage.
 */
import { jobIds, type PreparePayload } from '../jobs/catalog.ts';
import { checkReusable } from '../outputs/result.ts';
import { sha256Hex } from '../outputs/signature.ts';
import type { Listed, ObjectProblem as Problem } from '../producers/objects.ts';
import type { FileStatus } from '../runs/types.ts';
import { localNameProblem, outputKey } from '../storage/keys.ts';

export interface ScanResult {
  runId: string;
  registered: number;
  skipped: number;
  enqueued: number;
  firingSkipped?: string;
}

/**
 * A scheduled firing. Without its schedule (removed since) there is nothing to do; while the schedule's last
 * run is still going, starting another would enqueue that run's unfinished objects twice: the firing is skipped.
 */
export function decideFiring(f: {
  scheduleFound: boolean;
  made?: { outcome: 'created' | 'exists' | 'busy'; lastRunId?: string };
}): { kind: 'none' } | { kind: 'skip'; running?: string } | { kind: 'run' } {
  if (!f.scheduleFound) return { kind: 'none' };
  if (f.made?.outcome === 'busy') return { kind: 'skip', running: f.made.lastRunId };
  return { kind: 'run' };
}

/** What an object's registration with the run returned: 1 new, 0 already registered, -1 --max-files reached. */
export type Registered = 1 | 0 | -1;

/**
 * The cap passed to the registration. --max-files counts the objects read: the registered total also holds those
 * skipped unread (by name or pattern), so they are added to it.
 */
export function registrationCap(maxFiles: number | undefined, notRead: number): number {
  return maxFiles ? maxFiles + notRead : 0;
}

export interface ListedFacts {
  obj: Listed;
  registered: Registered;
  /**
   * registered === 0 (a redone scan): whether the file is still pending at generation 0. Registered files are
   * enqueued only a page at a time, so such a file may never have been: it is enqueued again (its job id makes
   * that harmless). Anything else an earlier scan's jobs are carrying.
   */
  pendingAtFirst?: boolean;
  /** the destination's URI (a folder refuses names a bucket takes) */
  destinationUri: string;
}

export type ListedStep =
  /** registered now and not read: ended as skipped with its reason, counted skipped (and outside --max-files) */
  | { kind: 'skip-unread'; code: Problem['code']; message: string }
  /** nothing to do (registered by an earlier scan that took care of it) */
  | { kind: 'ignore' }
  /** --max-files reached: the listing ends */
  | { kind: 'stop' }
  /** the object fails alone (its name, its manifest entry) */
  | { kind: 'fail'; isNew: boolean; problem: Problem }
  /** to the page: its reuse check, then a prepare job */
  | { kind: 'read'; isNew: boolean };

export function decideListed(f: ListedFacts): ListedStep {
  const { obj } = f;
  if (obj.skip) return f.registered === 1 ? { kind: 'skip-unread', code: obj.skip.code, message: obj.skip.message } : { kind: 'ignore' };
  if (f.registered === -1) return { kind: 'stop' };
  if (f.registered === 0 && !f.pendingAtFirst) return { kind: 'ignore' };
  const isNew = f.registered === 1;
  const problem = obj.problem ?? keyProblem(obj.key, f.destinationUri);
  return problem ? { kind: 'fail', isNew, problem } : { kind: 'read', isNew };
}

/** Whether a registered file is still as the scan left it: pending, never re-planned. */
export function pendingAtFirst(status: FileStatus | undefined, generation: number): boolean {
  return status === 'pending' && generation === 0;
}

/**
 * Why no output can be written under this key, or undefined. S3 holds keys like 'a/../b', './x' or 'a//b' that
 * no output may mirror (keys.ts): such an object fails alone with storage_invalid_key instead of failing the scan
 * (and with it every object listed after it). A folder destination also refuses names over 255 bytes once the
 * output suffix is added (key_too_long), checked here before any file system call meets them.
 */
export function keyProblem(key: string, destinationUri: string): Problem | undefined {
  try {
    outputKey(key, 'json');
  } catch (err) {
    return { code: 'storage_invalid_key', message: (err as Error).message };
  }
  const long = destinationUri.startsWith('file:') ? localNameProblem(key) : undefined;
  return long ? { code: 'key_too_long', message: long } : undefined;
}

/** Whether the object's result can be reused, why checking that failed the object, or why a result found is not trusted. */
export type Reuse = boolean | Problem | { untrusted: string };

/** A signed output the result vouches for: its key, and the digest its body must still have. */
export interface SignedOutput {
  name: string;
  key: string;
  digest: string;
}

/**
 * What the earlier result document (raw, as stored) says about reuse: a verdict, or the signed outputs still to
 * compare (a replaced verdict file is a forgery too). Unsigned or forged results are redone and reported.
 */
export function resultVerdict(
  raw: string | undefined,
  obj: Pick<Listed, 'key' | 'etag'>,
  fingerprint: string,
  secret: string,
): Reuse | { verify: SignedOutput[] } {
  if (!raw) return false;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return false; // a malformed result is redone, not trusted
  }
  const r = checkReusable(json, obj.etag, fingerprint, secret);
  if (!r.reusable) return r.reason === 'unsigned' || r.reason === 'forged' ? { untrusted: `${r.reason}: ${r.detail}` } : false;
  const base = obj.key.slice(obj.key.lastIndexOf('/') + 1);
  const verify: SignedOutput[] = [];
  for (const [name, digest] of Object.entries(r.doc.signature?.digests ?? {})) {
    if (!name.startsWith(`${base}.`)) return { untrusted: `forged: the signed output ${name} is not one of ${base}` };
    verify.push({ name, key: outputKey(obj.key, name.slice(base.length + 1)), digest });
  }
  return { verify };
}

/** The signed outputs' bodies as they stand (undefined when gone) against the digests signed. */
export function outputsVerdict(signed: readonly SignedOutput[], bodies: readonly (string | undefined)[]): Reuse {
  for (const [i, s] of signed.entries()) {
    const body = bodies[i];
    if (body === undefined || sha256Hex(body) !== s.digest) return { untrusted: `forged: ${s.name} changed since its result was signed` };
  }
  return true;
}

/** One object of a page, with its reuse verdict. */
export interface PageItem {
  obj: Pick<Listed, 'key' | 'etag' | 'size'>;
  fileId: string;
  reuse: Reuse;
}

export interface PagePlan {
  prepare: { name: 'prepare'; data: PreparePayload; opts: { jobId: string } }[];
  /** reused: the earlier result stands, the file ends skipped */
  skip: PageItem[];
  /** the reuse check failed the file (its name, its result file) */
  fail: { fileId: string; code: Problem['code']; message: string }[];
  /** redone, and the report counts why the earlier result was not trusted */
  untrusted: { fileId: string; key: string; why: string }[];
}

export function planPage(runId: string, items: readonly PageItem[]): PagePlan {
  const plan: PagePlan = { prepare: [], skip: [], fail: [], untrusted: [] };
  for (const item of items) {
    const { obj, fileId, reuse } = item;
    if (reuse === true) {
      plan.skip.push(item);
      continue;
    }
    if (typeof reuse === 'object' && !('untrusted' in reuse)) {
      plan.fail.push({ fileId, code: reuse.code, message: reuse.message });
      continue;
    }
    if (typeof reuse === 'object') plan.untrusted.push({ fileId, key: obj.key, why: reuse.untrusted });
    plan.prepare.push({
      name: 'prepare',
      data: { runId, fileId, key: obj.key, etag: obj.etag, size: obj.size },
      opts: { jobId: jobIds.prepare(runId, fileId) },
    });
  }
  return plan;
}

/** The run's counts after one listed object's step. */
export function countListed(r: ScanResult, step: ListedStep): ScanResult {
  const registered = r.registered + ((step.kind === 'read' || step.kind === 'fail') && step.isNew ? 1 : 0);
  return { ...r, registered, skipped: r.skipped + (step.kind === 'skip-unread' ? 1 : 0) };
}

/** The run's counts after one page. */
export function countPage(r: ScanResult, plan: PagePlan): ScanResult {
  return { ...r, skipped: r.skipped + plan.skip.length, enqueued: r.enqueued + plan.prepare.length };
}
