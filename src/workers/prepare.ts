/**
 * prepare: download one object -> probe -> plan -> cut and compress -> stage the chunks -> one flow of
 * (finalize parent, one infer child per chunk). Broken media fails this file with its code; the run goes on.
 */
import path from 'node:path';
import type { Job } from 'bullmq';
import { estimateRun } from '../cost/estimate.ts';
import { jobIds, type InferPayload, type PreparePayload } from '../jobs/catalog.ts';
import { QUEUE_POLICY } from '../jobs/policy.ts';
import { queueName } from '../jobs/queues.ts';
import { fileLimitsOf } from '../media/limits.ts';
import { prepareChunks } from '../media/prepare.ts';
import { chunkPolicy } from '../media/policy.ts';
import { probeMedia } from '../media/probe.ts';
import { sniffFile } from '../media/sniff.ts';
import type { MediaInfo } from '../media/types.ts';
import { findModel, type ModelSpec } from '../models/catalog.ts';
import { metrics } from '../ops/metrics.ts';
import type { RunSpec } from '../runs/types.ts';
import { withTempDir } from '../storage/temp.ts';
import type { Storage } from '../storage/types.ts';
import { OmniError } from '../util/errors.ts';
import type { JobContext } from './context.ts';
import { finishNotRun, isFileOpen, stagedKey } from './files.ts';
import { decidePrepareMedia, decidePrepareStart, type PrepareMediaFacts, type PrepareStartFacts } from './prepare-decide.ts';

export interface PrepareResult {
  chunks: number;
  durationS: number;
  reason: string;
}
export interface StagedFile {
  durationS: number;
  chunks: { index: number; startS: number; endS: number; key: string; format: string; kind: 'audio' | 'video' }[];
}

export async function prepare(job: Job<PreparePayload>, ctx: JobContext): Promise<PrepareResult | { skipped: string }> {
  const { runId, fileId } = job.data;
  const spec = await ctx.spec(runId);
  const start = decidePrepareStart(await startFacts(job.data, ctx));
  switch (start.kind) {
    case 'skip':
      return { skipped: start.reason };
    case 'not-run':
      await finishNotRun(ctx, runId, fileId, start.stop);
      return { skipped: `run stopping (${start.stop})` };
    case 'refuse':
      throw start.error;
    case 'prepare':
      break;
  }

  const model = findModel(spec.model)!;
  const src = ctx.storage(spec.source);
  const dst = ctx.storage(spec.destination);
  // A cancel (of the run, or of this job) or the worker's shutdown kills the ffmpeg children at once.
  const watch = watchStop(ctx, runId);
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, watch.signal]) : watch.signal;
  try {
    return await prepareFile(job, ctx, spec, model, src, dst, signal);
  } catch (err) {
    const stopped = await ctx.runs.stopReason(runId);
    if (watch.signal.aborted && stopped) {
      await finishNotRun(ctx, runId, fileId, stopped);
      return { skipped: `run stopping (${stopped})` };
    }
    throw err;
  } finally {
    watch.stop();
  }
}

/** Reads what decidePrepareStart needs, in its order: a closed file or a stopping run reads nothing more. */
async function startFacts(d: PreparePayload, ctx: JobContext): Promise<PrepareStartFacts> {
  const facts: PrepareStartFacts = { fileOpen: false, flowExists: false, key: d.key, size: d.size };
  facts.fileOpen = await isFileOpen(ctx, d.runId, d.fileId);
  if (!facts.fileOpen) return facts;
  facts.stop = await ctx.runs.stopReason(d.runId);
  if (facts.stop) return facts;
  // A redone job whose flow was already added (the worker died after it) has nothing left to do.
  facts.flowExists = Boolean(await ctx.queues.finalize.getJob(jobIds.finalize(d.runId, d.fileId, d.generation ?? 0)));
  return facts;
}

/** How often a running prepare looks whether its run was stopped (one Redis read). */
const STOP_POLL_MS = 1000;

/** An AbortSignal that fires when the run is stopped (cancel, budget, auth): polled, since a stop is a Redis flag. */
function watchStop(ctx: JobContext, runId: string): { signal: AbortSignal; stop(): void } {
  const ac = new AbortController();
  const timer = setInterval(() => {
    ctx.runs.stopReason(runId).then(
      (r) => {
        if (r) ac.abort(new OmniError('run_stopped', `the run was stopped (${r})`, { retryable: false }));
      },
      () => undefined,
    );
  }, STOP_POLL_MS);
  timer.unref();
  return { signal: ac.signal, stop: () => clearInterval(timer) };
}

async function prepareFile(
  job: Job<PreparePayload>,
  ctx: JobContext,
  spec: RunSpec,
  model: ModelSpec,
  src: Storage,
  dst: Storage,
  signal: AbortSignal,
): Promise<PrepareResult> {
  const { runId, fileId, key } = job.data;
  return withTempDir(
    `prep-${fileId}`,
    async (dir) => {
      const input = path.join(dir, 'source');
      const limits = fileLimitsOf(ctx.cfg);
      await src.download(key, input, signal, { maxBytes: limits.maxDownloadBytes });
      const policy = shrunk(chunkPolicy(spec, ctx.cfg.base64MaxChars, limits), model, job.data.shrink ?? 0);
      const facts: PrepareMediaFacts = { sniffed: await sniffFile(input), model, policy, limits };
      let media = decidePrepareMedia(facts);
      if (media.kind === 'probe') media = decidePrepareMedia({ ...facts, probed: await probeMedia(input, { log: ctx.log, signal }) });
      if (media.kind === 'refuse') throw media.error;
      if (media.kind !== 'plan') throw new Error('decidePrepareMedia asked to probe twice');
      const { info } = media;
      const { plan, chunks } = await prepareChunks(input, model, policy, {
        outDir: path.join(dir, 'chunks'),
        log: ctx.log,
        info,
        tmpDir: ctx.cfg.tmpDir,
        signal,
        maxPixels: limits.maxPixels,
      });
      ctx.log.info({ chunks: chunks.length, durationS: info.durationS, reason: plan.reason }, 'planned');

      const staged: StagedFile = { durationS: info.durationS, chunks: [] };
      for (const c of chunks) {
        const sk = stagedKey(runId, fileId, job.data.generation, c.index, `chunk.${c.format}`);
        await dst.upload(c.file, sk);
        staged.chunks.push({ index: c.index, startS: c.startS, endS: c.endS, key: sk, format: c.format, kind: plan.encode.kind });
      }
      await dst.putJson(stagedKey(runId, fileId, job.data.generation, 0, 'prepared.json'), staged);
      const m = metrics();
      m.bytes('downloaded', job.data.size);
      m.bytes(
        'uploaded',
        chunks.reduce((n, c) => n + c.bytes, 0),
      );
      m.mediaSeconds(spec.task, info.durationS);
      await recordEstimate(ctx, spec, fileId, info, staged);

      const generation = job.data.generation ?? 0;
      const shrink = job.data.shrink ?? 0;
      const children = staged.chunks.map((c) => ({
        name: 'infer' as const,
        queueName: queueName('infer'),
        data: {
          runId,
          fileId,
          key,
          chunk: c.index,
          chunks: staged.chunks.length,
          startS: c.startS,
          endS: c.endS,
          stagingKey: c.key,
          format: c.format,
          kind: c.kind,
          generation,
          shrink,
          ...(plan.encode.video && { video: { width: plan.encode.video.width, height: plan.encode.video.height } }),
        } satisfies InferPayload,
        opts: { ...QUEUE_POLICY.infer.job, jobId: jobIds.infer(runId, fileId, c.index, generation), failParentOnFailure: true },
      }));
      await ctx.flows.add({
        name: 'finalize',
        queueName: queueName('finalize'),
        data: { runId, fileId, key, chunks: staged.chunks.length, generation },
        opts: { ...QUEUE_POLICY.finalize.job, jobId: jobIds.finalize(runId, fileId, generation) },
        children,
      });
      return { chunks: chunks.length, durationS: info.durationS, reason: plan.reason };
    },
    { base: ctx.cfg.tmpDir },
  );
}

/**
 * After the service refused a chunk as too large (its limits are stricter than documented, or the request
 * carried more than the media), the file is planned again with every target and byte ceiling halved.
 */
export function shrunk<P extends { targetS: number; base64MaxChars?: number }>(policy: P, model: ModelSpec, times: number): P {
  if (times <= 0) return policy;
  const f = 2 ** times;
  return { ...policy, targetS: policy.targetS / f, base64MaxChars: Math.floor((policy.base64MaxChars ?? model.limits.base64MaxChars) / f) };
}

/** The file's cost estimate from its real plan, before any request: the report sets it beside the actual. */
async function recordEstimate(ctx: JobContext, spec: RunSpec, fileId: string, info: MediaInfo, staged: StagedFile): Promise<void> {
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
    { model: spec.model, region: spec.region, task: spec.task, prompt: spec.prompt, pricing: ctx.pricing },
  );
  // Once per file (with its media length): a prepare redone after a crash, a re-plan or a retry adds nothing.
  await ctx.runs.addFileEstimate(spec.runId, fileId, {
    mediaMs: info.durationS * 1000,
    est: e.cost.expected.amountMicros,
    low: e.cost.low.amountMicros,
    high: e.cost.high.amountMicros,
  });
}
