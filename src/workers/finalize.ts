/**
 * finalize: all chunk results of a file -> stitched on the source's timeline -> the task's outputs, then the
 * result JSON last (its presence means "done" to a later run's scanner) -> the file succeeds -> staging goes.
 * The decision is finalize-decide.ts's planFinalize; this file runs it over narrow ports (fakes:
 * test/fakes/finalize.ts).
 */
import path from 'node:path';
import type { Job } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import { resultSecret } from '../app/result-secret.ts';
import { estimateChunkCost } from '../cost/estimate.ts';
import { addCost, type Cost, costOf } from '../cost/price.ts';
import type { FinalizePayload } from '../jobs/catalog.ts';
import { finishFile, isFileOpen, isSuperseded, stagedKey } from '../lifecycle/file-state.ts';
import { concatWavFiles } from '../media/wav-concat.ts';
import { modelOf } from '../models/catalog.ts';
import { addUsage, type Usage } from '../models/types.ts';
import { sha256Hex, signResult } from '../outputs/signature.ts';
import type { ChunkResult, FileState, RunSpec } from '../runs/types.ts';
import { outputKey } from '../storage/keys.ts';
import { withTempDir } from '../storage/temp.ts';
import type { Storage } from '../storage/types.ts';
import { outputCapTokens, TASK_SPECS, writesCues } from '../tasks/catalog.ts';
import { SPEAK_FINAL_PROMPT, speakFinalText } from '../tasks/speak-summary.ts';
import { placeInstructions } from '../tasks/system-message.ts';
import type { Logger } from '../util/logger.ts';
import { planFinalize } from './finalize-decide.ts';
import type { StagedFile } from './prepare.ts';
import { renderFileOutputs } from './render.ts';

/** Everything finalize touches. */
export interface FinalizePorts {
  spec(runId: string): Promise<RunSpec>;
  runs: {
    /** true while the file is pending (and, when it is not, the run's report is made sure of) */
    isFileOpen(runId: string, fileId: string): Promise<boolean>;
    isSuperseded(runId: string, fileId: string, generation: number | undefined): Promise<boolean>;
    file(runId: string, fileId: string): Promise<FileState | undefined>;
    finishFile(runId: string, fileId: string, patch: Partial<FileState> & Pick<FileState, 'status'>): Promise<void>;
  };
  storage(location: string): Pick<Storage, 'getText' | 'putText' | 'putJson' | 'download' | 'upload'>;
  /** speak: the chunks' WAVs joined into one (media/wav-concat.ts) */
  concatWav(parts: readonly string[], out: string): Promise<unknown>;
  /** speak on several chunks: the one spoken summary of the file, from a final request (staged, paid once) */
  speakFinal?(d: FinalizePayload, spec: RunSpec, chunks: readonly ChunkResult[]): Promise<FinalSummary | undefined>;
  /** the deployment's result secret, which signs the result (outputs/signature.ts) */
  resultSecret(): Promise<string>;
  tmpDir?: string;
  log: Logger;
}

export function finalizePorts(ctx: JobContext, attempt = 'finalize'): FinalizePorts {
  return {
    spec: (runId) => ctx.spec(runId),
    runs: {
      isFileOpen: (runId, fileId) => isFileOpen(ctx, runId, fileId),
      isSuperseded: (runId, fileId, generation) => isSuperseded(ctx, runId, fileId, generation),
      file: (runId, fileId) => ctx.runs.file(runId, fileId),
      finishFile: (runId, fileId, patch) => finishFile(ctx, runId, fileId, patch),
    },
    storage: (location) => ctx.storage(location),
    concatWav: concatWavFiles,
    speakFinal: (d, spec, chunks) => speakFinal(d, attempt, ctx, spec, chunks),
    resultSecret: () => resultSecret(ctx),
    tmpDir: ctx.cfg.tmpDir,
    log: ctx.log,
  };
}

export async function finalize(job: Job<FinalizePayload>, ctx: JobContext): Promise<{ outputs: string[] } | { skipped: string }> {
  return runFinalize(job.data, finalizePorts(ctx, `${job.id}#${job.attemptsMade + 1}`));
}

export async function runFinalize(d: FinalizePayload, p: FinalizePorts): Promise<{ outputs: string[] } | { skipped: string }> {
  const { runId, fileId, key } = d;
  const spec = await p.spec(runId);
  if (!(await p.runs.isFileOpen(runId, fileId))) return { skipped: 'file already finished' };
  if (await p.runs.isSuperseded(runId, fileId, d.generation)) return { skipped: 'file re-planned' };
  const dst = p.storage(spec.destination);
  const file = await p.runs.file(runId, fileId);
  // The duration comes with the payload; prepared.json is read for the chunks' measured speech, which only
  // subtitles use, or for the duration of a job queued by an older version. The speech stays out of the infer
  // payloads: they carry ids and keys, no document storage already holds (docs/architecture.md, "The queues"),
  // and for a subtitle task this is one GET beside the file's N chunk results.
  const prepared =
    d.durationS === undefined || writesCues(spec.task)
      ? await readJson<StagedFile>(dst, stagedKey(runId, fileId, d.generation, 0, 'prepared.json'))
      : undefined;
  const durationS = d.durationS ?? prepared?.durationS;
  const found: ChunkResult[] = [];
  for (let i = 0; i < d.chunks; i++) {
    const r = await readJson<ChunkResult>(dst, stagedKey(runId, fileId, d.generation, i, 'result.json'));
    if (r) found.push(r);
  }
  const plan = planFinalize({ key, expected: d.chunks, found, durationS });
  const { chunks } = plan;
  const ts = TASK_SPECS[spec.task];
  const final = ts.wantsAudioOut && chunks.length > 1 ? await p.speakFinal?.(d, spec, chunks) : undefined;
  const usage = final ? addUsage(plan.usage, final.usage) : plan.usage;
  const cost = final ? addCost(plan.cost, final.cost) : plan.cost;

  const rendered = renderFileOutputs({
    spec,
    file: file!,
    durationS: plan.durationS,
    chunks,
    usage,
    cost,
    overlapS: spec.overlapSeconds ?? ts.policy.overlapS,
    ...(final && { summary: final.text }),
    speech: new Map((prepared?.chunks ?? []).flatMap((c) => (c.speech ? [[c.index, c.speech] as const] : []))),
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
        await p.concatWav(parts, out);
        await dst.upload(out, outputKey(key, 'wav'), 'audio/wav');
        written.push(outputKey(key, 'wav'));
      },
      { base: p.tmpDir },
    );
  }
  // Last: the result JSON, signed with the digests of the text outputs just written (outputs/signature.ts): the
  // next run's scanner skips the object only on a result this deployment wrote, whose outputs are unchanged.
  // A reader (and that scanner) never sees a result whose outputs are missing.
  const base = key.slice(key.lastIndexOf('/') + 1);
  const digests = Object.fromEntries(Object.entries(rendered.files).map(([ext, body]) => [`${base}.${ext}`, sha256Hex(body.text)]));
  await dst.putJson(outputKey(key, 'json'), signResult(rendered.result, digests, await p.resultSecret()));
  written.push(outputKey(key, 'json'));

  await p.runs.finishFile(runId, fileId, {
    status: 'succeeded',
    durationS: plan.durationS,
    chunks: chunks.length,
    requests: plan.requests + (final ? 1 : 0),
    usage,
    costMicros: cost.amountMicros,
    currency: cost.currency,
    priced: cost.priced,
    ...(rendered.flagged && { flagged: rendered.flagged }),
    ...(rendered.moderation && { moderation: rendered.moderation }),
  });
  return { outputs: written };
}

async function readJson<T>(dst: Pick<Storage, 'getText'>, key: string): Promise<T | undefined> {
  const raw = await dst.getText(key);
  return raw ? (JSON.parse(raw) as T) : undefined;
}

export interface FinalSummary {
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
async function speakFinal(
  d: FinalizePayload,
  attempt: string,
  ctx: JobContext,
  spec: RunSpec,
  chunks: readonly ChunkResult[],
): Promise<FinalSummary | undefined> {
  const { runId, fileId, generation } = d;
  const dst = ctx.storage(spec.destination);
  const index = chunks.length;
  const stagedJson = stagedKey(runId, fileId, generation, index, 'final.json');
  const saved = await dst.getText(stagedJson);
  if (saved) return JSON.parse(saved) as FinalSummary;
  const model = modelOf(spec);
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
      await ctx.costs.recordChunk(runId, ledgerId, index, attempt, r.usage, cost, 1);
      if (spec.budgetMicros !== undefined) await ctx.costs.settle(runId, ledgerId, index, cost.amountMicros);
      return final;
    },
    { base: ctx.cfg.tmpDir },
  );
}
