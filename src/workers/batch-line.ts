/**
 * batch-line: one chunk through the provider's Batch API (--via batch), in place of its infer job under the
 * file's finalize parent. It is infer's handler (runInfer: the budget at the Batch rate, the staged result as
 * the commit point, the ledger entry once) over ports whose client does not stream: the first time, it writes
 * the chunk's request line to staging and queues it for the packer (batch-submit); then the job waits delayed,
 * holding no worker slot, until the poller (batch-poll) has the line's answer. The poller records it through
 * the same runInfer (recordAnswer) and promotes the job, which then only completes: one handler run per chunk
 * fewer than recording it here, and no answer written to staging and read back (measured in bench/ `batch`).
 * An answer the poller could not record (a moderation repair to make in real time, an error) is staged for the
 * job, which records it as a real-time answer is recorded.
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
import type { LineState } from '../runs/batch-store.ts';
import { OmniError } from '../util/errors.ts';
import { isFailureCode } from '../util/failure-codes.ts';
import { lineWakeMs } from './batch-line-decide.ts';
import { realtimeLine } from './batch-line-ports.ts';
import { type InferOutcome, type InferPorts, inferPorts, ledgerFile, runInfer } from './infer.ts';

/** A chunk's custom_id in the input file, and its field in the run's line state: unique per file generation and chunk. */
export function lineRef(d: Pick<InferPayload, 'fileId' | 'generation' | 'chunk'>): string {
  return `${ledgerFile(d as InferPayload)}.${d.chunk}`;
}

export const LINE_FILE = 'line.jsonl';
export const ANSWER_FILE = 'batch.json';

export async function batchLine(job: Job<BatchLinePayload>, ctx: JobContext): Promise<InferOutcome> {
  const d = job.data;
  const ref = lineRef(d);
  const st = await ctx.batches.line(d.runId, ref);
  // the poller recorded the answer (staged result, ledger entry, budget): nothing is left but completing
  if (st?.step === 'recorded') return { chunk: d.chunk, requests: 0, reused: true };
  // --batch-fallback realtime took the line from its batch: the model is called in real time (batch-line-ports.ts)
  if (st?.step === 'realtime') return realtimeLine(job, ctx, ref);
  const ports = linePorts(ctx, job);
  return runInfer(job, { ...ports, client: batchLineClient(ctx, job, st !== undefined, ports.delay) });
}

/**
 * The poller's hand-off: a line's answer recorded exactly as its job would record it (the same runInfer: the
 * file's state and the run's stop checked, the staged result as the commit point, the ledger entry once), so
 * the woken job only completes. A moderation answer that needs its repair throws RepairLeftToJob (the first
 * answer saved for the job, which makes the repair in real time).
 */
export async function recordAnswer(ctx: JobContext, job: Job<BatchLinePayload>, line: BatchResultLine): Promise<InferOutcome> {
  return runInfer(job, {
    ...linePorts(ctx, job),
    // the poller's context: this job is not the one it holds, and a Batch line never waits for tokens
    delay: undefined,
    client: { complete: async (req) => answerResult(line, streamContext(req)) },
    repairInJob: true,
  });
}

/** infer's ports for a Batch line: no TPM window (Batch has its own queue), answers at the Batch rate. */
function linePorts(ctx: JobContext, job: Job<BatchLinePayload>): InferPorts {
  return {
    ...inferPorts(ctx, job),
    tpm: undefined,
    rpmSpacingMs: undefined,
    via: 'batch',
    repairClient: ctx.client,
    // a presigned chunk must outlive the batch's whole window
    mediaTtlS: windowSeconds(ctx.cfg.batchWindow) + 3600,
  };
}

/**
 * Queues a line for the packer (once: a redone job or a resend finds it queued) and makes sure a packer job
 * exists for its round (one job per round: BullMQ dedupes by id). Only the first lines of a round add it: the
 * store says once it was added (measured: an add per line was a BullMQ script and an event per chunk).
 */
export async function queueForPacker(
  ctx: JobContext,
  runId: string,
  ref: string,
  st: Omit<LineState, 'step' | 'sends'>,
  opts: { resend?: boolean } = {},
): Promise<void> {
  const { round, submitted } = await ctx.batches.queueLine(runId, ref, st, opts);
  if (submitted) return;
  await ctx.queues['batch-submit'].add(
    'batch-submit',
    { runId, round },
    { jobId: jobIds.batchSubmit(runId, round), delay: Math.min(ctx.cfg.batchQuietMs, ctx.cfg.batchMaxWaitMs) },
  );
  await ctx.batches.markSubmitted(runId, round);
}

/** `seen`: the handler found the line's state (a line never queued cannot have moved since: only this job queues it). */
function batchLineClient(
  ctx: JobContext,
  job: Job<BatchLinePayload>,
  seen: boolean,
  delay: ((ms: number) => Promise<never>) | undefined,
): Pick<ModelClient, 'complete'> {
  const d = job.data;
  const ref = lineRef(d);
  return {
    async complete(req: ModelRequest): Promise<ModelResult> {
      const spec = await ctx.spec(d.runId);
      const dst = ctx.storage(spec.destination);
      let st = seen ? await ctx.batches.line(d.runId, ref) : undefined;
      if (st?.step === 'answered') {
        // staged by the poller when it could not record the answer itself
        const answer = await dst.getText(stagedKey(d.runId, d.fileId, d.generation, d.chunk, ANSWER_FILE));
        if (answer) return answerResult(JSON.parse(answer) as BatchResultLine, streamContext(req));
      }
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
        // queued once (a redone job finds it); the packer's job is made sure of, in case a kill came between
        await queueForPacker(ctx, d.runId, ref, { job: st.job, fileId: d.fileId, generation: d.generation ?? 0, chunk: d.chunk, bytes: st.bytes });
      }
      if (!delay) throw new OmniError('batch_failed', 'a Batch line can only wait inside a worker');
      // The poller promotes this job when it has the answer; this wake is only a safety net.
      const wake = { pollMaxMs: ctx.cfg.batchPollMaxMs, packMaxWaitMs: ctx.cfg.batchMaxWaitMs, windowMs: windowSeconds(ctx.cfg.batchWindow) * 1000 };
      return delay(lineWakeMs(Date.now() - job.timestamp, wake));
    },
  };
}
