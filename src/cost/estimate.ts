/**
 * The estimate before anything is sent (`omnibatch estimate`, the run's `cost.estimated`, and the budget
 * reservation of each request). Pure: durations and planned chunk lengths in, tokens, money and wall
 * time out.
 *
 * Input tokens follow the documented rules exactly (models/tokens.ts): audio per chunk with the
 * 1-second minimum, video frames for video chunks, the prompt's text tokens once per request. Output
 * tokens cannot be known, so each task has a prior, `perRequest + perSecond x chunk seconds`, as a
 * low / expected / high range, capped at the model's output ceiling (see OUTPUT_PRIORS).
 */
import { findModel, type ModelSpec, type Region, type Via } from '../models/catalog.ts';
import { audioTokens, textTokens, videoTokens } from '../models/tokens.ts';
import type { Protocol, Usage } from '../models/types.ts';
import { outputCapTokens, TASK_SPECS, type Task } from '../tasks/catalog.ts';
import { OmniError } from '../util/errors.ts';
import { addCost, type Cost, type PricingOverride, resolvePrices, usageCost, ZERO_COST } from './price.ts';

export interface OutputPrior {
  perRequest: number;
  perSecond: number;
}
export interface Range<T> {
  low: T;
  expected: T;
  high: T;
}

/**
 * Output-token priors per task (text tokens by the tokens.ts rule, about 4 characters per token):
 * - caption: the captioner writes a paragraph per clip, longer for longer clips: a 30 s clip gets about
 *   180 tokens (35 to 360: a terse caption is a sentence or two).
 * - transcribe: speech runs at about 150 words/min, 15 characters/s, so about 3.75 tokens/s (CJK: 4-5
 *   characters/s, one token each); expected 3/s for pauses, high 6/s for fast speech, low 0 for music.
 * - moderate: one JSON verdict per chunk; an empty verdict is about 25 tokens, a busy one a few hundred.
 * - describe: a scene-by-scene description, 120 tokens plus 1.5/s (50 to 300 plus 4/s).
 * - speak: a short summary (80 text tokens, 30 to 200), spoken: see audioTokensPerTextToken.
 * - custom: anything; a wide range.
 */
export const OUTPUT_PRIORS: Readonly<Record<Task, Range<OutputPrior>>> = Object.freeze({
  caption: { low: { perRequest: 20, perSecond: 0.5 }, expected: { perRequest: 60, perSecond: 4 }, high: { perRequest: 120, perSecond: 8 } },
  transcribe: { low: { perRequest: 0, perSecond: 0 }, expected: { perRequest: 5, perSecond: 3 }, high: { perRequest: 20, perSecond: 6 } },
  moderate: { low: { perRequest: 25, perSecond: 0 }, expected: { perRequest: 60, perSecond: 0.1 }, high: { perRequest: 250, perSecond: 0.5 } },
  describe: { low: { perRequest: 50, perSecond: 0.5 }, expected: { perRequest: 120, perSecond: 1.5 }, high: { perRequest: 300, perSecond: 4 } },
  speak: { low: { perRequest: 30, perSecond: 0 }, expected: { perRequest: 80, perSecond: 0 }, high: { perRequest: 200, perSecond: 0 } },
  custom: { low: { perRequest: 10, perSecond: 0 }, expected: { perRequest: 100, perSecond: 1 }, high: { perRequest: 500, perSecond: 4 } },
});

/** Speech carries about 3.75 text tokens a second (150 words/min, see `transcribe` above). */
export const SPOKEN_TEXT_TOKENS_PER_SECOND = 3.75;

/**
 * Audio tokens per spoken text token, from the model's own audio token rate: 12.5/s (qwen3) -> 10/3,
 * 25/s (qwen-omni-turbo) -> 20/3. One ratio for every model would under-reserve the faster-rate models.
 */
export function audioTokensPerTextToken(spec: ModelSpec): number {
  return spec.tokens.audioTokensPerSecond / SPOKEN_TEXT_TOKENS_PER_SECOND;
}

/** Seconds one request takes: a fixed part, decoding the media, and generating the expected output. */
export interface LatencyModel {
  baseS: number;
  perInputSecond: number;
  outputTokensPerS: number;
}
export const DEFAULT_LATENCY: LatencyModel = Object.freeze({ baseS: 2, perInputSecond: 0.02, outputTokensPerS: 50 });

export interface EstimateFile {
  uri?: string;
  durationS: number;
  /** the planned chunk lengths (from the planner); else `chunks` equal parts; else the task's target length */
  chunkSeconds?: readonly number[];
  chunks?: number;
  /** default true */
  hasAudio?: boolean;
  /** a video stream, for tasks that send the picture */
  video?: { width: number; height: number };
}

/** What a request is priced on: a run's estimate and one chunk's both start from it. */
export interface PricedTask {
  model: string;
  region: Region;
  task: Task;
  /** default: the task's prompt */
  prompt?: string;
  /** spoken output (default: what the task asks) */
  audioOut?: boolean;
  pricing?: PricingOverride;
  /** through the provider's Batch API: every price at the Batch share (default realtime) */
  via?: Via;
  /** the priors scaled by what earlier runs were billed (calibration.ts outputScale); default 1 */
  outputScale?: number;
}

export interface EstimateOptions extends PricedTask {
  /** requests in flight at once (default 8) */
  concurrency?: number;
  rpm?: number;
  tpm?: number;
  /** seconds per request, or a model of it (default DEFAULT_LATENCY) */
  latency?: number | LatencyModel;
}

export interface TokenCounts {
  text: number;
  audio: number;
  image: number;
  video: number;
  total: number;
}

export interface FileEstimate {
  uri?: string;
  durationS: number;
  requests: number;
  input: TokenCounts;
  /** output tokens (text, plus audio for spoken output) */
  output: Range<number>;
  cost: Range<Cost>;
}

export interface WallTime {
  /** the longest of the three constraints */
  seconds: number;
  binding: 'concurrency' | 'rpm' | 'tpm';
  byConstraint: { concurrency: number; rpm: number | null; tpm: number | null };
}

export interface Estimate {
  files: number;
  mediaSeconds: number;
  requests: number;
  input: TokenCounts;
  output: Range<number>;
  cost: Range<Cost>;
  wall: WallTime;
  perFile: FileEstimate[];
}

interface ChunkEstimate {
  seconds: number;
  input: TokenCounts;
  output: Range<{ text: number; audio: number }>;
  cost: Range<Cost>;
}

function specOf(model: string): ModelSpec {
  const spec = findModel(model);
  if (!spec) throw new OmniError('model_unknown', `unknown model: ${model}`);
  return spec;
}

/** The planned chunk lengths of a file. */
export function chunkLengths(file: EstimateFile, task: Task): number[] {
  if (file.chunkSeconds && file.chunkSeconds.length > 0) return [...file.chunkSeconds];
  const n = file.chunks ?? Math.max(1, Math.ceil(file.durationS / TASK_SPECS[task].policy.targetS));
  return Array.from({ length: n }, () => file.durationS / n);
}

function outputTokens(prior: OutputPrior, seconds: number, spec: ModelSpec, audioOut: boolean, scale = 1): { text: number; audio: number } {
  const text = Math.min(spec.limits.maxOutputTokens, Math.ceil((prior.perRequest + prior.perSecond * seconds) * scale));
  return { text, audio: audioOut ? Math.ceil(text * audioTokensPerTextToken(spec)) : 0 };
}

function usageOf(input: TokenCounts, out: { text: number; audio: number }): Usage {
  return {
    input: { text: input.text, audio: input.audio, image: input.image, video: input.video },
    output: { text: out.text, audio: out.audio, reasoning: 0 },
    inputTotal: input.total,
    outputTotal: out.text + out.audio,
  };
}

interface ChunkContext {
  spec: ModelSpec;
  task: Task;
  promptTokens: number;
  audioOut: boolean;
  prices: ReturnType<typeof resolvePrices>;
  outputScale: number;
}

function contextOf(opts: Omit<EstimateOptions, 'concurrency' | 'rpm' | 'tpm' | 'latency'>): ChunkContext {
  const spec = specOf(opts.model);
  const taskSpec = TASK_SPECS[opts.task];
  const prompt = spec.acceptsPrompt ? (opts.prompt ?? taskSpec.prompt ?? '') : '';
  return {
    spec,
    task: opts.task,
    promptTokens: prompt ? textTokens(prompt) : 0,
    audioOut: (opts.audioOut ?? taskSpec.wantsAudioOut) && spec.outputs.includes('audio'),
    prices: resolvePrices(spec.id, opts.region, opts.pricing, opts.via),
    outputScale: opts.outputScale ?? 1,
  };
}

function estimateChunk(seconds: number, file: Pick<EstimateFile, 'hasAudio' | 'video'>, ctx: ChunkContext): ChunkEstimate {
  const { spec } = ctx;
  const sendsVideo = TASK_SPECS[ctx.task].media === 'video' && file.video !== undefined && spec.limits.video !== undefined;
  const audio = file.hasAudio === false ? 0 : audioTokens(seconds, spec.tokens);
  const video = sendsVideo
    ? videoTokens(seconds, file.video!.width, file.video!.height, spec.tokens, spec.limits.video!.minFrames, spec.limits.video!.maxFrames)
    : 0;
  const input = { text: ctx.promptTokens, audio, image: 0, video, total: ctx.promptTokens + audio + video };
  const priors = OUTPUT_PRIORS[ctx.task];
  const output = {
    low: outputTokens(priors.low, seconds, spec, ctx.audioOut, ctx.outputScale),
    expected: outputTokens(priors.expected, seconds, spec, ctx.audioOut, ctx.outputScale),
    high: outputTokens(priors.high, seconds, spec, ctx.audioOut, ctx.outputScale),
  };
  return {
    seconds,
    input,
    output,
    cost: {
      low: usageCost(usageOf(input, output.low), ctx.prices),
      expected: usageCost(usageOf(input, output.expected), ctx.prices),
      high: usageCost(usageOf(input, output.high), ctx.prices),
    },
  };
}

const zeroCounts = (): TokenCounts => ({ text: 0, audio: 0, image: 0, video: 0, total: 0 });
const addCounts = (a: TokenCounts, b: TokenCounts): TokenCounts => ({
  text: a.text + b.text,
  audio: a.audio + b.audio,
  image: a.image + b.image,
  video: a.video + b.video,
  total: a.total + b.total,
});
const outTotal = (o: { text: number; audio: number }): number => o.text + o.audio;

function latencyOf(c: ChunkEstimate, latency: number | LatencyModel): number {
  if (typeof latency === 'number') return latency;
  return latency.baseS + c.seconds * latency.perInputSecond + outTotal(c.output.expected) / latency.outputTokensPerS;
}

/**
 * Wall time is the longest of: the requests' own time shared by `concurrency` slots, the requests at
 * `rpm`, and the tokens at `tpm` (input plus expected output: what DashScope counts against the quota and
 * what the token bucket meters). Short chunks hit RPM first, long chunks hit TPM first.
 */
export function wallTime(requests: number, tokens: number, busySeconds: number, opts: Pick<EstimateOptions, 'concurrency' | 'rpm' | 'tpm'>): WallTime {
  const byConstraint = {
    concurrency: busySeconds / Math.max(1, opts.concurrency ?? 8),
    rpm: opts.rpm ? (requests / opts.rpm) * 60 : null,
    tpm: opts.tpm ? (tokens / opts.tpm) * 60 : null,
  };
  let binding: WallTime['binding'] = 'concurrency';
  let seconds = byConstraint.concurrency;
  if (byConstraint.rpm !== null && byConstraint.rpm > seconds) {
    seconds = byConstraint.rpm;
    binding = 'rpm';
  }
  if (byConstraint.tpm !== null && byConstraint.tpm > seconds) {
    seconds = byConstraint.tpm;
    binding = 'tpm';
  }
  return { seconds, binding, byConstraint };
}

export function estimateRun(files: readonly EstimateFile[], opts: EstimateOptions): Estimate {
  const ctx = contextOf(opts);
  const latency = opts.latency ?? DEFAULT_LATENCY;
  const perFile: FileEstimate[] = [];
  let busy = 0;
  for (const file of files) {
    const chunks = chunkLengths(file, opts.task).map((s) => estimateChunk(s, file, ctx));
    busy += chunks.reduce((a, c) => a + latencyOf(c, latency), 0);
    perFile.push({
      ...(file.uri !== undefined && { uri: file.uri }),
      durationS: file.durationS,
      requests: chunks.length,
      input: chunks.reduce((a, c) => addCounts(a, c.input), zeroCounts()),
      output: {
        low: chunks.reduce((a, c) => a + outTotal(c.output.low), 0),
        expected: chunks.reduce((a, c) => a + outTotal(c.output.expected), 0),
        high: chunks.reduce((a, c) => a + outTotal(c.output.high), 0),
      },
      cost: {
        low: chunks.reduce((a, c) => addCost(a, c.cost.low), ZERO_COST),
        expected: chunks.reduce((a, c) => addCost(a, c.cost.expected), ZERO_COST),
        high: chunks.reduce((a, c) => addCost(a, c.cost.high), ZERO_COST),
      },
    });
  }
  const input = perFile.reduce((a, f) => addCounts(a, f.input), zeroCounts());
  const requests = perFile.reduce((a, f) => a + f.requests, 0);
  const sum = (k: keyof Range<Cost>): Cost => {
    const c = perFile.reduce((a, f) => addCost(a, f.cost[k]), ZERO_COST);
    // An unpriced model has no currency: say so rather than show a zero in none.
    return ctx.prices ? c : { amountMicros: 0, currency: null, priced: false };
  };
  const output = {
    low: perFile.reduce((a, f) => a + f.output.low, 0),
    expected: perFile.reduce((a, f) => a + f.output.expected, 0),
    high: perFile.reduce((a, f) => a + f.output.high, 0),
  };
  return {
    files: files.length,
    mediaSeconds: files.reduce((a, f) => a + f.durationS, 0),
    requests,
    input,
    output,
    cost: { low: sum('low'), expected: sum('expected'), high: sum('high') },
    wall: wallTime(requests, input.total + output.expected, busy, opts),
    perFile,
  };
}

export interface ChunkCostOptions extends PricedTask {
  hasAudio?: boolean;
  video?: { width: number; height: number };
  /** the request's own output cap (max_tokens), when it sets one */
  maxOutputTokens?: number;
}

/**
 * One request's cost for the budget reservation: the exact input tokens and, when the request sets its own
 * output cap (max_tokens), that cap: then it is an exact upper bound. Without a cap, the high output prior
 * (an estimate, not a bound). `priced: false` when the model has no price: the caller decides whether a
 * budget can apply at all.
 */
export function estimateChunkCost(chunkSeconds: number, opts: ChunkCostOptions): Cost {
  const ctx = contextOf(opts);
  const c = estimateChunk(chunkSeconds, opts, ctx);
  if (opts.maxOutputTokens === undefined) return c.cost.high;
  const text = opts.maxOutputTokens;
  const out = { text, audio: ctx.audioOut ? Math.ceil(text * audioTokensPerTextToken(ctx.spec)) : 0 };
  return usageCost(usageOf(c.input, out), ctx.prices);
}

/**
 * A request's output bound per protocol: `send` is the cap put in the request (undefined: none), `reserve`
 * the output tokens a budget reservation assumes. Every request carries the task's cap (outputCapTokens),
 * budget or not, except on DMXAPI's /v1/responses, whose seeds (000, 002) never show an output cap: none is
 * sent there and only the model's own ceiling bounds the answer.
 */
export function outputBound(protocol: Protocol, chunkSeconds: number, task: Task, model: string): { send?: number; reserve: number } {
  const ceiling = specOf(model).limits.maxOutputTokens;
  if (protocol === 'responses') return { reserve: ceiling };
  const cap = outputCapTokens(task, chunkSeconds, ceiling);
  return { send: cap, reserve: cap };
}

/**
 * What one request reserves in the TPM window before it is sent: its exact input tokens plus the task's
 * expected output (the provider counts both against the quota); settled to the real usage afterwards.
 */
export function estimateChunkTokens(
  chunkSeconds: number,
  opts: Omit<ChunkCostOptions, 'maxOutputTokens'> & { maxOutputTokens?: number },
): { input: number; output: number } {
  const ctx = contextOf(opts);
  const c = estimateChunk(chunkSeconds, opts, ctx);
  const out = c.output.expected.text + c.output.expected.audio;
  return { input: c.input.total, output: opts.maxOutputTokens !== undefined ? Math.min(out, opts.maxOutputTokens) : out };
}

/** The input tokens one request will send. */
export function estimateChunkInputTokens(chunkSeconds: number, opts: Omit<ChunkCostOptions, 'maxOutputTokens'>): number {
  return estimateChunk(chunkSeconds, opts, contextOf(opts)).input.total;
}
