/**
 * prepare: download one object -> probe -> plan -> cut and compress -> stage the chunks -> one flow of
 * (finalize parent, one infer child per chunk). Broken media fails this file with its code; the run goes on.
 */
import path from 'node:path';
import type { Job } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import { outputScale } from '../cost/calibration.ts';
import { estimateRun } from '../cost/estimate.ts';
import type { PreparePayload } from '../jobs/catalog.ts';
import { stagedKey } from '../lifecycle/file-state.ts';
import { chunkPolicy } from '../media/policy.ts';
import { type SpeechIntervals, speechIntervals } from '../media/speech.ts';
import type { MediaInfo, Silence } from '../media/types.ts';
import { base64Ceiling, type ModelSpec, modelOf } from '../models/catalog.ts';
import { metrics } from '../ops/metrics.ts';
import { namesMedia, notMediaReason } from '../producers/filter.ts';
import type { RunSpec } from '../runs/types.ts';
import { withTempDir } from '../storage/temp.ts';
import { finalRequests, writesCues } from '../tasks/catalog.ts';
import { OmniError } from '../util/errors.ts';
import { decidePrepareMedia, decidePrepareStart, type PrepareMediaFacts, type PrepareStartFacts } from './prepare-decide.ts';
import { inferFlow, type StagedFile } from './prepare-flow.ts';
import { type PreparePorts, type PrepareStorage, preparePorts } from './prepare-ports.ts';

export type { StagedFile } from './prepare-flow.ts';

export interface PrepareResult {
  chunks: number;
  durationS: number;
  reason: string;
}
export type PrepareOutcome = PrepareResult | { skipped: string };

/** A job as the handler reads it. */
export interface PrepareJob {
  data: PreparePayload;
}

export async function prepare(job: Job<PreparePayload>, ctx: JobContext): Promise<PrepareOutcome> {
  return runPrepare(job, preparePorts(ctx));
}

/** The handler over its ports: load -> decide -> download, read, plan, cut -> stage -> enqueue the flow. */
export async function runPrepare(job: PrepareJob, p: PreparePorts): Promise<PrepareOutcome> {
  const { runId, fileId } = job.data;
  const spec = await p.spec(runId);
  const start = decidePrepareStart(await startFacts(job.data, p));
  switch (start.kind) {
    case 'skip':
      return { skipped: start.reason };
    case 'not-run':
      await p.runs.finishNotRun(runId, fileId, start.stop);
      return { skipped: `run stopping (${start.stop})` };
    case 'refuse':
      throw start.error;
    case 'prepare':
      break;
  }

  const model = modelOf(spec)!;
  // A cancel (of the run, or of this job) or the worker's shutdown kills the ffmpeg children at once.
  const watch = watchStop(p, runId);
  const signal = p.signal ? AbortSignal.any([p.signal, watch.signal]) : watch.signal;
  try {
    return await prepareFile(job, p, spec, model, signal);
  } catch (err) {
    const stopped = await p.runs.stopReason(runId);
    if (watch.signal.aborted && stopped) {
      await p.runs.finishNotRun(runId, fileId, stopped);
      return { skipped: `run stopping (${stopped})` };
    }
    const notMedia = notMediaReason(err, namesMedia(job.data.key));
    if (notMedia) {
      await p.runs.skipFile(runId, fileId, 'not_media', notMedia);
      return { skipped: 'not_media' };
    }
    throw err;
  } finally {
    watch.stop();
  }
}

/** Reads what decidePrepareStart needs, in its order: a closed file or a stopping run reads nothing more. */
async function startFacts(d: PreparePayload, p: PreparePorts): Promise<PrepareStartFacts> {
  const facts: PrepareStartFacts = { fileOpen: false, flowExists: false, key: d.key, size: d.size };
  facts.fileOpen = await p.runs.isFileOpen(d.runId, d.fileId);
  if (!facts.fileOpen) return facts;
  facts.stop = await p.runs.stopReason(d.runId);
  if (facts.stop) return facts;
  // A redone job whose flow was already added (the worker died after it) has nothing left to do.
  facts.flowExists = await p.flows.exists(d.runId, d.fileId, d.generation ?? 0);
  return facts;
}

/** How often a running prepare looks whether its run was stopped (one Redis read). */
const STOP_POLL_MS = 1000;

/** An AbortSignal that fires when the run is stopped (cancel, budget, auth): polled, since a stop is a Redis flag. */
function watchStop(p: PreparePorts, runId: string): { signal: AbortSignal; stop(): void } {
  const ac = new AbortController();
  const timer = setInterval(() => {
    p.runs.stopReason(runId).then(
      (r) => {
        if (r) ac.abort(new OmniError('run_stopped', `the run was stopped (${r})`));
      },
      () => undefined,
    );
  }, p.stopPollMs ?? STOP_POLL_MS);
  timer.unref();
  return { signal: ac.signal, stop: () => clearInterval(timer) };
}

async function prepareFile(job: PrepareJob, p: PreparePorts, spec: RunSpec, model: ModelSpec, signal: AbortSignal): Promise<PrepareResult> {
  const d = job.data;
  const src = p.storage(spec.source);
  const dst = p.storage(spec.destination);
  return withTempDir(
    `prep-${d.fileId}`,
    async (dir) => {
      const input = path.join(dir, 'source');
      const { limits } = p;
      await src.download(d.key, input, signal, { maxBytes: limits.maxDownloadBytes });
      const policy = shrunk(chunkPolicy(spec, requestBase64Ceiling(spec, p), limits), model, d.shrink ?? 0);
      const facts: PrepareMediaFacts = { sniffed: await p.media.sniff(input), model, policy, limits };
      let media = decidePrepareMedia(facts);
      if (media.kind === 'probe') media = decidePrepareMedia({ ...facts, probed: await p.media.probe(input, { log: p.log, signal }) });
      if (media.kind === 'refuse') throw media.error;
      if (media.kind !== 'plan') throw new Error('decidePrepareMedia asked to probe twice');
      // Subtitles are laid over the speech between the silences, so a file sent as it is has its silences measured too.
      const cues = writesCues(spec.task);
      // The length that counts from here on is the decoded one (media/measured.ts), not the probe's claim.
      const { plan, chunks, silences, info } = await p.media.chunks(input, model, policy, {
        outDir: path.join(dir, 'chunks'),
        log: p.log,
        info: media.info,
        decision: media.prepare,
        tmpDir: p.tmpDir,
        signal,
        maxPixels: limits.maxPixels,
        limits,
        silencesAlways: cues,
      });
      p.log.info({ chunks: chunks.length, durationS: info.durationS, reason: plan.reason }, 'planned');

      const staged = await stage(d, dst, plan.encode.kind, info.durationS, cues ? withSpeech(chunks, silences) : chunks);
      const m = metrics();
      m.bytes('downloaded', d.size);
      m.bytes(
        'uploaded',
        chunks.reduce((n, c) => n + c.bytes, 0),
      );
      m.mediaSeconds(spec.task, info.durationS);
      await recordEstimate(p, spec, d.fileId, info, staged);
      await p.flows.add(inferFlow(d, staged, plan.encode.video, spec.via));
      return { chunks: chunks.length, durationS: info.durationS, reason: plan.reason };
    },
    { base: p.tmpDir },
  );
}

/** Uploads the chunks, then prepared.json (what finalize reads), under this generation's staging names. */
async function stage(
  d: PreparePayload,
  dst: PrepareStorage,
  kind: 'audio' | 'video',
  durationS: number,
  chunks: { index: number; file: string; startS: number; endS: number; format: string; speech?: SpeechIntervals }[],
): Promise<StagedFile> {
  const staged: StagedFile = { durationS, chunks: [] };
  for (const c of chunks) {
    const sk = stagedKey(d.runId, d.fileId, d.generation, c.index, `chunk.${c.format}`);
    await dst.upload(c.file, sk);
    staged.chunks.push({ index: c.index, startS: c.startS, endS: c.endS, key: sk, format: c.format, kind, ...(c.speech && { speech: c.speech }) });
  }
  await dst.putJson(stagedKey(d.runId, d.fileId, d.generation, 0, 'prepared.json'), staged);
  return staged;
}

/** Each chunk with where its speech is (between the silences its cuts were chosen in): the stitcher times cues by it. */
function withSpeech<C extends { startS: number; endS: number }>(chunks: readonly C[], silences: readonly Silence[]): (C & { speech: SpeechIntervals })[] {
  return chunks.map((c) => ({ ...c, speech: speechIntervals(c.startS, c.endS, silences) }));
}

/**
 * After the service refused a chunk as too large (its limits are stricter than documented, or the request
 * carried more than the media), the file is planned again with every target and byte ceiling halved.
 */
export function shrunk<P extends { targetS: number; base64MaxChars?: number }>(policy: P, model: ModelSpec, times: number): P {
  if (times <= 0) return policy;
  const f = 2 ** times;
  return { ...policy, targetS: policy.targetS / f, base64MaxChars: Math.floor((policy.base64MaxChars ?? base64Ceiling(model)) / f) };
}

/** The base64 ceiling of a chunk: through Batch, its request line must fit the per-line limit with room for the body. */
function requestBase64Ceiling(spec: RunSpec, p: PreparePorts): number | undefined {
  if (spec.via !== 'batch' || !p.batchMaxLineBytes) return p.base64MaxChars;
  const line = p.batchMaxLineBytes - BATCH_LINE_BODY_RESERVE;
  return p.base64MaxChars === undefined ? line : Math.min(p.base64MaxChars, line);
}
/** What a request line carries besides the media: the prompt, the envelope (a long custom prompt stays far under). */
const BATCH_LINE_BODY_RESERVE = 64 * 1024;

/** The file's cost estimate from its real plan, before any request: the report sets it beside the actual. */
async function recordEstimate(p: PreparePorts, spec: RunSpec, fileId: string, info: MediaInfo, staged: StagedFile): Promise<void> {
  const video = staged.chunks[0]?.kind === 'video' ? info.video.find((v) => !v.attachedPic) : undefined;
  const e = estimateRun(
    [
      {
        durationS: info.durationS,
        chunkSeconds: staged.chunks.map((c) => c.endS - c.startS),
        hasAudio: info.audio.length > 0,
        ...(video && { video: { width: video.width, height: video.height } }),
      },
    ],
    {
      model: spec.model,
      region: spec.region,
      task: spec.task,
      prompt: spec.prompt,
      pricing: p.pricing,
      outputScale: outputScale(await p.runs.calibration(spec.model, spec.task)),
      ...(spec.via && { via: spec.via }),
    },
  );
  // Once per file (with its media length): a prepare redone after a crash, a re-plan or a retry adds nothing.
  await p.runs.addFileEstimate(spec.runId, fileId, {
    mediaMs: info.durationS * 1000,
    est: e.cost.expected.amountMicros,
    low: e.cost.low.amountMicros,
    high: e.cost.high.amountMicros,
    requests: staged.chunks.length + finalRequests(spec.task, staged.chunks.length),
    unpriced: !e.cost.expected.priced,
  });
}
