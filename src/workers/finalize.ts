/**
 * finalize: all chunk results of a file -> stitched on the source's timeline -> the task's outputs, then the
 * result JSON last (its presence means "done" to a later run's scanner) -> the file succeeds -> staging goes.
 */
import path from 'node:path';
import type { Job } from 'bullmq';
import { addCost, costOf, ZERO_COST, type Cost } from '../cost/price.ts';
import { estimateChunkCost } from '../cost/estimate.ts';
import { findModel } from '../models/catalog.ts';
import { placeInstructions } from '../tasks/system-message.ts';
import { SPEAK_FINAL_PROMPT, speakFinalText } from '../tasks/speak-summary.ts';
import type { FinalizePayload } from '../jobs/catalog.ts';
import { addUsage, emptyUsage, type Usage } from '../models/types.ts';
import { renderFileOutputs } from './render.ts';
import type { ChunkResult, RunSpec } from '../runs/types.ts';
import { outputKey } from '../storage/keys.ts';
import { withTempDir } from '../storage/temp.ts';
import { outputCapTokens, TASK_SPECS } from '../tasks/catalog.ts';
import { OmniError } from '../util/errors.ts';
import { concatWavFiles } from '../media/wav-concat.ts';
import type { JobContext } from '../app/context.ts';
import { finishFile, isFileOpen, isSuperseded, stagedKey } from '../lifecycle/file-state.ts';
import type { StagedFile } from './prepare.ts';

export async function finalize(job: Job<FinalizePayload>, ctx: JobContext): Promise<{ outputs: string[] } | { skipped: string }> {
  const { runId, fileId, key } = job.data;
  const spec = await ctx.spec(runId);
  if (!(await isFileOpen(ctx, runId, fileId))) return { skipped: 'file already finished' };
  if (await isSuperseded(ctx, runId, fileId, job.data.generation)) return { skipped: 'file re-planned' };
  const dst = ctx.storage(spec.destination);
  const file = await ctx.runs.file(runId, fileId);
  const prepared = await readJson<StagedFile>(dst, stagedKey(runId, fileId, job.data.generation, 0, 'prepared.json'));
  const chunks: ChunkResult[] = [];
  for (let i = 0; i < job.data.chunks; i++) {
    const r = await readJson<ChunkResult>(dst, stagedKey(runId, fileId, job.data.generation, i, 'result.json'));
    if (r) chunks.push(r);
  }
  if (!prepared || chunks.length !== job.data.chunks) {
    // A parent runs only after all its children succeeded; a missing result means staging was lost.
    throw new OmniError('staging_missing', `staging for ${key} is incomplete (${chunks.length}/${job.data.chunks} chunk results)`);
  }
  chunks.sort((a, b) => a.index - b.index);
  const usage = chunks.reduce((u, c) => addUsage(u, c.usage), emptyUsage());
  const cost = chunks.reduce((a, c) => addCost(a, c.cost), ZERO_COST);
  const ts = TASK_SPECS[spec.task];

  // speak on several chunks: one spoken summary of the whole file, from a final request (staged, paid once)
  const final = ts.wantsAudioOut && chunks.length > 1 ? await speakFinal(job, ctx, spec, chunks) : undefined;
  const rendered = renderFileOutputs({
    spec,
    file: file!,
    durationS: prepared.durationS,
    chunks,
    usage: final ? addUsage(usage, final.usage) : usage,
    cost: final ? addCost(cost, final.cost) : cost,
    overlapS: spec.overlapSeconds ?? ts.policy.overlapS,
    ...(final && { summary: final.text }),
    speech: new Map(prepared.chunks.flatMap((c) => (c.speech ? [[c.index, c.speech] as const] : []))),
  });
  const written: string[] = [];
  for (const body of Object.values(rendered.files)) {
    await dst.putText(body.key, body.text, body.contentType);
    written.push(body.key);
  }
  if (ts.wantsAudioOut) {
    await withTempDir(
      `fin-${fileId}`,
      async (dir) => {
        const parts: string[] = [];
        for (const c of final ? [{ index: chunks.length, audioKey: final.audioKey }] : chunks) {
          if (!c.audioKey) continue;
          const f = path.join(dir, `${c.index}.wav`);
          await dst.download(c.audioKey, f);
          parts.push(f);
        }
        const out = path.join(dir, 'all.wav');
        await concatWavFiles(parts, out);
        await dst.upload(out, outputKey(key, 'wav'), 'audio/wav');
        written.push(outputKey(key, 'wav'));
      },
      { base: ctx.cfg.tmpDir },
    );
  }
  // Last: the result JSON. A reader (and the next run's scanner) never sees a result whose outputs are missing.
  await dst.putJson(outputKey(key, 'json'), rendered.result);
  written.push(outputKey(key, 'json'));

  await finishFile(ctx, runId, fileId, {
    status: 'succeeded',
    durationS: prepared.durationS,
    chunks: chunks.length,
    requests: chunks.reduce((n, c) => n + c.requests, 0) + (final ? 1 : 0),
    usage: final ? addUsage(usage, final.usage) : usage,
    costMicros: cost.amountMicros + (final?.cost.amountMicros ?? 0),
    currency: cost.currency ?? final?.cost.currency ?? null,
    priced: cost.priced && (final?.cost.priced ?? true),
    ...(rendered.flagged && { flagged: rendered.flagged }),
    ...(rendered.moderation && { moderation: rendered.moderation }),
  });
  return { outputs: written };
}

async function readJson<T>(dst: ReturnType<JobContext['storage']>, key: string): Promise<T | undefined> {
  const raw = await dst.getText(key);
  return raw ? (JSON.parse(raw) as T) : undefined;
}

interface FinalSummary {
  text: string;
  audioKey?: string;
  usage: Usage;
  cost: Cost;
}

/**
 * speak's final request: the chunks' summaries in, one spoken summary of the whole file out. Staged before the
 * file finishes, so a redone finalize pays nothing twice, and recorded in the ledger as the file's request after
 * its last chunk (idempotent per file and index). Under a budget it is reserved like a chunk; refused, the file
 * keeps its chunks' summaries joined (and says so in the log) rather than spend past the budget.
 */
async function speakFinal(job: Job<FinalizePayload>, ctx: JobContext, spec: RunSpec, chunks: readonly ChunkResult[]): Promise<FinalSummary | undefined> {
  const { runId, fileId, generation } = job.data;
  const dst = ctx.storage(spec.destination);
  const index = chunks.length;
  const stagedJson = stagedKey(runId, fileId, generation, index, 'final.json');
  const saved = await dst.getText(stagedJson);
  if (saved) return JSON.parse(saved) as FinalSummary;
  const model = findModel(spec.model);
  if (!model) return undefined;
  const userText = speakFinalText(chunks);
  const ledgerId = generation ? `${fileId}.g${generation}` : fileId;
  const maxOutputTokens = outputCapTokens('speak', 0, model.limits.maxOutputTokens);
  if (spec.budgetMicros !== undefined) {
    const est = estimateChunkCost(0, {
      model: spec.model,
      region: spec.region,
      task: 'speak',
      prompt: `${SPEAK_FINAL_PROMPT}\n${userText}`,
      pricing: ctx.pricing,
      maxOutputTokens,
    });
    if (!(await ctx.costs.reserve(runId, ledgerId, index, est.amountMicros, spec.budgetMicros))) {
      ctx.log.warn({ fileId }, "speak: the final summary would pass the budget: the chunks' summaries are kept joined");
      return undefined;
    }
  }
  return withTempDir(
    `speak-${fileId}`,
    async (dir) => {
      await ctx.runs.count(runId, 'requests', 1);
      const r = await ctx.client.complete({
        model: spec.model,
        ...placeInstructions(spec.model, { audioOut: true }, SPEAK_FINAL_PROMPT, userText),
        audioOut: { voice: spec.voice ?? model.defaultVoice ?? 'Cherry', file: path.join(dir, 'final.wav') },
        maxOutputTokens,
      });
      const cost = costOf(r.usage, spec.model, spec.region, ctx.pricing);
      const audioKey = r.audio ? stagedKey(runId, fileId, generation, index, 'final.wav') : undefined;
      if (audioKey && r.audio) await dst.upload(r.audio.file, audioKey, 'audio/wav');
      const final: FinalSummary = { text: r.text, usage: r.usage, cost, ...(audioKey && { audioKey }) };
      await dst.putJson(stagedJson, final);
      await ctx.costs.recordChunk(runId, ledgerId, index, `${job.id}#${job.attemptsMade + 1}`, r.usage, cost, 1);
      if (spec.budgetMicros !== undefined) await ctx.costs.settle(runId, ledgerId, index, cost.amountMicros);
      return final;
    },
    { base: ctx.cfg.tmpDir },
  );
}
