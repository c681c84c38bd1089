/**
 * infer: one chunk -> one streaming request (plus at most one moderation repair) -> chunk result in staging.
 * Exactly once where it matters: a staged result means the request already succeeded, so a redone job
 * (its worker was killed) re-records the same ledger entry (idempotent) instead of paying again.
 */
import path from 'node:path';
import { DelayedError, type Job } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import type { Costs } from '../app/costs.ts';
import { addCost, costOf, type PricingOverride } from '../cost/price.ts';
import { rpmSpacingMs } from '../cost/rpm.ts';
import type { InferPayload } from '../jobs/catalog.ts';
import { finishNotRun, isFileOpen, stagedKey } from '../lifecycle/file-state.ts';
import { enqueueNotify } from '../lifecycle/notifications.ts';
import { type ModelSpec, modelOf, type Via } from '../models/catalog.ts';
import { addUsage, emptyUsage, type ModelClient, type ModelRequest, type ModelResult } from '../models/types.ts';
import { metrics } from '../ops/metrics.ts';
import { assessVerdict, MODERATION_USER_TEXT, parseVerdict, verdictError, verdictRepairRequest } from '../outputs/moderation.ts';
import type { CountField } from '../runs/store.ts';
import type { ChunkResult, RunSpec, StopReason } from '../runs/types.ts';
import { withTempDir } from '../storage/temp.ts';
import type { Storage } from '../storage/types.ts';
import { TASK_SPECS } from '../tasks/catalog.ts';
import { placeInstructions } from '../tasks/system-message.ts';
import { isOmniError, OmniError } from '../util/errors.ts';
import { spentNoTokens } from '../util/failure-codes.ts';
import type { Logger } from '../util/logger.ts';
import { decideInfer, type InferDecision, type InferFacts } from './infer-decide.ts';

export type InferOutcome = { chunk: number; requests: number; reused: boolean } | { skipped: string };

/** The ledger's file identity: a re-planned or retried file's chunks are new chunks (and new money). */
export function ledgerFile(d: InferPayload): string {
  return d.generation ? `${d.fileId}.g${d.generation}` : d.fileId;
}

function attemptToken(job: InferJob): string {
  return `${job.id}#${job.attemptsMade + 1}`;
}

/** A job as the handler reads it. */
export interface InferJob {
  id?: string;
  attemptsMade: number;
  data: InferPayload;
}

/** The run store, as infer uses it: the file's state and the run's stop flag and counters. */
export interface InferRuns {
  /** true while the file is pending (and, when it is not, the run's report is made sure of) */
  isFileOpen(runId: string, fileId: string): Promise<boolean>;
  generation(runId: string, fileId: string): Promise<number>;
  stopReason(runId: string): Promise<StopReason | undefined>;
  stop(runId: string, reason: StopReason, message: string): Promise<boolean>;
  finishNotRun(runId: string, fileId: string, reason: StopReason): Promise<void>;
  count(runId: string, field: CountField, by: number): Promise<void>;
}

/** The ledger, the budget and the TPM bucket, as infer uses them. */
export type InferCosts = Pick<Costs, 'recordChunk' | 'reserve' | 'settle' | 'reserveTokens' | 'settleTokens'>;

export type InferStorage = Pick<Storage, 'getText' | 'putJson' | 'upload' | 'download' | 'presignGet'>;

/** Everything infer touches, narrowed: tests give it in-memory fakes (test/fakes/). */
export interface InferPorts {
  spec(runId: string): Promise<RunSpec>;
  runs: InferRuns;
  costs: InferCosts;
  storage(location: string): InferStorage;
  client: Pick<ModelClient, 'complete'>;
  /**
   * --via batch: the client hands the chunk's line to the Batch API and returns its answer once staged (the
   * job waits delayed meanwhile); answers are priced at the Batch rate, counted when they come, and the
   * moderation repair goes through `repairClient` in real time. The chunk's media is fetched by the client,
   * only when it writes the line; a URL given instead lives `mediaTtlS` (the completion window). `realtime`:
   * a Batch run's line that --batch-fallback sent in real time (its rate, its TPM, and the ledger says so).
   */
  via?: Via;
  repairClient?: Pick<ModelClient, 'complete'>;
  /**
   * --via batch, the poller recording a line's answer: a moderation answer that needs its real-time repair is
   * saved (as any first answer is) and left to the line's job, which makes the repair (RepairLeftToJob).
   */
  repairInJob?: boolean;
  mediaTtlS?: number;
  pricing?: PricingOverride;
  tpm?: number;
  /** with tpm: the RPM spacing, taken with the tokens (startWorkers sets no BullMQ limiter then) */
  rpmSpacingMs?: number | 'stored';
  tmpDir?: string;
  log: Logger;
  /** Puts this job back until `ms` from now (never returns); absent outside a worker. */
  delay?(ms: number): Promise<never>;
  /** After a budgeted chunk settled: the 80% alert, told once per run. */
  budgetSettled(spec: RunSpec, d: InferPayload): Promise<void>;
}

/** Thrown where `repairInJob` says the moderation repair is the job's to make: the first answer is saved. */
export class RepairLeftToJob extends Error {
  constructor() {
    super('the moderation answer needs its real-time repair: left to the line job');
    this.name = 'RepairLeftToJob';
  }
}

/** The ports of one job, over the process's context. */
export function inferPorts(ctx: JobContext, job: Job<InferPayload>): InferPorts {
  const { worker, token } = ctx;
  return {
    spec: (runId) => ctx.spec(runId),
    runs: {
      isFileOpen: (runId, fileId) => isFileOpen(ctx, runId, fileId),
      generation: (runId, fileId) => ctx.runs.generation(runId, fileId),
      stopReason: (runId) => ctx.runs.stopReason(runId),
      stop: (runId, reason, message) => ctx.runs.stop(runId, reason, message),
      finishNotRun: (runId, fileId, reason) => finishNotRun(ctx, runId, fileId, reason),
      count: (runId, field, by) => ctx.runs.count(runId, field, by),
    },
    costs: ctx.costs,
    storage: (location) => ctx.storage(location),
    client: ctx.client,
    pricing: ctx.pricing,
    tpm: ctx.cfg.tpm,
    // --tpm without --rpm: the spacing the workers told --rpm stored (workers/index.ts), not none
    rpmSpacingMs: ctx.cfg.tpm ? (ctx.cfg.rpm ? rpmSpacingMs(ctx.cfg.rpm) : ctx.cfg.rpm === 0 ? undefined : 'stored') : undefined,
    tmpDir: ctx.cfg.tmpDir,
    log: ctx.log,
    ...(worker &&
      token && {
        // This job waits, not the queue: another model's requests (a quota of their own) go on meanwhile.
        async delay(ms: number): Promise<never> {
          await job.moveToDelayed(Date.now() + ms, token);
          throw new DelayedError();
        },
      }),
    async budgetSettled(spec, d) {
      if (spec.notifyUrl && (await ctx.costs.budget.crossed(d.runId, 0.8, spec.budgetMicros))) {
        // Told once per run (crossed() flips a flag atomically); queued, so delivery neither holds up the job nor dies with it.
        await enqueueNotify(ctx, {
          runId: d.runId,
          url: spec.notifyUrl,
          event: 'run.budget_threshold',
          allowUnsigned: spec.allowUnsignedWebhooks === true,
          body: { run_id: d.runId, budget_micros: spec.budgetMicros, fraction: 0.8, totals: await ctx.costs.totals(d.runId) },
        });
      }
    },
  };
}

export async function infer(job: Job<InferPayload>, ctx: JobContext): Promise<InferOutcome> {
  return runInfer(job, inferPorts(ctx, job));
}

/** Reads what the decision needs, in its order: a closed or superseded file reads nothing more. */
async function readFacts(d: InferPayload, spec: RunSpec, p: InferPorts, dst: InferStorage, resultKey: string): Promise<InferFacts> {
  const facts: InferFacts = {
    spec,
    chunk: d,
    pricing: p.pricing,
    tpm: p.tpm,
    canDelay: p.delay !== undefined,
    fileOpen: false,
    superseded: false,
    ...(p.via && { via: p.via }),
  };
  facts.fileOpen = await p.runs.isFileOpen(d.runId, d.fileId);
  if (!facts.fileOpen) return facts;
  facts.superseded = (await p.runs.generation(d.runId, d.fileId)) > (d.generation ?? 0);
  if (facts.superseded) return facts;
  facts.stop = await p.runs.stopReason(d.runId);
  if (facts.stop) return facts;
  const staged = await dst.getText(resultKey);
  if (staged) facts.staged = JSON.parse(staged) as ChunkResult;
  return facts;
}

/** The handler over its ports: asks decideInfer what to do until it is told to finish or to send. */
export async function runInfer(job: InferJob, p: InferPorts): Promise<InferOutcome> {
  const d = job.data;
  const spec = await p.spec(d.runId);
  const dst = p.storage(spec.destination);
  const resultKey = stagedKey(d.runId, d.fileId, d.generation, d.chunk, 'result.json');
  const model = modelOf(spec)!;
  const facts = await readFacts(d, spec, p, dst, resultKey);
  let reservedAt = 0; // when the TPM reservation was asked for (this process's clock)
  for (;;) {
    const next = decideInfer(facts);
    switch (next.kind) {
      case 'skip':
        return { skipped: next.reason };
      case 'not-run':
        await p.runs.finishNotRun(d.runId, d.fileId, next.stop);
        return { skipped: `run stopping (${next.stop})` };
      case 'reuse': {
        const r = next.result;
        await p.costs.recordChunk(d.runId, ledgerFile(d), d.chunk, attemptToken(job), r.usage, r.cost, r.requests, r.via);
        if (next.settleBudget) await p.costs.settle(d.runId, ledgerFile(d), d.chunk, r.cost.amountMicros);
        return { chunk: d.chunk, requests: 0, reused: true };
      }
      case 'unpriced':
        throw new OmniError(
          'budget_unpriced',
          `a budget cannot cover this ${d.kind} chunk: ${model.id} has no ${spec.region} price for part of it (add it with --pricing)`,
        );
      case 'reserve-budget':
        facts.budgetGranted = await p.costs.reserve(d.runId, ledgerFile(d), d.chunk, next.estimateMicros, next.budgetMicros);
        continue;
      case 'stop-budget':
        if (await p.runs.stop(d.runId, 'budget', 'the next request could not be reserved within the budget')) {
          p.log.warn({ budgetMicros: spec.budgetMicros }, 'budget reached: stopping the run');
        }
        await p.runs.finishNotRun(d.runId, d.fileId, 'budget');
        return { skipped: 'budget' };
      case 'reserve-tokens':
        // the job's id marks its tries as one waiter's (a job delayed for tokens keeps its id)
        reservedAt = Date.now();
        facts.tokens = await p.costs.reserveTokens(model.id, next.tokens, next.tpm, {
          rpmSpacingMs: p.rpmSpacingMs,
          output: { tokens: next.outputPrior, task: spec.task },
          ...(job.id && { waiter: job.id }),
        });
        continue;
      case 'wait-tpm':
        return p.delay!(next.delayMs);
      case 'send':
        return sendChunk(job, p, spec, model, dst, resultKey, next, reservedAt);
    }
  }
}

async function sendChunk(
  job: InferJob,
  p: InferPorts,
  spec: RunSpec,
  model: ModelSpec,
  dst: InferStorage,
  resultKey: string,
  next: Extract<InferDecision, { kind: 'send' }>,
  reservedAt: number,
): Promise<InferOutcome> {
  const d = job.data;
  const seconds = d.endS - d.startS;
  const reservation = next.reservation;
  let result: Awaited<ReturnType<typeof runChunk>>;
  try {
    result = await withTempDir(
      `inf-${d.fileId}-${d.chunk}`,
      async (dir) => {
        const media: ModelRequest['media'] =
          spec.inputMode === 'url'
            ? { kind: d.kind, source: { url: await dst.presignGet(d.stagingKey, p.mediaTtlS ?? 3600) }, format: d.format, seconds }
            : { kind: d.kind, source: { file: await localChunk(p, dst, d, path.join(dir, `chunk.${d.format}`)) }, format: d.format, seconds };
        const ts = TASK_SPECS[spec.task];
        const audioFile = ts.wantsAudioOut ? path.join(dir, 'out.wav') : undefined;
        const req: ModelRequest = {
          model: spec.model,
          // moderation: the instructions in a system message where the model takes one, apart from the media
          ...(spec.prompt &&
            model.acceptsPrompt &&
            (spec.task === 'moderate'
              ? placeInstructions(spec.model, { audioOut: Boolean(audioFile) }, spec.prompt, MODERATION_USER_TEXT)
              : { prompt: spec.prompt })),
          media,
          ...(audioFile && { audioOut: { voice: spec.voice ?? model.defaultVoice ?? 'Cherry', file: audioFile } }),
          ...(next.sendMaxOutputTokens && { maxOutputTokens: next.sendMaxOutputTokens }),
        };
        const firstKey = stagedKey(d.runId, d.fileId, d.generation, d.chunk, 'first.json');
        const first: FirstAnswer = {
          load: async () => {
            const raw = await dst.getText(firstKey);
            return raw ? (JSON.parse(raw) as ModelResult) : undefined;
          },
          save: (r) => dst.putJson(firstKey, r),
        };
        const out = await runChunk(p, job, spec, req, first);
        if (out.audioFile) {
          out.chunk.audioKey = stagedKey(d.runId, d.fileId, d.generation, d.chunk, 'audio.wav');
          await dst.upload(out.audioFile, out.chunk.audioKey, 'audio/wav');
        }
        return out;
      },
      { base: p.tmpDir },
    );
  } catch (err) {
    if (reservation && usedNoTokens(err)) await p.costs.settleTokens(model.id, reservation.id, 0).catch(() => undefined);
    throw err;
  }

  // The staged result is the commit point: from here on a redone job pays nothing.
  await dst.putJson(resultKey, result.chunk);
  await p.costs.recordChunk(d.runId, ledgerFile(d), d.chunk, attemptToken(job), result.chunk.usage, result.chunk.cost, result.chunk.requests, result.chunk.via);
  if (spec.budgetMicros !== undefined) {
    await p.costs.settle(d.runId, ledgerFile(d), d.chunk, result.chunk.cost.amountMicros);
    await p.budgetSettled(spec, d);
  }
  if (reservation) {
    const u = result.chunk.usage;
    // dated to when the provider answered, which metered it then: the download, the upload and the
    // provider's own reading of the media lie between the reservation and that
    const admittedAfterMs = result.answeredAt !== undefined ? Math.max(0, result.answeredAt - reservedAt) : 0;
    await p.costs.settleTokens(
      model.id,
      reservation.id,
      u.inputTotal + u.outputTotal,
      { tokens: reservation.outputPrior, actual: u.outputTotal, task: spec.task },
      admittedAfterMs,
    );
  }
  return { chunk: d.chunk, requests: result.chunk.requests, reused: false };
}

/**
 * A request refused before the provider admitted it (the failure table's `billed: false`: a 429, a 5xx or a 4xx
 * at the door) used no tokens of the quota; one that failed after its stream began (cut, timeout) may have been
 * counted, so it keeps its reservation until the window forgets it.
 */
function usedNoTokens(err: unknown): boolean {
  return !isOmniError(err) || spentNoTokens(err.code);
}

async function download(dst: InferStorage, key: string, file: string): Promise<string> {
  await dst.download(key, file);
  return file;
}

/** The chunk as a local file: downloaded now, or (through Batch) by the client when it writes the line. */
function localChunk(p: InferPorts, dst: InferStorage, d: InferPayload, file: string): Promise<string> {
  return p.via === 'batch' ? Promise.resolve(file) : download(dst, d.stagingKey, file);
}

/**
 * One request, counted for the run and timed for the metrics. A Batch line is counted when its answer
 * comes: its job asks again each time it wakes.
 */
async function send(p: InferPorts, spec: RunSpec, runId: string, req: ModelRequest, client = p.client): Promise<ModelResult> {
  const batched = client === p.client && p.via === 'batch';
  if (!batched) await p.runs.count(runId, 'requests', 1);
  const started = performance.now();
  const observe = (outcome: string) =>
    metrics().requestObserved({ model: spec.model, protocol: spec.protocol, outcome, seconds: (performance.now() - started) / 1000 });
  try {
    const r = await client.complete(req);
    if (batched) await p.runs.count(runId, 'requests', 1);
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

/** The request itself, the moderation repair, and a provider refusal recorded as a result. */
async function runChunk(
  p: InferPorts,
  job: InferJob,
  spec: RunSpec,
  req: ModelRequest,
  first: FirstAnswer,
): Promise<{ chunk: ChunkResult; audioFile?: string; answeredAt?: number }> {
  const d = job.data;
  const base = { index: d.chunk, startS: d.startS, endS: d.endS, attempts: job.attemptsMade + 1 };
  const saved = spec.task === 'moderate' ? await first.load() : undefined;
  let r: ModelResult;
  try {
    r = saved ?? (await send(p, spec, d.runId, req));
  } catch (err) {
    if (isOmniError(err) && err.code === 'content_blocked') {
      const zero = costOf(emptyUsage(), spec.model, spec.region, p.pricing, p.via);
      return {
        chunk: {
          ...base,
          text: '',
          usage: emptyUsage(),
          cost: zero,
          requests: 1,
          providerBlocked: true,
          ...(p.via && { via: p.via }),
          ...(spec.task === 'moderate' && { verdict: { provider_blocked: true } }),
        },
      };
    }
    throw err;
  }
  let usage = r.usage;
  // a first answer through Batch is priced at the Batch rate; a repair is a real-time request
  let cost = costOf(r.usage, spec.model, spec.region, p.pricing, p.via);
  let text = r.text;
  let requests = 1;
  let verdict: unknown;
  if (spec.task === 'moderate') {
    let parsed = parseVerdict(text);
    const answers = [r.text];
    if (!parsed.ok) {
      if (!saved) await first.save(r);
      if (p.repairInJob) throw new RepairLeftToJob();
      // One repair: a cheap text-only request that turns the first answer, whole, into the required JSON. It
      // is priced on its own (text-only input has its own output price) and added to the chunk.
      const fix = verdictRepairRequest(parsed, text, spec.prompt);
      const repair = await send(
        p,
        spec,
        d.runId,
        {
          model: spec.model,
          ...placeInstructions(spec.model, { audioOut: false }, fix.instructions, fix.userText),
          ...(req.maxOutputTokens && { maxOutputTokens: req.maxOutputTokens }),
        },
        p.repairClient ?? p.client,
      );
      answers.push(repair.text);
      requests++;
      usage = addUsage(usage, repair.usage);
      cost = addCost(cost, costOf(repair.usage, spec.model, spec.region, p.pricing));
      parsed = parseVerdict(repair.text);
      if (!parsed.ok) {
        // Both requests were paid: the ledger says so even though the file fails.
        await p.costs.recordChunk(d.runId, ledgerFile(d), d.chunk, attemptToken(job), usage, cost, requests, p.via);
        throw verdictError(parsed);
      }
      text = repair.text;
    }
    verdict = assessVerdict(parsed, { answers, repaired: answers.length > 1 });
  }
  metrics().tokens(usage, spec.model);
  metrics().cost(cost, spec.model);
  return {
    chunk: {
      ...base,
      text,
      usage,
      cost,
      requests,
      requestId: r.requestId,
      ...(verdict !== undefined && { verdict }),
      ...(r.audio && { audioSeconds: r.audio.seconds }),
      ...(p.via && { via: p.via }),
    },
    ...(r.audio && { audioFile: r.audio.file }),
    // a first answer saved by an earlier attempt was metered then, not for this attempt's reservation
    ...(!saved && r.answeredAt !== undefined && { answeredAt: r.answeredAt }),
  };
}
