/**
 * batch-line: one chunk through the provider's Batch API (--via batch), in place of its infer job under the
 * file's finalize parent. It is infer's handler (runInfer: the budget at the Batch rate, the staged result as
 * the commit point, the ledger entry once) over ports whose client does not stream: the first time, it writes
 * the chunk's request line to staging and queues it for the packer (batch-submit); then the job waits delayed,
 * holding no worker slot, until the poller (batch-poll) stages the line's answer and promotes it. The answer
 * is then turned into the chunk's result exactly as a real-time answer is.
 */
import type { Job } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import { type BatchLinePayload, type InferPayload, jobIds } from '../jobs/catalog.ts';
import { stagedKey } from '../lifecycle/file-state.ts';
import { windowSeconds } from '../models/batch-api.ts';
import { answerResult, type BatchResultLine, batchRequestLine } from '../models/batch-lines.ts';
import { streamContext } from '../models/client.ts';
import { buildBody, resolveMedia } from '../models/request.ts';
import type { ModelClient, ModelRequest, ModelResult } from '../models/types.ts';
import { OmniError } from '../util/errors.ts';
import { isFailureCode } from '../util/failure-codes.ts';
import { realtimeLine, wentRealtime } from './batch-line-ports.ts';
import { type InferOutcome, inferPorts, ledgerFile, runInfer } from './infer.ts';

/** A chunk's custom_id in the input file, and its field in the run's line state: unique per file generation and chunk. */
export function lineRef(d: Pick<InferPayload, 'fileId' | 'generation' | 'chunk'>): string {
  return `${ledgerFile(d as InferPayload)}.${d.chunk}`;
}

export const LINE_FILE = 'line.jsonl';
export const ANSWER_FILE = 'batch.json';

export async function batchLine(job: Job<BatchLinePayload>, ctx: JobContext): Promise<InferOutcome> {
  // --batch-fallback realtime took the line from its batch: the model is called in real time (batch-line-ports.ts)
  const ref = lineRef(job.data);
  if (await wentRealtime(ctx, job.data.runId, ref)) return realtimeLine(job, ctx, ref);
  const ports = inferPorts(ctx, job);
  return runInfer(job, {
    ...ports,
    tpm: undefined,
    rpmSpacingMs: undefined,
    via: 'batch',
    client: batchLineClient(ctx, job, ports.delay),
    repairClient: ctx.client,
    // a presigned chunk must outlive the batch's whole window
    mediaTtlS: windowSeconds(ctx.cfg.batchWindow) + 3600,
  });
}

/** Makes sure a packer job exists for the round the line was queued in (one job per round: BullMQ dedupes by id). */
export async function ensureSubmit(ctx: JobContext, runId: string, round: number): Promise<void> {
  await ctx.queues['batch-submit'].add(
    'batch-submit',
    { runId, round },
    { jobId: jobIds.batchSubmit(runId, round), delay: Math.min(ctx.cfg.batchQuietMs, ctx.cfg.batchMaxWaitMs) },
  );
}

function batchLineClient(ctx: JobContext, job: Job<BatchLinePayload>, delay: ((ms: number) => Promise<never>) | undefined): Pick<ModelClient, 'complete'> {
  const d = job.data;
  const ref = lineRef(d);
  return {
    async complete(req: ModelRequest): Promise<ModelResult> {
      const spec = await ctx.spec(d.runId);
      const dst = ctx.storage(spec.destination);
      const answer = await dst.getText(stagedKey(d.runId, d.fileId, d.generation, d.chunk, ANSWER_FILE));
      if (answer) return answerResult(JSON.parse(answer) as BatchResultLine, streamContext(req));
      let st = await ctx.batches.line(d.runId, ref);
      if (st?.step === 'failed') {
        const code = st.code && isFailureCode(st.code) ? st.code : 'batch_failed';
        throw new OmniError(code, st.message ?? 'the Batch API failed this line');
      }
      if (!st) {
        const file = req.media && 'file' in req.media.source ? req.media.source.file : undefined;
        if (file) await dst.download(d.stagingKey, file);
        const max = ctx.cfg.batchMaxLineBytes;
        const media = req.media ? await resolveMedia(req.media, max) : undefined;
        const line = `${batchRequestLine(ref, buildBody('chat', req, media))}\n`;
        const bytes = Buffer.byteLength(line);
        if (bytes > max) {
          throw new OmniError('input_too_large', `the chunk's Batch request line is ${bytes} bytes, over OMNIBATCH_BATCH_MAX_LINE_BYTES (${max})`, {
            details: { bytes, max },
          });
        }
        await dst.putText(stagedKey(d.runId, d.fileId, d.generation, d.chunk, LINE_FILE), line, 'application/jsonl');
        st = { job: job.id!, fileId: d.fileId, generation: d.generation ?? 0, chunk: d.chunk, bytes, step: 'queued', sends: 0 };
      }
      if (st.step === 'queued') {
        // queued once (a redone job finds it); the packer's job is made sure of each time, in case a kill came between
        const { round } = await ctx.batches.queueLine(d.runId, ref, {
          job: st.job,
          fileId: d.fileId,
          generation: d.generation ?? 0,
          chunk: d.chunk,
          bytes: st.bytes,
        });
        await ensureSubmit(ctx, d.runId, round);
      }
      if (!delay) throw new OmniError('batch_failed', 'a Batch line can only wait inside a worker');
      // The poller promotes this job when the answer is staged; this wake is only a safety net.
      return delay(Math.max(ctx.cfg.batchPollMaxMs * 2, ctx.cfg.batchPollMs));
    },
  };
}
