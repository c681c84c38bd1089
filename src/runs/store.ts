/**
 * Run state in Redis: the spec, per-file status and counters. Every transition is one Lua script, so it
 * is atomic across any number of workers and idempotent: a file becomes terminal once, however often a
 * redone job reports it, and exactly one caller learns that the run has just ended.
 */
import type { Redis } from 'ioredis';
import { FILE_STATUSES, type FileState, type FileStatus, type RunCounts, type RunSpec, type RunState, type StopReason } from './types.ts';

const TERMINAL_LUA = "local t = { succeeded = 1, failed = 1, skipped = 1, not_run = 1 }";

// KEYS: fstatus, files, counts, state   ARGV: fileId, status, fileJson
const TRANSITION = `${TERMINAL_LUA}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return -1 end
if t[cur] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
local terminal = redis.call('HINCRBY', KEYS[3], 'terminal', 1)
local total = tonumber(redis.call('HGET', KEYS[3], 'total') or '0')
if redis.call('HGET', KEYS[4], 'scanDone') == '1' and terminal >= total then
  if redis.call('HSETNX', KEYS[4], 'ended', '1') == 1 then return 2 end
end
return 1`;

// KEYS: fstatus, files, counts   ARGV: fileId, fileJson, maxFiles (0 = none)
const REGISTER = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local max = tonumber(ARGV[3])
if max > 0 and tonumber(redis.call('HGET', KEYS[3], 'total') or '0') >= max then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], 'pending')
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'total', 1)
return 1`;

// KEYS: counts, state
const SCAN_DONE = `
redis.call('HSET', KEYS[2], 'scanDone', '1')
local terminal = tonumber(redis.call('HGET', KEYS[1], 'terminal') or '0')
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
if terminal >= total and redis.call('HSETNX', KEYS[2], 'ended', '1') == 1 then return 1 end
return 0`;

// KEYS: fstatus, files, counts, state   ARGV: fileId   (failed -> pending, for `retry`)
const REOPEN = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'failed' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'pending')
redis.call('HINCRBY', KEYS[3], 'failed', -1)
redis.call('HINCRBY', KEYS[3], 'terminal', -1)
redis.call('HDEL', KEYS[4], 'ended')
return 1`;

export type CountField = 'requests' | 'retries' | 'media_ms' | 'est_micros' | 'est_low_micros' | 'est_high_micros';

/** How long a finished run's state stays in Redis (retry, status and the dashboard need it a while). */
export const RUN_RETENTION_S = 30 * 24 * 3600;

export class RunStore {
  constructor(readonly redis: Redis, readonly prefix: string) {}

  private k(runId: string, part: string): string {
    return `${this.prefix}:run:${runId}:${part}`;
  }

  async create(spec: RunSpec): Promise<void> {
    const m = this.redis.multi();
    m.set(this.k(spec.runId, 'spec'), JSON.stringify(spec));
    m.hset(this.k(spec.runId, 'state'), { status: 'running', scanDone: '0', generation: '0' });
    m.hset(this.k(spec.runId, 'counts'), { total: 0, terminal: 0 });
    m.zadd(`${this.prefix}:runs`, Date.parse(spec.createdAt), spec.runId);
    await m.exec();
  }

  async spec(runId: string): Promise<RunSpec | undefined> {
    const raw = await this.redis.get(this.k(runId, 'spec'));
    return raw ? (JSON.parse(raw) as RunSpec) : undefined;
  }

  async state(runId: string): Promise<RunState | undefined> {
    const [spec, state, counts] = await Promise.all([
      this.spec(runId),
      this.redis.hgetall(this.k(runId, 'state')),
      this.redis.hgetall(this.k(runId, 'counts')),
    ]);
    if (!spec) return undefined;
    const n = (k: string) => Number(counts[k] ?? 0);
    const c: RunCounts = { total: n('total'), succeeded: n('succeeded'), failed: n('failed'), skipped: n('skipped'), not_run: n('not_run'),
      terminal: n('terminal'), media_ms: n('media_ms'), requests: n('requests'), retries: n('retries'),
      est_micros: n('est_micros'), est_low_micros: n('est_low_micros'), est_high_micros: n('est_high_micros') };
    return {
      spec,
      status: (state.status ?? 'running') as RunState['status'],
      scanDone: state.scanDone === '1',
      stopReason: state.stopReason as StopReason | undefined,
      stopMessage: state.stopMessage,
      endedAt: state.endedAt,
      generation: Number(state.generation ?? 0),
      counts: c,
    };
  }

  async listRuns(limit = 50): Promise<string[]> {
    return this.redis.zrevrange(`${this.prefix}:runs`, 0, limit - 1);
  }

  /** 1 registered, 0 already known, -1 over --max-files */
  async registerFile(runId: string, fileId: string, file: FileState, maxFiles = 0): Promise<1 | 0 | -1> {
    const r = await this.redis.eval(REGISTER, 3, this.k(runId, 'fstatus'), this.k(runId, 'files'), this.k(runId, 'counts'),
      fileId, JSON.stringify(file), String(maxFiles));
    return Number(r) as 1 | 0 | -1;
  }

  /** Makes a file terminal once. Returns 'ended' when this transition ended the run. */
  async finishFile(runId: string, fileId: string, file: FileState): Promise<'ended' | 'done' | 'already' | 'unknown'> {
    const r = Number(await this.redis.eval(TRANSITION, 4, this.k(runId, 'fstatus'), this.k(runId, 'files'), this.k(runId, 'counts'),
      this.k(runId, 'state'), fileId, file.status, JSON.stringify(file)));
    return r === 2 ? 'ended' : r === 1 ? 'done' : r === 0 ? 'already' : 'unknown';
  }

  async fileStatus(runId: string, fileId: string): Promise<FileStatus | undefined> {
    return ((await this.redis.hget(this.k(runId, 'fstatus'), fileId)) ?? undefined) as FileStatus | undefined;
  }

  async file(runId: string, fileId: string): Promise<FileState | undefined> {
    const raw = await this.redis.hget(this.k(runId, 'files'), fileId);
    return raw ? (JSON.parse(raw) as FileState) : undefined;
  }

  /** All files, streamed with HSCAN (constant memory for any run size). */
  async *files(runId: string): AsyncGenerator<[string, FileState]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.k(runId, 'files'), cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) yield [flat[i], JSON.parse(flat[i + 1]) as FileState];
    } while (cursor !== '0');
  }

  /** Returns true when marking the scan done ended the run (no files, or all already terminal). */
  async scanDone(runId: string): Promise<boolean> {
    return Number(await this.redis.eval(SCAN_DONE, 2, this.k(runId, 'counts'), this.k(runId, 'state'))) === 1;
  }

  async count(runId: string, field: CountField, by: number): Promise<void> {
    if (by) await this.redis.hincrby(this.k(runId, 'counts'), field, Math.round(by));
  }

  /** Asks every job of the run to stop (budget, cancel, auth); the first reason wins. */
  async stop(runId: string, reason: StopReason, message: string): Promise<boolean> {
    const first = await this.redis.hsetnx(this.k(runId, 'state'), 'stopReason', reason);
    if (first) await this.redis.hset(this.k(runId, 'state'), { stopMessage: message, status: 'stopping' });
    return first === 1;
  }

  async stopReason(runId: string): Promise<StopReason | undefined> {
    return ((await this.redis.hget(this.k(runId, 'state'), 'stopReason')) ?? undefined) as StopReason | undefined;
  }

  /** The run's final status; its state then expires after `retentionS` (the report in the bucket outlives it). */
  async setFinal(runId: string, status: RunState['status'], retentionS = RUN_RETENTION_S): Promise<void> {
    await this.redis.hset(this.k(runId, 'state'), { status, endedAt: new Date().toISOString() });
    const m = this.redis.multi();
    for (const key of this.keys(runId)) m.expire(key, retentionS);
    await m.exec();
  }

  /** For `retry`: failed files back to pending; returns their ids and the new generation. */
  async reopenFailed(runId: string): Promise<{ fileIds: string[]; generation: number }> {
    const ids: string[] = [];
    for await (const [id, f] of this.files(runId)) if (f.status === 'failed') ids.push(id);
    const reopened: string[] = [];
    for (const id of ids) {
      const r = await this.redis.eval(REOPEN, 4, this.k(runId, 'fstatus'), this.k(runId, 'files'), this.k(runId, 'counts'), this.k(runId, 'state'), id);
      if (Number(r) === 1) reopened.push(id);
    }
    const generation = await this.redis.hincrby(this.k(runId, 'state'), 'generation', 1);
    if (reopened.length) await this.redis.hset(this.k(runId, 'state'), { status: 'running' });
    await this.redis.hdel(this.k(runId, 'state'), 'endedAt');
    return { fileIds: reopened, generation };
  }

  /** Keys holding this run's state (for tests and cleanup). */
  keys(runId: string): string[] {
    return ['spec', 'state', 'counts', 'files', 'fstatus'].map((p) => this.k(runId, p));
  }
}

export { FILE_STATUSES };
