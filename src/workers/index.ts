/**
 * The worker bootstrap: one BullMQ Worker per stage, an exhaustive handler map, and the one place where
 * errors become queue behaviour, as failure-decide.ts decides from the failure table: a rate limit ->
 * worker.rateLimit (no attempt spent), weather -> throw (backoff), permanent or out of attempts -> the file fails
 * with its code (a re-plan first where the table says so) and the job becomes UnrecoverableError.
 */
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Context, JobContext } from '../app/context.ts';
import { rpmSpacingMs } from '../cost/rpm.ts';
import { type Payloads, STAGES, type Stage } from '../jobs/catalog.ts';
import { notifyBackoff, QUEUE_POLICY } from '../jobs/policy.ts';
import { queueName, redisConnection } from '../jobs/queues.ts';
import { childGuards, killAllChildren } from '../media/ffmpeg.ts';
import { type Stage as MetricStage, metrics } from '../ops/metrics.ts';
import { describeError, isOmniError, OmniError } from '../util/errors.ts';
import { redactErrorInPlace } from '../util/redact.ts';
import { batchLine } from './batch-line.ts';
import { batchPoll } from './batch-poll.ts';
import { batchSubmit } from './batch-submit.ts';
import { decideFailure, isFinalAttempt } from './failure-decide.ts';
import { type FailureHook, failureHooks, onFinalFailure } from './failure-hooks.ts';
import { finalize } from './finalize.ts';
import { infer } from './infer.ts';
import { notify } from './notify.ts';
import { prepare } from './prepare.ts';
import { report } from './report.ts';
import { scan } from './scan.ts';

export { rpmSpacingMs };

export type Handler<S extends Stage> = (job: Job<Payloads[S]>, ctx: JobContext) => Promise<unknown>;
const handlers: { [S in Stage]: Handler<S> } = {
  scan,
  prepare,
  infer,
  finalize,
  report,
  notify,
  'batch-line': batchLine,
  'batch-submit': batchSubmit,
  'batch-poll': batchPoll,
};

export interface WorkerOptions {
  stages?: readonly Stage[];
  prepareConcurrency?: number;
  inferConcurrency?: number;
  /** this process's share of the global infer limit (default: all of it) */
  inferWorkerConcurrency?: number;
  finalizeConcurrency?: number;
  /** global requests per minute across all workers */
  rpm?: number;
}

export interface RunningWorkers {
  workers: Worker[];
  close(timeoutMs?: number): Promise<void>;
}

export async function startWorkers(ctx: Context, opts: WorkerOptions = {}): Promise<RunningWorkers> {
  const stages = opts.stages ?? STAGES;
  // Detected (and a missing guard logged) once, at start, in this worker's log rather than a job's.
  childGuards(ctx.log);
  // The API's limits are per account, not per process: both are global across every worker on the queue, and
  // a worker changes them only when told to (a flag or variable), never to its defaults: a worker started
  // without --rpm must not lift the limit the others run under.
  const asked = opts.inferConcurrency ?? (ctx.cfg.explicit.includes('inferConcurrency') ? ctx.cfg.inferConcurrency : undefined);
  let inferConcurrency = asked ?? ctx.cfg.inferConcurrency;
  const rpm = opts.rpm ?? ctx.cfg.rpm;
  if (stages.includes('infer')) {
    const current = await ctx.queues.infer.getGlobalConcurrency();
    if (asked !== undefined || current === null) await ctx.queues.infer.setGlobalConcurrency(inferConcurrency);
    else inferConcurrency = current;
    // With --tpm, infer takes the request slot together with the tokens (app/costs.ts reserveTokens): a
    // BullMQ limiter would spend a slot on every job start, also on the starts that only learn the token
    // window is full, and starve the other model's requests.
    if (rpm && ctx.cfg.tpm && ctx.cfg.rpm === rpm) await ctx.queues.infer.removeGlobalRateLimit();
    else if (rpm) await ctx.queues.infer.setGlobalRateLimit(1, rpmSpacingMs(rpm));
    else if (rpm === 0) await ctx.queues.infer.removeGlobalRateLimit();
    // Kept in Redis like BullMQ's limiter, for the workers started with --tpm alone (infer.ts): they take
    // their request slots at it, so a fleet's spacing holds whichever worker was told it.
    if (rpm) await ctx.costs.storeRpmSpacing(rpmSpacingMs(rpm));
    else if (rpm === 0) await ctx.costs.storeRpmSpacing(0);
  }
  const concurrency: Record<Stage, number> = {
    scan: 2,
    prepare: opts.prepareConcurrency ?? ctx.cfg.prepareConcurrency,
    // A process may hold fewer requests than the account allows (its memory, its share when N workers scale out).
    infer: Math.min(inferConcurrency, opts.inferWorkerConcurrency ?? ctx.cfg.inferWorkerConcurrency ?? inferConcurrency),
    finalize: opts.finalizeConcurrency ?? ctx.cfg.finalizeConcurrency,
    report: 2,
    notify: 4,
    // A line job stages one request line (a download and a base64 encode) and waits delayed: no request in flight.
    'batch-line': opts.finalizeConcurrency ?? ctx.cfg.finalizeConcurrency,
    // one packer at a time across every worker (below): two would race to create a batch for the same input
    'batch-submit': 1,
    'batch-poll': 4,
  };
  if (stages.includes('batch-submit')) await ctx.queues['batch-submit'].setGlobalConcurrency(1);
  const workers: Worker[] = [];
  const lost = new Set<Promise<void>>();
  // Aborted when shutdown gives up waiting: the in-flight jobs' children (ffmpeg) are killed, the jobs handed back.
  const shutdown = new AbortController();
  for (const stage of stages) {
    const worker: Worker = new Worker(
      queueName(stage),
      (job, token, signal) => processJob(stage, job as Job<never>, ctx, worker, token, signal ? AbortSignal.any([shutdown.signal, signal]) : shutdown.signal),
      {
        connection: redisConnection(ctx.cfg.redisUrl),
        prefix: ctx.cfg.queuePrefix,
        concurrency: concurrency[stage],
        lockDuration: ctx.cfg.lockDurationMs,
        maxStalledCount: QUEUE_POLICY[stage].maxStalledCount,
        // A killed worker's job comes back within about one lock duration.
        stalledInterval: Math.max(500, Math.floor(ctx.cfg.lockDurationMs / 2)),
        autorun: true,
        name: `omnibatch-${stage}`,
        // used only by jobs whose backoff type asks for it (notify: a receiver's Retry-After)
        settings: { backoffStrategy: notifyBackoff },
      },
    );
    worker.on('error', (err) => ctx.log.error({ stage, err: asError(err) }, 'worker error'));
    worker.on('failed', (job, err) => {
      const p = onFailedEvent(stage, job, err, ctx).finally(() => lost.delete(p));
      lost.add(p);
    });
    workers.push(worker);
  }
  return {
    workers,
    async close(timeoutMs = 30_000) {
      // Stop taking jobs; let in-flight ones finish, or hand them back (stalled) after the timeout.
      const done = Promise.all(workers.map((w) => w.close()));
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      if ((await Promise.race([done, timer])) === 'timeout') {
        ctx.log.warn({ timeoutMs }, 'in-flight jobs did not finish in time: handing them back');
        shutdown.abort(new OmniError('worker_shutdown', 'the worker shut down before the job finished'));
        await Promise.all(workers.map((w) => w.close(true)));
      }
      await Promise.allSettled([...lost]);
      await Promise.all(workers.map((w) => w.disconnect().catch(() => undefined)));
      // Nothing this worker started outlives it (a child of a job BullMQ stopped waiting for, say).
      const killed = killAllChildren();
      if (killed) ctx.log.warn({ killed }, 'killed child processes left at shutdown');
    },
  };
}

async function processJob<S extends Stage>(
  stage: S,
  job: Job<Payloads[S]>,
  ctx: Context,
  worker: Worker,
  token?: string,
  signal?: AbortSignal,
): Promise<unknown> {
  const data = job.data as Partial<Payloads['infer']>;
  const log = ctx.log.child({ stage, jobId: job.id, runId: data.runId, key: data.key, chunk: data.chunk });
  const jctx: JobContext = { ...ctx, log, worker, token, signal };
  const m = metrics();
  const mstage = stage as MetricStage;
  const ended = m.jobStarted(mstage);
  try {
    const result = await (handlers[stage] as Handler<S>)(job, jctx);
    m.jobFinished(mstage, result && typeof result === 'object' && 'skipped' in result ? 'skipped' : 'completed');
    return result;
  } catch (err) {
    const e = describeError(err);
    const decision = decideFailure({
      errorName: (err as Error)?.name,
      code: e.code,
      attemptsMade: job.attemptsMade,
      attempts: job.opts.attempts,
      retryAfterMs: isOmniError(err) ? err.retryAfterMs : undefined,
    });
    if (decision.kind === 'pass-through') throw err;
    redactErrorInPlace(err); // BullMQ keeps the message and stack of every failed attempt in Redis
    if (decision.kind === 'rate-limit') {
      log.warn({ code: e.code, waitMs: decision.waitMs }, 'rate limited: pausing the queue');
      await worker.rateLimit(decision.waitMs);
      throw Worker.RateLimitError();
    }
    if (decision.kind === 'retry') {
      log.warn({ code: e.code, attempt: job.attemptsMade + 1, of: job.opts.attempts ?? 1, err: asError(err) }, 'attempt failed: will retry');
      m.jobFinished(mstage, 'retried');
      m.retry(mstage, e.code);
      // a run's retries are its requests' and files': a webhook delivery retried after the report is not one
      if (data.runId && stage !== 'notify') await ctx.runs.count(data.runId, 'retries', 1);
      throw err;
    }
    const rescued = decision.replan ? await (failureHooks[stage] as FailureHook<S>).rescue?.(job, jctx, e.code) : undefined;
    if (rescued) {
      log.warn({ code: e.code, err: asError(err) }, rescued.note);
      m.jobFinished(mstage, 'retried');
      throw new UnrecoverableError(`${e.code}: ${rescued.outcome}`);
    }
    log.error({ code: e.code, err: asError(err) }, 'failed');
    m.jobFinished(mstage, 'failed');
    await onFinalFailure(stage, job, jctx, e.code, e.message, decision.stopRun);
    throw new UnrecoverableError(`${e.code}: ${e.message}`);
  } finally {
    ended();
  }
}

/**
 * BullMQ fails some jobs without calling the processor: a job that stalled more than maxStalledCount times (a
 * file that crashes or OOMs its worker every time). Their file must still end, or the run never does. Jobs
 * the processor failed itself (UnrecoverableError with our code, or a re-plan) were handled there; and failing
 * a file twice is a no-op anyway.
 */
async function onFailedEvent(stage: Stage, job: Job | undefined, err: Error, ctx: Context): Promise<void> {
  if (!job) return;
  const byBullmq = /more than allowable limit/i.test(err?.message ?? '');
  // A worker lost mid-job is weather until the job's attempts are spent (BullMQ has counted this attempt already).
  const final = Boolean(job.finishedOn) || isFinalAttempt({ code: 'worker_shutdown', attemptsMade: job.attemptsMade - 1, attempts: job.opts.attempts });
  if (!final || (!byBullmq && err?.name === 'UnrecoverableError')) return;
  const log = ctx.log.child({ stage, jobId: job.id, runId: (job.data as { runId?: string }).runId });
  try {
    log.error({ code: 'worker_lost', err: asError(err) }, 'failed without running to the end: the file fails');
    await onFinalFailure(stage, job, { ...ctx, log }, 'worker_lost', `the job's worker was lost (${err?.message ?? 'unknown'})`, false);
  } catch (e) {
    log.error({ err: asError(e) }, 'could not record a lost job');
  }
}

/** What pino's `err` serializer takes: an Error (a string there was logged as {"0":"n","1":"o",...}). */
function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
