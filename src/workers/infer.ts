/**
 * infer: one chunk -> one streaming request (plus at most one moderation repair) -> chunk result in staging.
 * Exactly once where it matters: a staged result means the request already succeeded, so a redone job
 * (its worker was killed) re-records the same ledger entry (idempotent) instead of paying again.
 */
import path from 'node:path';
import { DelayedError, type Job } from 'bullmq';
import { estimateChunkCost, estimateChunkTokens, outputBound } from '../cost/estimate.ts';
import { addCost, costOf } from '../cost/price.ts';
import type { InferPayload } from '../jobs/catalog.ts';
import { findModel } from '../models/catalog.ts';
import { addUsage, emptyUsage, type ModelRequest, type ModelResult } from '../models/types.ts';
import { assessVerdict, MODERATION_USER_TEXT, parseVerdict, verdictError, verdictRepairRequest } from '../outputs/moderation.ts';
import { metrics } from '../ops/metrics.ts';
import { enqueueNotify } from './notify.ts';
import type { ChunkResult, RunSpec } from '../runs/types.ts';
import { withTempDir } from '../storage/temp.ts';
import { TASK_SPECS } from '../tasks/catalog.ts';
import { placeInstructions } from '../tasks/system-message.ts';
import { isOmniError, OmniError } from '../util/errors.ts';
import type { JobContext } from './context.ts';
import { finishNotRun, isFileOpen, isSuperseded, stagedKey } from './files.ts';

export type InferOutcome = { chunk: number; requests: number; reused: boolean } | { skipped: string };

/** The ledger's file identity: a re-planned or retried file's chunks are new chunks (and new money). */
export function ledgerFile(d: InferPayload): string {
  return d.generation ? `${d.fileId}.g${d.generation}` : d.fileId;
}

function attemptToken(job: Job): string {
  return `${job.id}#${job.attemptsMade + 1}`;
}

export async function infer(job: Job<InferPayload>, ctx: JobContext): Promise<InferOutcome> {
  const d = job.data;
  const spec = await ctx.spec(d.runId);
  if (!(await isFileOpen(ctx, d.runId, d.fileId))) return { skipped: 'file already finished' };
  if (await isSuperseded(ctx, d.runId, d.fileId, d.generation)) return { skipped: 'file re-planned' };
  const stop = await ctx.runs.stopReason(d.runId);
  if (stop) {
    await finishNotRun(ctx, d.runId, d.fileId, stop);
    return { skipped: `run stopping (${stop})` };
  }
  const dst = ctx.storage(spec.destination);
  const resultKey = stagedKey(d.runId, d.fileId, d.generation, d.chunk, 'result.json');
  const staged = await dst.getText(resultKey);
  if (staged) {
    const r = JSON.parse(staged) as ChunkResult;
    await ctx.costs.recordChunk(d.runId, ledgerFile(d), d.chunk, attemptToken(job), r.usage, r.cost, r.requests);
    if (spec.budgetMicros !== undefined) await ctx.costs.settle(d.runId, ledgerFile(d), d.chunk, r.cost.amountMicros);
    return { chunk: d.chunk, requests: 0, reused: true };
  }

  const model = findModel(spec.model)!;
  const seconds = d.endS - d.startS;
  const sizing = { model: model.id, region: spec.region, task: spec.task, prompt: spec.prompt, ...(d.video && { video: d.video }) };
  // Every request carries the task's output cap, budget or not (responses: none is sent, the model's ceiling
  // bounds it); under a budget the reservation assumes that bound, so it is an upper bound, not a guess.
  const bound = outputBound(spec.protocol, seconds, spec.task, model.id);
  const maxOutputTokens = bound.reserve;
  if (spec.budgetMicros !== undefined) {
    const estimate = estimateChunkCost(seconds, { ...sizing, pricing: ctx.pricing, audioOut: TASK_SPECS[spec.task].wantsAudioOut, maxOutputTokens });
    if (!estimate.priced) {
      throw new OmniError('budget_unpriced', `a budget cannot cover this ${d.kind} chunk: ${model.id} has no ${spec.region} price for part of it (add it with --pricing)`, { retryable: false });
    }
    const granted = await ctx.costs.reserve(d.runId, ledgerFile(d), d.chunk, estimate.amountMicros, spec.budgetMicros);
    if (!granted) {
      if (await ctx.runs.stop(d.runId, 'budget', 'the next request could not be reserved within the budget')) {
        ctx.log.warn({ budgetMicros: spec.budgetMicros }, 'budget reached: stopping the run');
      }
      await finishNotRun(ctx, d.runId, d.fileId, 'budget');
      return { skipped: 'budget' };
    }
  }
  // TPM: reserve the known input tokens plus the task's expected output before sending; settled to the
  // real usage after, or given back when the request failed without using any.
  let reservation: string | undefined;
  if (ctx.cfg.tpm) {
    const t = estimateChunkTokens(seconds, { ...sizing, ...(maxOutputTokens !== undefined && { maxOutputTokens }) });
    const r = await ctx.costs.reserveTokens(model.id, t.input + t.output, ctx.cfg.tpm);
    if ('id' in r) reservation = r.id;
    else if (ctx.worker && ctx.token) {
      // This job waits, not the queue: another model's requests (a quota of their own) go on meanwhile.
      await job.moveToDelayed(Date.now() + r.waitMs, ctx.token);
      throw new DelayedError();
    }
  }

  let result: Awaited<ReturnType<typeof runChunk>>;
  try {
    result = await withTempDir(`inf-${d.fileId}-${d.chunk}`, async (dir) => {
    const media: ModelRequest['media'] = spec.inputMode === 'url'
      ? { kind: d.kind, source: { url: await dst.presignGet(d.stagingKey, 3600) }, format: d.format, seconds }
      : { kind: d.kind, source: { file: await download(dst, d.stagingKey, path.join(dir, `chunk.${d.format}`)) }, format: d.format, seconds };
    const ts = TASK_SPECS[spec.task];
    const audioFile = ts.wantsAudioOut ? path.join(dir, 'out.wav') : undefined;
    const req: ModelRequest = {
      model: spec.model,
      // moderation: the instructions in a system message where the model takes one, apart from the media
      ...(spec.prompt && model.acceptsPrompt && (spec.task === 'moderate'
        ? placeInstructions(spec.model, { audioOut: Boolean(audioFile) }, spec.prompt, MODERATION_USER_TEXT)
        : { prompt: spec.prompt })),
      media,
      ...(audioFile && { audioOut: { voice: spec.voice ?? model.defaultVoice ?? 'Cherry', file: audioFile } }),
      ...(bound.send && { maxOutputTokens: bound.send }),
    };
    const firstKey = stagedKey(d.runId, d.fileId, d.generation, d.chunk, 'first.json');
    const first: FirstAnswer = {
      load: async () => { const raw = await dst.getText(firstKey); return raw ? (JSON.parse(raw) as ModelResult) : undefined; },
      save: (r) => dst.putJson(firstKey, r),
    };
    const out = await runChunk(ctx, job, spec, req, first);
    if (out.audioFile) {
      out.chunk.audioKey = stagedKey(d.runId, d.fileId, d.generation, d.chunk, 'audio.wav');
      await dst.upload(out.audioFile, out.chunk.audioKey, 'audio/wav');
    }
    return out;
  }, { base: ctx.cfg.tmpDir });
  } catch (err) {
    if (reservation && usedNoTokens(err)) await ctx.costs.settleTokens(model.id, reservation, 0).catch(() => undefined);
    throw err;
  }

  // The staged result is the commit point: from here on a redone job pays nothing.
  await dst.putJson(resultKey, result.chunk);
  await ctx.costs.recordChunk(d.runId, ledgerFile(d), d.chunk, attemptToken(job), result.chunk.usage, result.chunk.cost, result.chunk.requests);
  if (spec.budgetMicros !== undefined) {
    await ctx.costs.settle(d.runId, ledgerFile(d), d.chunk, result.chunk.cost.amountMicros);
    if (spec.notifyUrl && (await ctx.costs.budget.crossed(d.runId, 0.8, spec.budgetMicros))) {
      // Told once per run (crossed() flips a flag atomically); queued, so delivery neither holds up the job nor dies with it.
      await enqueueNotify(ctx, { runId: d.runId, url: spec.notifyUrl, event: 'run.budget_threshold', allowUnsigned: spec.allowUnsignedWebhooks === true,
        body: { run_id: d.runId, budget_micros: spec.budgetMicros, fraction: 0.8, totals: await ctx.costs.totals(d.runId) } });
    }
  }
  if (reservation) await ctx.costs.settleTokens(model.id, reservation, result.chunk.usage.inputTotal + result.chunk.usage.outputTotal);
  return { chunk: d.chunk, requests: result.chunk.requests, reused: false };
}

/**
 * A request refused before the provider admitted it (a 429, a 5xx or a 4xx at the door) used no tokens of
 * the quota; one that failed after its stream began (cut, timeout) may have been counted, so it keeps its
 * reservation until the window forgets it.
 */
const REFUSED_AT_THE_DOOR = new Set(['rate_limited', 'quota_exceeded', 'server_error', 'invalid_request', 'input_too_large', 'auth', 'arrears', 'model_not_found']);
function usedNoTokens(err: unknown): boolean {
  return !isOmniError(err) || REFUSED_AT_THE_DOOR.has(err.code);
}

async function download(dst: ReturnType<JobContext['storage']>, key: string, file: string): Promise<string> {
  await dst.download(key, file);
  return file;
}

/** The request itself, the moderation repair, and a provider refusal recorded as a result. */
/** One request, counted for the run and timed for the metrics. */
async function send(ctx: JobContext, spec: RunSpec, runId: string, req: ModelRequest): Promise<ModelResult> {
  await ctx.runs.count(runId, 'requests', 1);
  const started = performance.now();
  const observe = (outcome: string) => metrics().requestObserved({ model: spec.model, protocol: spec.protocol, outcome, seconds: (performance.now() - started) / 1000 });
  try {
    const r = await ctx.client.complete(req);
    observe('ok');
    return r;
  } catch (err) {
    observe(isOmniError(err) ? (err.code === 'rate_limited' || err.code === 'quota_exceeded' ? 'rate_limited' : err.code) : 'error');
    throw err;
  }
}

/** A moderation answer that needs a repair is staged first: if the repair fails, the redone job does not pay for it again. */
interface FirstAnswer {
  load(): Promise<ModelResult | undefined>;
  save(r: ModelResult): Promise<void>;
}

async function runChunk(ctx: JobContext, job: Job<InferPayload>, spec: RunSpec, req: ModelRequest, first: FirstAnswer): Promise<{ chunk: ChunkResult; audioFile?: string }> {
  const d = job.data;
  const base = { index: d.chunk, startS: d.startS, endS: d.endS, attempts: job.attemptsMade + 1 };
  const saved = spec.task === 'moderate' ? await first.load() : undefined;
  let r: ModelResult;
  try {
    r = saved ?? (await send(ctx, spec, d.runId, req));
  } catch (err) {
    if (isOmniError(err) && err.code === 'content_blocked') {
      const zero = costOf(emptyUsage(), spec.model, spec.region, ctx.pricing);
      return { chunk: { ...base, text: '', usage: emptyUsage(), cost: zero, requests: 1, providerBlocked: true, ...(spec.task === 'moderate' && { verdict: { provider_blocked: true } }) } };
    }
    throw err;
  }
  let usage = r.usage;
  let cost = costOf(r.usage, spec.model, spec.region, ctx.pricing);
  let text = r.text;
  let requests = 1;
  let verdict: unknown;
  if (spec.task === 'moderate') {
    let parsed = parseVerdict(text);
    const answers = [r.text];
    if (!parsed.ok) {
      if (!saved) await first.save(r);
      // One repair: a cheap text-only request that turns the first answer, whole, into the required JSON. It
      // is priced on its own (text-only input has its own output price) and added to the chunk.
      const fix = verdictRepairRequest(parsed, text, spec.prompt);
      const repair = await send(ctx, spec, d.runId, { model: spec.model, ...placeInstructions(spec.model, { audioOut: false }, fix.instructions, fix.userText),
        ...(req.maxOutputTokens && { maxOutputTokens: req.maxOutputTokens }) });
      answers.push(repair.text);
      requests++;
      usage = addUsage(usage, repair.usage);
      cost = addCost(cost, costOf(repair.usage, spec.model, spec.region, ctx.pricing));
      parsed = parseVerdict(repair.text);
      if (!parsed.ok) {
        // Both requests were paid: the ledger says so even though the file fails.
        await ctx.costs.recordChunk(d.runId, ledgerFile(d), d.chunk, attemptToken(job), usage, cost, requests);
        throw verdictError(parsed);
      }
      text = repair.text;
    }
    verdict = assessVerdict(parsed, { answers, repaired: answers.length > 1 });
  }
  metrics().tokens(usage, spec.model);
  metrics().cost(cost, spec.model);
  return {
    chunk: { ...base, text, usage, cost, requests, requestId: r.requestId, ...(verdict !== undefined && { verdict }), ...(r.audio && { audioSeconds: r.audio.seconds }) },
    ...(r.audio && { audioFile: r.audio.file }),
  };
}
