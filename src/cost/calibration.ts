/**
 * Output tokens learnt from the bill: how far the model's real answers run from the task's prior
 * (estimate.ts OUTPUT_PRIORS), per model and task, from the runs already billed. PURE parts, and two Redis calls.
 *
 * Why (issue 22): on a clean six-file speech set the estimate was 21-29% above the bill. Measured, the input
 * side was exact (audio tokens within 0.4%: the 1-s minimum and rounding are modelled); the whole error was
 * output tokens: the captioner prior expects 60 + 4/s tokens a request (about 130 on that set), the service
 * answered about 40. No fixed prior can be right for every deployment of every model, so each finished run adds
 * what it was billed for output and what the prior expected for the same requests and seconds; later estimates
 * (each file's at prepare, so the run's `cost.estimated`) scale the prior by observed / expected once enough
 * requests back it. The band scales with it.
 */
import type { Redis } from 'ioredis';
import type { Task } from '../tasks/catalog.ts';
import { OUTPUT_PRIORS } from './estimate.ts';

/** Requests a calibration must rest on before it is used. */
export const MIN_CALIBRATION_REQUESTS = 5;
/** A scale is kept within this factor of the prior: one odd run cannot make estimates absurd. */
const MAX_SCALE = 20;

export interface Calibration {
  /** output text tokens billed */
  observed: number;
  /** output text tokens the expected prior gave for the same requests and seconds */
  expected: number;
  requests: number;
}

/** What the task's expected prior says `requests` requests over `seconds` of media produce. PURE. */
export function priorOutput(task: Task, requests: number, seconds: number): number {
  const p = OUTPUT_PRIORS[task].expected;
  return requests * p.perRequest + seconds * p.perSecond;
}

/** The factor to scale the priors by, or undefined while too few requests back it. PURE. */
export function outputScale(c: Calibration | undefined): number | undefined {
  if (!c || c.requests < MIN_CALIBRATION_REQUESTS || c.expected <= 0) return undefined;
  return Math.min(MAX_SCALE, Math.max(1 / MAX_SCALE, c.observed / c.expected));
}

const key = (prefix: string, model: string, task: Task) => `${prefix}:calibration:${model}:${task}`;

/** Adds one finished run (once: a redone report job finds its marker and adds nothing). */
export async function addRun(redis: Redis, prefix: string, runId: string, model: string, task: Task, run: Calibration, retentionS: number): Promise<void> {
  if (run.requests <= 0) return;
  const first = await redis.set(`${prefix}:calibration:run:${runId}`, '1', 'EX', Math.max(60, retentionS), 'NX');
  if (!first) return;
  await redis
    .multi()
    .hincrbyfloat(key(prefix, model, task), 'observed', run.observed)
    .hincrbyfloat(key(prefix, model, task), 'expected', run.expected)
    .hincrbyfloat(key(prefix, model, task), 'requests', run.requests)
    .exec();
}

export async function readCalibration(redis: Redis, prefix: string, model: string, task: Task): Promise<Calibration | undefined> {
  const h = await redis.hgetall(key(prefix, model, task));
  if (!h.requests) return undefined;
  return { observed: Number(h.observed), expected: Number(h.expected), requests: Number(h.requests) };
}

/**
 * The scale for a command that has no Redis connection of its own (`estimate`): one short-lived connection,
 * and no calibration (the priors as they are) when Redis cannot be reached within a second.
 */
export async function readScaleOnce(redisUrl: string, prefix: string, model: string, task: Task): Promise<number | undefined> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return outputScale(await readCalibration(redis, prefix, model, task));
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** Where a context keeps its calibrations (the run store's prefix, app/context.ts). */
export const calibrationPrefix = (queuePrefix: string): string => `${queuePrefix}:omni`;
