/**
 * batch-submit: packs a run's queued request lines into input files and hands each to the provider's Batch API.
 * load (the queued lines) -> plan (batch-submit-decide: pack now, only full files, or wait) -> execute: fix each
 * file's lines in Redis before anything is uploaded, write the file from the staged lines, upload it, and
 * create its batch, storing the file id and then the batch id the moment each exists -> enqueue its poller.
 *
 * Crash safety: a redone job resumes every input file of the run that has no batch yet. It uploads again only
 * if the file id was never stored (an orphan upload costs nothing), and before creating a batch it lists the
 * provider's batches for one whose metadata names this run and input file: a batch created just before a kill
 * is adopted, never created twice.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Job } from 'bullmq';
import { DelayedError } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import { type BatchSubmitPayload, jobIds } from '../jobs/catalog.ts';
import { stagedKey } from '../lifecycle/file-state.ts';
import type { BatchObject } from '../models/batch-api.ts';
import type { InputRecord } from '../runs/batch-store.ts';
import { withTempDir } from '../storage/temp.ts';
import { LINE_FILE } from './batch-line.ts';
import { batchMetadata, decidePack, isBatchOf } from './batch-submit-decide.ts';

export type SubmitOutcome = { waiting: number } | { submitted: number[] } | { skipped: string };

export async function batchSubmit(job: Job<BatchSubmitPayload>, ctx: JobContext): Promise<SubmitOutcome> {
  const { runId } = job.data;
  const stop = await ctx.runs.stopReason(runId);
  if (stop) return { skipped: `run stopping (${stop})` };
  const limits = { maxRequests: ctx.cfg.batchMaxRequests, maxBytes: ctx.cfg.batchMaxFileBytes };
  const decision = decidePack(await ctx.batches.pending(runId), { ...limits, quietMs: ctx.cfg.batchQuietMs, maxWaitMs: ctx.cfg.batchMaxWaitMs }, Date.now());
  if (decision.kind === 'wait') return waitFor(job, ctx, decision.waitMs);
  // Packing everything ends the round: lines queued from here on start the next round's job.
  if (decision.kind === 'pack-all') await ctx.batches.nextRound(runId);
  while ((await ctx.batches.claimInput(runId, limits, decision.kind === 'pack-full')) !== undefined) {}
  const submitted: number[] = [];
  for (const rec of await ctx.batches.inputs(runId)) {
    if (rec.batchId) {
      // A kill between storing the batch id and queueing its poller left a batch nobody follows: the redone job
      // makes sure of the poller (its job id dedupes, and a poll of a routed input does nothing).
      if (!rec.done) await ensurePoll(ctx, runId, rec.n);
      continue;
    }
    await submitInput(ctx, runId, rec);
    submitted.push(rec.n);
  }
  if (decision.kind === 'pack-full') return waitFor(job, ctx, decision.waitMs);
  return { submitted };
}

async function waitFor(job: Job<BatchSubmitPayload>, ctx: JobContext, ms: number): Promise<never> {
  if (!ctx.token) throw new Error('batch-submit can only wait inside a worker');
  await job.moveToDelayed(Date.now() + ms, ctx.token);
  throw new DelayedError();
}

/** One input file: written, uploaded, its batch found or created; each id stored as soon as it exists. */
async function submitInput(ctx: JobContext, runId: string, rec: InputRecord): Promise<void> {
  const api = ctx.batchApi;
  let fileId = rec.fileId;
  // the file id is stored before the batch is created: without one, no batch can exist for this input
  const found = fileId ? await findBatch(ctx, runId, rec) : undefined;
  if (found) return adopt(ctx, runId, rec.n, found);
  if (!fileId) {
    fileId = await uploadInput(ctx, runId, rec);
    await ctx.batches.patchInput(runId, rec.n, { fileId });
  }
  const batch = await api.createBatch(fileId, batchMetadata(runId, rec.n, fileId), ctx.cfg.batchWindow);
  await adopt(ctx, runId, rec.n, batch);
}

async function adopt(ctx: JobContext, runId: string, n: number, b: BatchObject): Promise<void> {
  await ctx.batches.patchInput(runId, n, { batchId: b.id, status: b.status, batchCreatedAt: b.created_at, fileId: b.input_file_id });
  ctx.log.info({ runId, input: n, batch: b.id }, 'batch created');
  await ensurePoll(ctx, runId, n);
}

async function ensurePoll(ctx: JobContext, runId: string, n: number): Promise<void> {
  await ctx.queues['batch-poll'].add('batch-poll', { runId, input: n }, { jobId: jobIds.batchPoll(runId, n), delay: ctx.cfg.batchPollMs });
}

/**
 * The batch a crashed job may have created for this input: listed newest first, back to a minute before the
 * input was fixed (nothing older can be it).
 */
async function findBatch(ctx: JobContext, runId: string, rec: InputRecord): Promise<BatchObject | undefined> {
  const since = Math.floor(rec.createdAt / 1000) - 60;
  let after: string | undefined;
  for (;;) {
    const page = await ctx.batchApi.listBatches({ ...(after && { after }), limit: 100 });
    const hit = page.data.find((b) => isBatchOf(b.metadata, runId, rec.n));
    if (hit) return hit;
    const last = page.data.at(-1);
    if (!page.has_more || !last || last.created_at < since) return undefined;
    after = last.id;
  }
}

/** Line states read per round trip while writing an input file (a few hundred bytes each). */
const STATES_PER_READ = 500;

/** Writes the input file from the staged lines (one at a time: never the whole file in memory) and uploads it. */
async function uploadInput(ctx: JobContext, runId: string, rec: InputRecord): Promise<string> {
  const spec = await ctx.spec(runId);
  const dst = ctx.storage(spec.destination);
  return withTempDir(
    `batch-${rec.n}`,
    async (dir) => {
      const file = path.join(dir, `input-${rec.n}.jsonl`);
      const out = createWriteStream(file);
      for (let i = 0; i < rec.lines.length; i += STATES_PER_READ) {
        const refs = rec.lines.slice(i, i + STATES_PER_READ);
        const states = await ctx.batches.lines(runId, refs);
        for (const [j, ref] of refs.entries()) {
          const st = states[j];
          const text = st && (await dst.getText(stagedKey(runId, st.fileId, st.generation, st.chunk, LINE_FILE)));
          if (!text) {
            // its file ended meanwhile (its staging removed): nothing waits for this line any more
            await ctx.batches.patchLine(runId, ref, { step: 'failed', code: 'batch_failed', message: 'the line was gone from staging when packed' });
            continue;
          }
          if (!out.write(text)) await once(out, 'drain');
        }
      }
      out.end();
      await once(out, 'finish');
      return (await ctx.batchApi.uploadFile(file, `omnibatch-${runId}-${rec.n}.jsonl`)).id;
    },
    { base: ctx.cfg.tmpDir },
  );
}
