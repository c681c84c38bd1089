/**
 * Schedules are BullMQ job schedulers on the scan queue. The run request is kept in a Redis hash by name; each
 * firing creates a new run from it, and that run skips every object whose result already exists for the same
 * ETag and task fingerprint, so it processes only what is new or changed. A firing while the schedule's last run
 * is still going is skipped (RunStore.create), and a firing's run id derives from its job id, so a redone firing
 * continues its run instead of starting another.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Queues } from '../jobs/queues.ts';
import { OmniError } from '../util/errors.ts';
import type { RunRequest } from './run.ts';

export interface ScheduleSpec {
  name: string;
  cron: string;
  tz?: string;
  request: RunRequest;
}

const key = (prefix: string) => `${prefix}:schedules`;

/**
 * The run id of one firing, a pure function of its job: the firing time (BullMQ names a scheduler's jobs
 * `repeat:<scheduler>:<millis>`; else the job's creation time) and a hash of the job id, in newRunId's format.
 */
export function scheduledRunId(jobId: string, timestampMs: number): string {
  const fired = Number(/:(\d{10,})$/.exec(jobId)?.[1] ?? timestampMs);
  const stamp = new Date(fired)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${createHash('sha256').update(jobId).digest('hex').slice(0, 6)}`;
}

export async function addSchedule(deps: { redis: Redis; queues: Queues; keyPrefix: string }, s: ScheduleSpec): Promise<void> {
  if (!/^[\w.-]+$/.test(s.name)) throw new OmniError('invalid_argument', 'schedule names are letters, digits, ".", "_" and "-"');
  await deps.redis.hset(key(deps.keyPrefix), s.name, JSON.stringify(s));
  // BullMQ types the scheduler id as the job name; any string is accepted at run time.
  await deps.queues.scan.upsertJobScheduler(
    `schedule.${s.name}` as 'scan',
    { pattern: s.cron, ...(s.tz && { tz: s.tz }) },
    { name: 'scan', data: { schedule: s.name } },
  );
}

export async function getSchedule(deps: { redis: Redis; keyPrefix: string }, name: string): Promise<ScheduleSpec | undefined> {
  const raw = await deps.redis.hget(key(deps.keyPrefix), name);
  return raw ? (JSON.parse(raw) as ScheduleSpec) : undefined;
}

export async function listSchedules(deps: { redis: Redis; queues: Queues; keyPrefix: string }): Promise<(ScheduleSpec & { next?: number })[]> {
  const all = await deps.redis.hgetall(key(deps.keyPrefix));
  const schedulers = await deps.queues.scan.getJobSchedulers(0, -1, true);
  const next = new Map(schedulers.map((j) => [j.key, j.next]));
  return Object.values(all).map((raw) => {
    const s = JSON.parse(raw) as ScheduleSpec;
    return { ...s, next: next.get(`schedule.${s.name}`) };
  });
}

export async function removeSchedule(deps: { redis: Redis; queues: Queues; keyPrefix: string }, name: string): Promise<boolean> {
  const removed = await deps.queues.scan.removeJobScheduler(`schedule.${name}`);
  const n = await deps.redis.hdel(key(deps.keyPrefix), name);
  return removed || n > 0;
}
