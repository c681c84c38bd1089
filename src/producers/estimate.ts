/**
 * `estimate`: probe every object of a source, plan each one as the run would (pure planner), and price the
 * plan. Nothing is sent.
 *
 * ffprobe never gets a URL (a playlist uploaded to the bucket would make it fetch any address it lists: SSRF).
 * Each object is read through the store's own client, a bounded range at a time, into a local file:
 *  - up to `probeBytes`: the whole object, probed exactly as the run probes it;
 *  - larger: its first and last `probeBytes / 2` in a sparse file of its real size (headers live at one end
 *    or the other: mp4's moov, a Xing tag, Matroska's info), probed for the header's claim; a file whose
 *    header claims no length is billed an upper bound from its size (listed in `bounded`).
 * Every probe runs with the media allow-list (media/allow-list.ts): local file only, real containers only.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Estimate, type EstimateFile, estimateRun } from '../cost/estimate.ts';
import type { PricingOverride } from '../cost/price.ts';
import { assertMediaLimits, type FileLimits, limitError, sizeViolation } from '../media/limits.ts';
import { planChunks } from '../media/plan.ts';
import { chunkPolicy } from '../media/policy.ts';
import { probeMedia, probePartial } from '../media/probe.ts';
import type { MediaInfo } from '../media/types.ts';
import { modelOf } from '../models/catalog.ts';
import type { RunSpec } from '../runs/types.ts';
import { withTempDir } from '../storage/temp.ts';
import type { ObjectInfo, Storage } from '../storage/types.ts';
import { describeError, OmniError } from '../util/errors.ts';
import type { FailureCode } from '../util/failure-codes.ts';
import type { Logger } from '../util/logger.ts';
import { namesMedia, notMediaReason } from './filter.ts';
import { type Listed, runObjects } from './objects.ts';

/** Bytes read of one object at most (head + tail of a larger one). */
export const DEFAULT_PROBE_BYTES = 16 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 120_000;

export interface SourceEstimate {
  estimate: Estimate;
  /** every probed file, as planned: the deadline planner re-plans them at other chunk lengths */
  files: EstimateFile[];
  failures: { uri: string; code: FailureCode; message: string }[];
  /** objects whose header states no length, or more than its bytes hold: billed at an upper bound from their size */
  bounded: { uri: string; durationS: number }[];
  /** objects the run will not read (excluded by a pattern, not media by name): listed, never priced */
  skipped: { uri: string; code: FailureCode; message: string }[];
}

/** The byte ranges of an object to read: all of it, or its head and its tail (pure). [start, end) each. */
export function probeRanges(size: number, probeBytes: number): [number, number][] {
  if (size <= probeBytes) return [[0, size]];
  const half = Math.floor(probeBytes / 2);
  return [
    [0, half],
    [size - half, size],
  ];
}

/**
 * [start, end) of a local file, in 1-MiB reads into ONE buffer (each piece is written before the next is read):
 * a read stream's fresh 64-KiB chunks were 190 reads and 12 MB of garbage for a whole 12-MB object, and the
 * collector's passes over it a good part of an estimate of many such files.
 */
async function* readLocal(file: string, start: number, end: number, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(1024 * 1024, end - start));
    for (let at = start; at < end; ) {
      signal.throwIfAborted();
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - at), at);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
      at += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/**
 * Copies [start, end) of an object into `fh` at the same offset. The store's presigned GET is fetched by THIS
 * process with a Range header (never handed to ffmpeg), no redirect followed, and never more than end - start
 * bytes kept, whatever the server sends.
 */
async function copyRange(url: string, start: number, end: number, fh: import('node:fs/promises').FileHandle, signal: AbortSignal): Promise<void> {
  const want = end - start;
  if (want <= 0) return;
  let body: AsyncIterable<Uint8Array>;
  if (url.startsWith('file://')) {
    body = readLocal(fileURLToPath(url), start, end, signal);
  } else if (/^https?:\/\//i.test(url)) {
    const res = await fetch(url, { headers: { Range: `bytes=${start}-${end - 1}` }, redirect: 'error', signal });
    if (!res.ok || !res.body) throw new OmniError('storage_unavailable', `ranged read failed: HTTP ${res.status}`);
    // A server that ignores Range answers 200 from byte 0: only a 206 starts where asked.
    if (res.status !== 206 && start !== 0) {
      await res.body.cancel();
      throw new OmniError('storage_rejected', 'the store ignored a ranged read');
    }
    body = res.body as unknown as AsyncIterable<Uint8Array>;
  } else {
    throw new OmniError('storage_rejected', 'no ranged read for this store');
  }
  let at = 0;
  for await (const chunk of body) {
    const take = chunk.subarray(0, Math.max(0, want - at));
    if (take.length) await fh.write(take, 0, take.length, start + at);
    at += take.length;
    if (at >= want) break;
  }
}

/** The object's bounded copy, probed: exactly as the run would when whole, from its header when partial. */
export async function probeObject(
  src: Storage,
  obj: ObjectInfo,
  opts: { log: Logger; probeBytes?: number; tmpDir?: string },
): Promise<{ info: MediaInfo; bounded: boolean }> {
  const ranges = probeRanges(obj.size, opts.probeBytes ?? DEFAULT_PROBE_BYTES);
  return withTempDir(
    'estimate',
    async (dir) => {
      const file = path.join(dir, 'object');
      const signal = AbortSignal.timeout(FETCH_TIMEOUT_MS);
      const url = await src.presignGet(obj.key, 900);
      const fh = await open(file, 'w');
      try {
        // A sparse file of the object's real size: the parts not read are holes, never fetched.
        await fh.truncate(obj.size);
        for (const [start, end] of ranges) await copyRange(url, start, end, fh, signal);
      } finally {
        await fh.close();
      }
      if (ranges.length === 1) return { info: await probeMedia(file, { log: opts.log }), bounded: false };
      return probePartial(file, { log: opts.log });
    },
    { base: opts.tmpDir },
  );
}

export async function estimateSource(
  src: Storage,
  spec: RunSpec,
  opts: {
    log: Logger;
    pricing?: PricingOverride;
    concurrency: number;
    rpm?: number;
    tpm?: number;
    base64MaxChars?: number;
    probeConcurrency?: number;
    /** the run's per-file limits: a file the run would refuse is listed as that failure and costs nothing here */
    limits?: FileLimits;
    /** bytes read of one object at most (default DEFAULT_PROBE_BYTES) */
    probeBytes?: number;
    /** the output priors scaled by earlier bills (cost/calibration.ts) */
    outputScale?: number;
    tmpDir?: string;
  },
): Promise<SourceEstimate> {
  const model = modelOf(spec)!;
  const files: EstimateFile[] = [];
  const failures: SourceEstimate['failures'] = [];
  const bounded: SourceEstimate['bounded'] = [];
  const skipped: SourceEstimate['skipped'] = [];
  const pending = new Set<Promise<void>>();
  const one = async (obj: Listed) => {
    try {
      // What already fails a manifest entry fails it here too, as the run would.
      if (obj.problem) throw new OmniError(obj.problem.code, obj.problem.message);
      if (obj.size < 0) throw new OmniError('storage_not_found', `${obj.key} is in the manifest but not in the source`);
      const tooLarge = opts.limits && sizeViolation(obj.size, opts.limits);
      if (tooLarge) throw limitError(tooLarge);
      const { info, bounded: isBound } = await probeObject(src, obj, opts);
      if (opts.limits) assertMediaLimits(info, opts.limits);
      const plan = planChunks(info, model, chunkPolicy(spec, opts.base64MaxChars, opts.limits));
      const video = plan.encode.kind === 'video' ? info.video.find((v) => !v.attachedPic) : undefined;
      if (isBound) bounded.push({ uri: src.uri + obj.key, durationS: info.durationS });
      files.push({
        uri: src.uri + obj.key,
        durationS: info.durationS,
        chunkSeconds: plan.chunks.map((c) => c.endS - c.startS),
        hasAudio: info.audio.length > 0,
        ...(video && { video: { width: video.width, height: video.height } }),
      });
    } catch (err) {
      // The run's rule: content that is not media under a name that is not a media name is skipped, not failed.
      const notMedia = notMediaReason(err, namesMedia(obj.key));
      if (notMedia) {
        skipped.push({ uri: src.uri + obj.key, code: 'not_media', message: notMedia });
        return;
      }
      const e = describeError(err);
      failures.push({ uri: src.uri + obj.key, code: e.code, message: e.message });
    }
  };
  let n = 0;
  // The run's own selection: its listing or its manifest, through its filters.
  for await (const obj of runObjects(spec, src)) {
    if (obj.skip) {
      skipped.push({ uri: src.uri + obj.key, ...obj.skip });
      continue;
    }
    if (spec.maxFiles !== undefined && n >= spec.maxFiles) break;
    n++;
    const p = one(obj).finally(() => pending.delete(p));
    pending.add(p);
    if (pending.size >= (opts.probeConcurrency ?? 4)) await Promise.race(pending);
  }
  await Promise.all(pending);
  const estimate = estimateRun(files, {
    model: spec.model,
    region: spec.region,
    task: spec.task,
    prompt: spec.prompt,
    pricing: opts.pricing,
    concurrency: opts.concurrency,
    rpm: opts.rpm,
    tpm: opts.tpm,
    ...(opts.outputScale !== undefined && { outputScale: opts.outputScale }),
  });
  return { estimate, files, failures, bounded, skipped };
}
