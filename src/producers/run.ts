/** Creating a run: validate the request, fix its spec and fingerprint, store it, enqueue its scan. */

import { randomBytes } from 'node:crypto';
import type { Config } from '../config/index.ts';
import { parseDeadline } from '../cost/deadline.ts';
import { packedChunkSeconds } from '../cost/packing.ts';
import { type PricingOverride, resolvePrices } from '../cost/price.ts';
import { jobIds } from '../jobs/catalog.ts';
import type { Queues } from '../jobs/queues.ts';
import { type BatchAsk, batchRefusal } from '../models/batch-support.ts';
import {
  activeCatalog,
  checkVoice,
  findModel,
  installModel,
  type ModelSpec,
  nameFor,
  type PriceTable,
  protocolRefusal,
  servingWarning,
} from '../models/catalog.ts';
import { catalogSnippet } from '../models/catalog-file.ts';
import type { Protocol } from '../models/types.ts';
import { notifyUrlProblem } from '../ops/webhook.ts';
import { taskFingerprint } from '../outputs/fingerprint.ts';
import { checkOutputName } from '../outputs/naming.ts';
import type { RunStore } from '../runs/store.ts';
import type { RunSpec, SubtitleLimits } from '../runs/types.ts';
import { parseLocation } from '../storage/index.ts';
import { RUNS_DIR } from '../storage/keys.ts';
import type { Storage } from '../storage/types.ts';
import { isTask, TASK_SPECS, type Task, writesCues } from '../tasks/catalog.ts';
import { checkLanguage, languagePrompt } from '../tasks/language.ts';
import { describeError, OmniError } from '../util/errors.ts';
import type { Logger } from '../util/logger.ts';

/** The request's fields that the spec keeps as they are; the rest are checked or resolved into the spec. */
type KeptAsIs =
  | 'source'
  | 'destination'
  | 'prompt'
  | 'voice'
  | 'include'
  | 'exclude'
  | 'maxFiles'
  | 'budgetMicros'
  | 'chunkSeconds'
  | 'overlapSeconds'
  | 'manifest'
  | 'schedule'
  | 'notifyUrl'
  | 'allowUnsignedWebhooks'
  | 'language'
  | 'translateTo'
  | 'subtitles'
  | 'outputName';

export interface RunRequest extends Pick<RunSpec, KeptAsIs> {
  task: string;
  model?: string;
  force?: boolean;
  /** --deadline as typed (a duration or time of day is relative to the run's creation: a schedule's firing) */
  deadline?: string;
  /** the deadline planner's predicted wall time, seconds: the run stores its predicted finish from it */
  plannedWallS?: number;
  /** --via realtime | batch (default realtime); auto is decided with the deadline before the run is built (cost/via-choice.ts) */
  via?: string;
  /** --batch-fallback realtime (with --via batch and --deadline) */
  batchFallback?: string;
  /** a schedule's catalog-file entry, resolved when it was added: a firing in a worker without the file still knows the model */
  modelEntry?: ModelSpec;
}

/** A model neither catalogue has: refused with the catalog-file entry that would make it usable. */
export function unknownModel(name: string, protocol: Protocol): OmniError {
  const known = Object.values(activeCatalog().models).flatMap((m) => m.names.map((n) => n.name));
  return new OmniError(
    'model_unknown',
    `unknown model "${name}": not in the built-in catalogue (${known.join(', ')}) nor in a catalog file. ` +
      `If the provider serves it, describe it in a catalog file (--catalog <file> or OMNIBATCH_CATALOG) from the provider's pages; this entry is the shape to fill in:\n${catalogSnippet(name, protocol)}`,
  );
}

/** Sortable, unique, readable: 20261123T130501Z-4f9a1c */
export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * Pure: request + config -> the run's fixed spec, or a coded error naming what is wrong. The model name is
 * kept exactly as given (it is what is sent); the catalogue entry only supplies limits and prices.
 * @param warn told what the service will decide for itself (an undocumented voice or name)
 * @param pricing the operator's price override (cfg.pricingFile, read once by the caller: Context.pricing)
 */
export function buildRunSpec(
  req: RunRequest,
  cfg: Config,
  runId: string,
  now = new Date(),
  warn: (msg: string) => void = () => {},
  pricing?: PricingOverride,
): RunSpec {
  if (!isTask(req.task)) throw new OmniError('invalid_task', `unknown task "${req.task}": caption, transcribe, moderate, describe, speak or custom`);
  const task: Task = req.task;
  const ts = TASK_SPECS[task];
  // A task's default model under the name this protocol's endpoint serves; a name the user gave is kept as given.
  if (req.modelEntry) installModel(req.modelEntry);
  const modelName = req.model ?? nameFor(ts.defaultModel, cfg.protocol);
  const model = findModel(modelName);
  if (!model) throw unknownModel(modelName, cfg.protocol);
  const refusal = protocolRefusal(modelName, cfg.protocol);
  if (refusal) throw new OmniError('protocol_unsupported', refusal);
  const unserved = servingWarning(modelName, cfg.protocol);
  if (unserved) warn(unserved);
  if (task === 'custom' && !req.prompt) throw new OmniError('invalid_argument', 'task custom needs --prompt');
  if (!model.acceptsPrompt && req.prompt) throw new OmniError('invalid_argument', `${model.id} takes no prompt`);
  if (ts.prompt && !model.acceptsPrompt && task !== 'caption') {
    throw new OmniError('invalid_argument', `task ${task} needs a model that takes a prompt; ${model.id} does not`);
  }
  if (ts.wantsAudioOut && !model.outputs.includes('audio')) throw new OmniError('invalid_argument', `${model.id} cannot speak`);
  const via = viaOf(req, { model: modelName, region: cfg.region, protocol: cfg.protocol, task, audioOut: ts.wantsAudioOut });
  const voice = ts.wantsAudioOut ? (req.voice ?? model.defaultVoice) : req.voice;
  const voiceVerdict = voice ? checkVoice(modelName, voice, cfg.protocol) : { ok: true as const };
  if (!voiceVerdict.ok) {
    if (voiceVerdict.refuse) throw new OmniError('voice_unsupported', voiceVerdict.message);
    warn(`${voiceVerdict.message}: sent as given, the service decides`);
  }
  if (req.budgetMicros !== undefined) {
    // A budget needs prices for everything a request of this task can send: an unpriced request would reserve
    // nothing, so a video task on a model whose video input has no price is refused here, before the run, and
    // not file by file at each reservation (README "Cost accounting and budgets").
    const prices = resolvePrices(model.id, cfg.region, pricing, via ? 'batch' : 'realtime');
    const needs: (keyof PriceTable)[] = [
      'inputAudio',
      ...(ts.media === 'video' && model.inputs.includes('video') ? ['inputVideo' as const] : []),
      ...(ts.prompt || req.prompt ? ['inputText' as const] : []),
      ...(ts.wantsAudioOut ? ['outputAudio' as const] : ['outputTextMultimodal' as const]),
    ];
    const missing = needs.filter((k) => prices?.[k] === undefined);
    if (missing.length) {
      throw new OmniError(
        'budget_unpriced',
        `--budget needs prices for everything task ${task} sends to ${model.id} in region ${cfg.region}; missing: ${missing.join(', ')} (add them with --pricing, or run without --budget)`,
      );
    }
  }
  if (cfg.inputMode === 'url' && parseLocation(req.destination).kind !== 's3') {
    throw new OmniError('invalid_argument', 'input mode url needs an s3:// destination: the model service cannot fetch from a local folder');
  }
  if (req.notifyUrl) {
    const allowUnsigned = Boolean(req.allowUnsignedWebhooks || cfg.allowUnsignedWebhooks);
    const problem = notifyUrlProblem(req.notifyUrl, { secret: cfg.webhookSecret, allowUnsigned });
    if (problem) throw new OmniError(problem.code, problem.message);
  }
  const outputs = outputOptions(req, task, model.acceptsPrompt);
  const basePrompt = req.prompt ?? ts.prompt;
  const prompt = basePrompt !== undefined && (outputs.language || outputs.translateTo) ? languagePrompt(basePrompt, outputs) : basePrompt;
  // With a TPM quota and no length asked for, chunks short enough to pack the quota's minute (cost/packing.ts).
  const packedS =
    req.chunkSeconds === undefined && cfg.tpm
      ? packedChunkSeconds(ts.policy.targetS, { tpm: cfg.tpm, rpm: cfg.rpm || undefined, model: model.id, region: cfg.region, task, prompt })
      : undefined;
  const chunkSeconds = req.chunkSeconds ?? (packedS !== undefined && packedS < ts.policy.targetS ? packedS : undefined);
  const spec: RunSpec = {
    runId,
    createdAt: now.toISOString(),
    source: req.source,
    destination: req.destination,
    task,
    model: modelName,
    // the entry this run plans, prices and sends by: a worker started without the catalog file uses it
    modelEntry: model,
    protocol: cfg.protocol,
    region: cfg.region,
    ...(prompt !== undefined && { prompt }),
    ...(voice !== undefined && { voice }),
    ...(req.include?.length && { include: req.include }),
    ...(req.exclude?.length && { exclude: req.exclude }),
    ...(req.maxFiles !== undefined && { maxFiles: req.maxFiles }),
    ...(req.budgetMicros !== undefined && { budgetMicros: req.budgetMicros }),
    force: req.force ?? false,
    fingerprint: '',
    ...(chunkSeconds !== undefined && { chunkSeconds }),
    ...(req.overlapSeconds !== undefined && { overlapSeconds: req.overlapSeconds }),
    inputMode: cfg.inputMode,
    ...(req.manifest && { manifest: req.manifest }),
    ...(req.schedule && { schedule: req.schedule }),
    ...(req.notifyUrl && { notifyUrl: req.notifyUrl }),
    ...(req.notifyUrl && req.allowUnsignedWebhooks && { allowUnsignedWebhooks: true }),
    ...outputs,
    ...(req.deadline && { deadline: parseDeadline(req.deadline, now).toISOString() }),
    ...(req.plannedWallS !== undefined && { predictedFinishAt: new Date(now.getTime() + req.plannedWallS * 1000).toISOString() }),
    ...(via && { via }),
    ...(batchFallbackOf(req, via) && { batchFallback: 'realtime' as const }),
  };
  spec.fingerprint = taskFingerprint({
    task,
    model: modelName,
    prompt: spec.prompt,
    voice: spec.voice,
    // the length the user asked for: one packed for the quota is a rate decision, and a run at another
    // --tpm must not redo (and pay again for) every earlier result
    chunkPolicy: {
      ...ts.policy,
      ...(req.chunkSeconds && { targetS: req.chunkSeconds }),
      ...(spec.overlapSeconds !== undefined && { overlapS: spec.overlapSeconds }),
    },
    outputs,
  });
  return spec;
}

/** --via checked against what the Batch API serves: 'batch', or undefined for real time (the default). */
function viaOf(req: RunRequest, ask: BatchAsk): 'batch' | undefined {
  const via = req.via ?? 'realtime';
  if (via === 'auto') {
    // the deadline planner turns auto into batch or realtime (run-options.ts planDeadline): without one there is nothing to decide by
    throw new OmniError(
      'invalid_argument',
      req.deadline === undefined
        ? '--via auto needs --deadline: it sends through Batch what the deadline allows and the rest in real time (or use --via realtime or --via batch)'
        : '--via auto is decided by the deadline planner before the run is built',
    );
  }
  if (via !== 'realtime' && via !== 'batch') throw new OmniError('invalid_argument', `--via ${via}: realtime or batch (or auto, with --deadline)`);
  if (via === 'realtime') return undefined;
  const refusal = batchRefusal(ask);
  if (refusal) throw new OmniError('batch_unsupported', refusal);
  return 'batch';
}

/** --batch-fallback checked: only realtime, only through Batch, only with a deadline to fall back for. */
function batchFallbackOf(req: RunRequest, via: 'batch' | undefined): boolean {
  const fb = req.batchFallback;
  if (fb === undefined) return false;
  if (fb !== 'realtime') throw new OmniError('invalid_argument', `--batch-fallback ${fb}: the only fallback is realtime`);
  if (req.deadline === undefined) {
    throw new OmniError(
      'invalid_argument',
      '--batch-fallback realtime needs --deadline: it sends in real time what a batch cannot answer by the deadline, and without one nothing is late',
    );
  }
  if (via !== 'batch')
    throw new OmniError('invalid_argument', '--batch-fallback realtime needs --via batch (or --via auto, which sets it when it chooses Batch)');
  return true;
}

/** Limits a subtitle option may take: beyond them no player or viewer copes. */
const SUBTITLE_LIMITS: Record<keyof SubtitleLimits, { flag: string; min: number; max: number; integer: boolean }> = {
  maxLineChars: { flag: '--max-line-chars', min: 10, max: 200, integer: true },
  maxLines: { flag: '--max-lines', min: 1, max: 4, integer: true },
  maxCueSeconds: { flag: '--max-cue-seconds', min: 1, max: 60, integer: false },
  maxCps: { flag: '--max-cps', min: 5, max: 60, integer: false },
};

/**
 * The options that shape a run's outputs (language, translation, subtitle limits, names), checked: subtitle
 * limits only for a task that writes subtitles, language and translation only where the model takes a prompt.
 */
function outputOptions(req: RunRequest, task: Task, acceptsPrompt: boolean): Pick<RunSpec, 'language' | 'translateTo' | 'subtitles' | 'outputName'> {
  const refuse = (msg: string) => new OmniError('invalid_argument', msg);
  const cues = writesCues(task);
  const subtitles: SubtitleLimits = {};
  for (const [k, lim] of Object.entries(SUBTITLE_LIMITS) as [keyof SubtitleLimits, (typeof SUBTITLE_LIMITS)[keyof SubtitleLimits]][]) {
    const v = req.subtitles?.[k];
    if (v === undefined) continue;
    if (!cues) throw refuse(`${lim.flag} applies to tasks that write subtitles (caption, transcribe), not ${task}`);
    if (!Number.isFinite(v) || v < lim.min || v > lim.max || (lim.integer && !Number.isInteger(v))) {
      throw refuse(`${lim.flag} ${v}: expected ${lim.integer ? 'a whole number' : 'a number'} from ${lim.min} to ${lim.max}`);
    }
    subtitles[k] = v;
  }
  if ((req.language || req.translateTo) && !acceptsPrompt) {
    throw refuse(
      `--language and --translate-to are told to the model in its prompt; this task's model takes none (caption describes the sound: transcribe subtitles the speech)`,
    );
  }
  return {
    ...(req.language && { language: checkLanguage(req.language, '--language', true) }),
    ...(req.translateTo && { translateTo: checkLanguage(req.translateTo, '--translate-to') }),
    ...(Object.keys(subtitles).length > 0 && { subtitles }),
    ...(req.outputName && { outputName: checkOutputName(req.outputName) }),
  };
}

export async function createRun(
  deps: { cfg: Config; log: Logger; runs: RunStore; queues: Queues; pricing?: PricingOverride },
  req: RunRequest,
  opts: { enqueueScan?: boolean } = {},
): Promise<RunSpec> {
  const warn = (msg: string) => deps.log.warn({ model: req.model, voice: req.voice }, msg);
  const spec = buildRunSpec(req, deps.cfg, newRunId(), new Date(), warn, deps.pricing);
  await deps.runs.create(spec);
  if (opts.enqueueScan ?? true) await deps.queues.scan.add('scan', { runId: spec.runId }, { jobId: jobIds.scan(spec.runId) });
  return spec;
}

/**
 * The destination takes a write (and a delete) before a run is created for it: a probe object under
 * `<destination>/_runs/`, where the run's report will go. An endpoint that refuses connections, a bucket that
 * is not there or credentials that may not write fail here with one coded message, instead of a run whose
 * every file and report fail later. The storage client's own retries apply, so a blink does not refuse a run.
 */
export async function assertWritable(dst: Storage, location: string): Promise<void> {
  const key = `${RUNS_DIR}/write-check-${randomBytes(6).toString('hex')}.tmp`;
  try {
    await dst.putText(key, 'omnibatch checks that it can write here before a run starts; safe to delete\n');
    await dst.delete(key);
  } catch (err) {
    const e = describeError(err);
    throw new OmniError('destination_unwritable', `cannot write to ${location}: ${e.code}: ${e.message}`, { cause: err });
  }
}
