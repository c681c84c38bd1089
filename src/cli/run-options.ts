/** The options that describe a run, shared by `run` and `schedule add`, and the run request they make. */
import type { Command } from 'commander';
import type { Config, ConfigInput } from '../config/index.ts';
import { type DeadlinePlan, parseDeadline, planForDeadline } from '../cost/deadline.ts';
import { type PricingOverride, parseAmount } from '../cost/price.ts';
import { type ViaDecision, viaForDeadline } from '../cost/via-choice.ts';
import { fileLimitsOf } from '../media/limits.ts';
import { windowSeconds } from '../models/batch-api.ts';
import type { BatchAsk } from '../models/batch-support.ts';
import { estimateSource, type SourceEstimate } from '../producers/estimate.ts';
import { buildRunSpec, newRunId, type RunRequest } from '../producers/run.ts';
import type { RunSpec } from '../runs/types.ts';
import type { Storage } from '../storage/types.ts';
import { TASK_SPECS, type Task } from '../tasks/catalog.ts';
import type { Logger } from '../util/logger.ts';
import { CATALOG_HELP, collect, int, num } from './common.ts';
import { formatDuration } from './progress.ts';

/** The flags carry the request's own fields, but --out for its destination and --budget as typed. */
export interface RunRequestFlags extends Omit<RunRequest, 'source' | 'destination' | 'budgetMicros' | 'schedule' | 'plannedWallS' | 'subtitles'> {
  out: string;
  budget?: string;
  maxLineChars?: number;
  maxLines?: number;
  maxCueSeconds?: number;
  maxCps?: number;
}

/** The rate and price flags of `run` (for its embedded workers) and `estimate` (for the run it prices). */
export interface RateFlags {
  inferConcurrency?: number;
  rpm?: number;
  tpm?: number;
  pricing?: string;
}

/** Adds the rate and price flags; `whose` says whose rates they are in the help. */
export function addRateOptions(cmd: Command, whose: string): Command {
  return cmd
    .option('--infer-concurrency <n>', `${whose}: requests in flight`, int)
    .option('--rpm <n>', `${whose}: requests per minute`, int)
    .option('--tpm <n>', `${whose}: input + output tokens per minute`, int)
    .option('--pricing <file>', 'price override JSON');
}

/** The rate and price flags as configuration. */
export const rateConfig = (f: RateFlags): ConfigInput => ({ inferConcurrency: f.inferConcurrency, rpm: f.rpm, tpm: f.tpm, pricingFile: f.pricing });

export const DEADLINE_HELP = 'finish by then (8h, 90m, 06:00, or an ISO time): picks the shortest chunk length that makes it at --rpm/--tpm, or refuses';

export const VIA_HELP =
  "realtime (default): one streaming request per chunk; batch: the provider's Batch API at half price, answers within its window; " +
  'auto (with --deadline): batch with --batch-fallback realtime when the deadline leaves the window and the real-time wall time after it, else realtime';
export const BATCH_FALLBACK_HELP =
  'realtime (with --via batch and --deadline): what a batch cannot answer by the deadline is sent in real time, at the real-time price';

export function addRunRequestOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--out <destination>', 's3://bucket/prefix/ or a local directory')
    .requiredOption('--task <task>', 'caption | transcribe | moderate | describe | speak | custom')
    .option('--model <model>', "model id (default: the task's)")
    .option('--prompt <text>', "the prompt (task custom; overrides the task's)")
    .option('--voice <voice>', 'voice for spoken output')
    .option('--include <glob>', 'only keys matching (repeatable; replaces the media-extension filter)', collect)
    .option('--exclude <glob>', 'skip keys matching (repeatable)', collect)
    .option('--max-files <n>', 'at most this many files', int)
    .option('--budget <amount>', "stop before spending more than this (in the price table's currency)")
    .option('--force', 'redo files whose result already exists')
    .option('--manifest <file>', 'JSON lines or CSV of object URIs instead of a listing')
    .option('--chunk-seconds <s>', "target chunk length (default: the task's)", num)
    .option('--overlap-seconds <s>', 'overlap between chunks', num)
    .option('--deadline <time|duration>', DEADLINE_HELP)
    .option('--via <way>', VIA_HELP)
    .option('--batch-fallback <way>', BATCH_FALLBACK_HELP)
    .option('--notify-url <url>', 'POST the signed report here when the run ends (needs OMNIBATCH_WEBHOOK_SECRET)')
    .option('--allow-unsigned-webhooks', "with --notify-url and no secret: send the run's notifications unsigned")
    .option('--language <code>', 'the spoken language (en, de, pt-BR), told to the model; auto: the model names it, and the result records it')
    .option('--translate-to <code>', 'write the text (and subtitles) in this language')
    .option('--max-line-chars <n>', 'subtitles: columns per line (default 42; CJK characters take two)', int)
    .option('--max-lines <n>', 'subtitles: lines per cue (default 2)', int)
    .option('--max-cue-seconds <s>', 'subtitles: longest a cue stays up (default 7)', num)
    .option('--max-cps <n>', 'subtitles: reading speed, characters per second (default 20; 17 for children)', num)
    .option('--output-name <template>', "names of the text outputs, from {name} {lang} {ext}: '{name}.{lang}.{ext}' gives talk.en.srt")
    .option('--catalog <file>', CATALOG_HELP);
}

export function runRequestFrom(source: string, f: RunRequestFlags): RunRequest {
  return {
    source,
    destination: f.out,
    task: f.task,
    model: f.model,
    prompt: f.prompt,
    voice: f.voice,
    include: f.include,
    exclude: f.exclude,
    maxFiles: f.maxFiles,
    budgetMicros: f.budget !== undefined ? parseAmount(f.budget) : undefined,
    force: f.force,
    chunkSeconds: f.chunkSeconds,
    overlapSeconds: f.overlapSeconds,
    manifest: f.manifest,
    notifyUrl: f.notifyUrl,
    ...(f.allowUnsignedWebhooks && { allowUnsignedWebhooks: true }),
    language: f.language,
    translateTo: f.translateTo,
    outputName: f.outputName,
    ...(subtitleFlagsSet(f) && {
      subtitles: { maxLineChars: f.maxLineChars, maxLines: f.maxLines, maxCueSeconds: f.maxCueSeconds, maxCps: f.maxCps },
    }),
    ...(f.via !== undefined && { via: f.via }),
    ...(f.batchFallback !== undefined && { batchFallback: f.batchFallback }),
  };
}

const subtitleFlagsSet = (f: RunRequestFlags): boolean => [f.maxLineChars, f.maxLines, f.maxCueSeconds, f.maxCps].some((v) => v !== undefined);

export interface DeadlineDeps {
  cfg: Config;
  log: Logger;
  source: Storage;
  pricing?: PricingOverride;
  /** the output priors' scale for a model and task, from earlier bills (cost/calibration.ts) */
  outputScale?(model: string, task: Task): Promise<number | undefined>;
}

export interface PlannedDeadline {
  /** the request with the chosen chunk length, the deadline and the predicted wall time */
  request: RunRequest;
  plan: DeadlinePlan;
  failures: SourceEstimate['failures'];
  /** --via auto decided, or a Batch run's warning (cost/via-choice.ts) */
  via: ViaDecision;
}

/**
 * Probe the source (nothing is downloaded or sent), plan the chunk length for the deadline at the
 * configured RPM, TPM and concurrency, and fix it into the request. Throws deadline_unreachable (with the
 * earliest achievable finish) before any run exists.
 */
export async function planDeadline(deps: DeadlineDeps, request: RunRequest, deadlineText: string, now = new Date()): Promise<PlannedDeadline> {
  const deadline = parseDeadline(deadlineText, now);
  // --via auto is planned as real time (the planner's wall time is real time's) and decided below
  const asked = request.via === 'auto' ? { ...request, via: 'realtime', batchFallback: undefined } : request;
  const spec = buildRunSpec({ ...asked, deadline: deadlineText }, deps.cfg, newRunId(now), now, undefined, deps.pricing);
  const outputScale = await deps.outputScale?.(spec.model, spec.task);
  const { files, failures } = await estimateSource(deps.source, spec, {
    log: deps.log,
    pricing: deps.pricing,
    concurrency: deps.cfg.inferConcurrency,
    rpm: deps.cfg.rpm,
    tpm: deps.cfg.tpm,
    base64MaxChars: deps.cfg.base64MaxChars,
    limits: fileLimitsOf(deps.cfg),
    ...(outputScale !== undefined && { outputScale }),
  });
  const plan = planForDeadline(files, {
    model: spec.model,
    region: spec.region,
    task: spec.task,
    prompt: spec.prompt,
    pricing: deps.pricing,
    concurrency: deps.cfg.inferConcurrency,
    rpm: deps.cfg.rpm,
    tpm: deps.cfg.tpm,
    deadline,
    now,
    ...(spec.chunkSeconds !== undefined && { shortestS: spec.chunkSeconds }),
    ...(outputScale !== undefined && { outputScale }),
  });
  const via = viaForDeadline(
    { via: request.via, batchFallback: request.batchFallback, ask: batchAskOf(spec) },
    { deadlineS: (deadline.getTime() - now.getTime()) / 1000, windowS: windowSeconds(deps.cfg.batchWindow), realtimeWallS: plan.estimate.wall.seconds },
  );
  const { batchFallback: _asked, ...rest } = request;
  return {
    request: {
      ...rest,
      via: via.via,
      ...(via.batchFallback && { batchFallback: via.batchFallback }),
      chunkSeconds: plan.chunkSeconds,
      deadline: deadlineText,
      plannedWallS: plan.estimate.wall.seconds,
    },
    plan,
    failures,
    via,
  };
}

/** What the Batch API is asked to carry for this run (models/batch-support.ts). */
export function batchAskOf(spec: Pick<RunSpec, 'model' | 'region' | 'protocol' | 'task'>): BatchAsk {
  return { model: spec.model, region: spec.region, protocol: spec.protocol, task: spec.task, audioOut: TASK_SPECS[spec.task].wantsAudioOut };
}

/** Two lines for stderr/stdout: the chosen length and why, and the predicted finish. */
export function deadlineLines(plan: DeadlinePlan): string[] {
  return [
    `deadline ${plan.deadline.toISOString()}: ${plan.chunkSeconds}-s chunks${plan.lengthened ? ` (longer than the ${plan.shortestS}-s default, to make the deadline)` : ''}`,
    `  ${plan.note}; predicted finish ${plan.predictedFinish.toISOString()} (in ${formatDuration(plan.estimate.wall.seconds)}, bound by ${plan.estimate.wall.binding})`,
  ];
}
