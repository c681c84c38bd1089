/**
 * Run state in Redis: the spec, per-file status and counters. Every transition is one Lua script, so it
 * is atomic across any number of workers and idempotent: a file becomes terminal once, however often a
 * redone job reports it, and exactly one caller learns that the run has just ended.
 */
import type { Redis } from 'ioredis';
import { type LuaScript, runLua } from '../cost/lua/run.ts';
import { installModel } from '../models/catalog.ts';
import { redactText } from '../util/redact.ts';
import { FILE_STATUSES, type FileReview, type FileState, type FileStatus, type RunCounts, type RunSpec, type RunState, type StopReason } from './types.ts';

const TERMINAL_LUA = 'local t = { succeeded = 1, failed = 1, skipped = 1, not_run = 1 }';

// KEYS: fstatus, files, counts, state   ARGV: fileId, status, fileJson
const TRANSITION: LuaScript = {
  name: 'omnibatchRunTransition',
  numberOfKeys: 4,
  lua: `${TERMINAL_LUA}
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
return 1`,
};

// KEYS: fstatus, files, counts   ARGV: fileId, fileJson, maxFiles (0 = none)
const REGISTER: LuaScript = {
  name: 'omnibatchRunRegister',
  numberOfKeys: 3,
  lua: `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local max = tonumber(ARGV[3])
if max > 0 and tonumber(redis.call('HGET', KEYS[3], 'total') or '0') >= max then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], 'pending')
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'total', 1)
return 1`,
};

// KEYS: counts, state
const SCAN_DONE: LuaScript = {
  name: 'omnibatchRunScanDone',
  numberOfKeys: 2,
  lua: `
redis.call('HSET', KEYS[2], 'scanDone', '1')
local terminal = tonumber(redis.call('HGET', KEYS[1], 'terminal') or '0')
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
if terminal >= total and redis.call('HSETNX', KEYS[2], 'ended', '1') == 1 then return 1 end
return 0`,
};

// KEYS: fstatus, files, counts, state, gen   ARGV: fileId, fileJson   (failed or not run -> pending, for `retry`)
// -> the file's new generation (0: not reopened). The generation moves in the same step, so a reopened file is
// never pending at the generation whose jobs already ran.
const REOPEN: LuaScript = {
  name: 'omnibatchRunReopen',
  numberOfKeys: 5,
  lua: `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur ~= 'failed' and cur ~= 'not_run' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'pending')
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[3], cur, -1)
redis.call('HINCRBY', KEYS[3], 'terminal', -1)
redis.call('HDEL', KEYS[4], 'ended')
return redis.call('HINCRBY', KEYS[5], ARGV[1], 1)`,
};

// KEYS: spec, state, counts, runs, schedule-runs   ARGV: specJson, runId, score, schedule ('' = none), prefix
// -> 1 created, 0 already created (the same runId: a redone firing), -1 the schedule's last run is still going.
// One script, so two firings of one schedule can never both find the previous run ended and both start.
const CREATE: LuaScript = {
  name: 'omnibatchRunCreate',
  numberOfKeys: 5,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, ''} end
if ARGV[4] ~= '' then
  local last = redis.call('HGET', KEYS[5], ARGV[4])
  if last then
    local st = redis.call('HGET', ARGV[5] .. ':run:' .. last .. ':state', 'status')
    if st == 'running' or st == 'stopping' then return {-1, last} end
  end
  redis.call('HSET', KEYS[5], ARGV[4], ARGV[2])
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'status', 'running', 'scanDone', '0', 'generation', '0')
redis.call('HSET', KEYS[3], 'total', 0, 'terminal', 0)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
return {1, ''}`,
};

// KEYS: replan claim (file + the generation being replaced), generations   ARGV: fileId, from, ttlS
// -> {1 first claimant | 0, the generation to prepare (0: the file has moved past it, nothing to do)}
const REPLAN: LuaScript = {
  name: 'omnibatchRunReplan',
  numberOfKeys: 2,
  lua: `
local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local g = tonumber(redis.call('GET', KEYS[1]) or '0')
if g > 0 then
  if cur > g then return {0, 0} end
  return {0, g}
end
if cur > tonumber(ARGV[2]) then return {0, 0} end
g = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SET', KEYS[1], g, 'EX', ARGV[3])
return {1, g}`,
};

// KEYS: estimated, counts   ARGV: fileId, mediaMs, est, low, high, requests, unpriced (0|1)
// (a file's plan counts once, however often it is planned)
const ADD_ESTIMATE: LuaScript = {
  name: 'omnibatchRunAddEstimate',
  numberOfKeys: 2,
  lua: `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[6]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], 'media_ms', ARGV[2])
redis.call('HINCRBY', KEYS[2], 'est_micros', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'est_low_micros', ARGV[4])
redis.call('HINCRBY', KEYS[2], 'est_high_micros', ARGV[5])
redis.call('HINCRBY', KEYS[2], 'prepared', 1)
redis.call('HINCRBY', KEYS[2], 'planned_requests', ARGV[6])
redis.call('HINCRBY', KEYS[2], 'est_unpriced', ARGV[7])
return 1`,
};

export interface FileEstimate {
  mediaMs: number;
  est: number;
  low: number;
  high: number;
  /** the requests its plan sends (chunks, and a speak run's final summary) */
  requests?: number;
  unpriced?: boolean;
}

export type CountField = 'requests' | 'retries' | 'media_ms' | 'est_micros' | 'est_low_micros' | 'est_high_micros';

/** How long a finished run's state stays in Redis (retry, status and the dashboard need it a while). */
export const RUN_RETENTION_S = 30 * 24 * 3600;

export class RunStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  private k(runId: string, part: string): string {
    return `${this.prefix}:run:${runId}:${part}`;
  }

  /**
   * Stores a new run. Idempotent for a given runId ('exists'). With `schedule`, the run is made only when that
   * schedule's last run has ended ('busy' otherwise), and it becomes the schedule's last run.
   */
  async create(spec: RunSpec, opts: { schedule?: string } = {}): Promise<{ outcome: 'created' | 'exists' | 'busy'; lastRunId?: string }> {
    const [r, last] = (await runLua(
      this.redis,
      CREATE,
      [this.k(spec.runId, 'spec'), this.k(spec.runId, 'state'), this.k(spec.runId, 'counts'), `${this.prefix}:runs`, `${this.prefix}:schedule-runs`],
      [JSON.stringify(spec), spec.runId, String(Date.parse(spec.createdAt)), opts.schedule ?? '', this.prefix],
    )) as [number, string];
    return { outcome: r === 1 ? 'created' : r === 0 ? 'exists' : 'busy', ...(last && { lastRunId: last }) };
  }

  async spec(runId: string): Promise<RunSpec | undefined> {
    const raw = await this.redis.get(this.k(runId, 'spec'));
    if (!raw) return undefined;
    const spec = JSON.parse(raw) as RunSpec;
    // The run's model as it was resolved at creation (a catalog file's entry): this process then knows it by name too.
    if (spec.modelEntry) installModel(spec.modelEntry);
    return spec;
  }

  async state(runId: string): Promise<RunState | undefined> {
    const [spec, state, counts] = await Promise.all([
      this.spec(runId),
      this.redis.hgetall(this.k(runId, 'state')),
      this.redis.hgetall(this.k(runId, 'counts')),
    ]);
    if (!spec) return undefined;
    const n = (k: string) => Number(counts[k] ?? 0);
    const c: RunCounts = {
      total: n('total'),
      succeeded: n('succeeded'),
      failed: n('failed'),
      skipped: n('skipped'),
      not_run: n('not_run'),
      terminal: n('terminal'),
      media_ms: n('media_ms'),
      requests: n('requests'),
      retries: n('retries'),
      est_micros: n('est_micros'),
      est_low_micros: n('est_low_micros'),
      est_high_micros: n('est_high_micros'),
      prepared: n('prepared'),
      planned_requests: n('planned_requests'),
      est_unpriced: n('est_unpriced'),
      ...(counts.work_started_ms && { work_started_ms: n('work_started_ms') }),
    };
    return {
      spec,
      status: (state.status ?? 'running') as RunState['status'],
      scanDone: state.scanDone === '1',
      stopReason: state.stopReason as StopReason | undefined,
      stopMessage: state.stopMessage,
      ...(state.reportError && { reportError: state.reportError }),
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
    const r = await runLua(
      this.redis,
      REGISTER,
      [this.k(runId, 'fstatus'), this.k(runId, 'files'), this.k(runId, 'counts')],
      [fileId, JSON.stringify(file), String(maxFiles)],
    );
    return Number(r) as 1 | 0 | -1;
  }

  /** Makes a file terminal once. Returns 'ended' when this transition ended the run. */
  async finishFile(runId: string, fileId: string, file: FileState): Promise<'ended' | 'done' | 'already' | 'unknown'> {
    // an error message may quote a provider or a presigned URL: stored redacted
    const stored = file.message === undefined ? file : { ...file, message: redactText(file.message) };
    const r = Number(
      await runLua(
        this.redis,
        TRANSITION,
        [this.k(runId, 'fstatus'), this.k(runId, 'files'), this.k(runId, 'counts'), this.k(runId, 'state')],
        [fileId, file.status, JSON.stringify(stored)],
      ),
    );
    return r === 2 ? 'ended' : r === 1 ? 'done' : r === 0 ? 'already' : 'unknown';
  }

  /** Adds facts to a pending file's state (the scan's, before the file's prepare job is enqueued). */
  async patchFile(runId: string, fileId: string, patch: Partial<FileState>): Promise<void> {
    const current = await this.file(runId, fileId);
    if (current) await this.redis.hset(this.k(runId, 'files'), fileId, JSON.stringify({ ...current, ...patch }));
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
    return Number(await runLua(this.redis, SCAN_DONE, [this.k(runId, 'counts'), this.k(runId, 'state')], [])) === 1;
  }

  async count(runId: string, field: CountField, by: number): Promise<void> {
    if (!by) return;
    const key = this.k(runId, 'counts');
    // The run's first request starts the ETA's clock (runs/eta.ts): scanning and planning before it are not work.
    if (field === 'requests') await this.redis.multi().hincrby(key, field, Math.round(by)).hsetnx(key, 'work_started_ms', Date.now()).exec();
    else await this.redis.hincrby(key, field, Math.round(by));
  }

  /**
   * A file's media length, planned requests and cost estimate, added to the run's counters once per file (a redone
   * or re-planned prepare adds nothing). `unpriced`: some of what its requests send has no price.
   */
  async addFileEstimate(runId: string, fileId: string, e: FileEstimate): Promise<boolean> {
    const r = await runLua(
      this.redis,
      ADD_ESTIMATE,
      [this.k(runId, 'estimated'), this.k(runId, 'counts')],
      [
        fileId,
        String(Math.round(e.mediaMs)),
        String(Math.round(e.est)),
        String(Math.round(e.low)),
        String(Math.round(e.high)),
        String(Math.round(e.requests ?? 0)),
        e.unpriced ? '1' : '0',
      ],
    );
    return Number(r) === 1;
  }

  /** The requests each file's plan sends (undefined: not planned yet), for the dashboard's per-file list. */
  async plannedRequests(runId: string, fileIds: readonly string[]): Promise<(number | undefined)[]> {
    if (!fileIds.length) return [];
    const raw = await this.redis.hmget(this.k(runId, 'estimated'), ...fileIds);
    return raw.map((v) => (v === null ? undefined : Number(v)));
  }

  /**
   * The file's generation: ONE counter per file, shared by `retry` and re-planning, so every generation's job ids,
   * staging keys and ledger entries are new. 0 until the file is first retried or re-planned.
   */
  async generation(runId: string, fileId: string): Promise<number> {
    return Number((await this.redis.hget(this.k(runId, 'gen'), fileId)) ?? 0);
  }

  /**
   * Re-planning generation `from` of a file: the first caller allocates the next generation; every later caller
   * (a sibling chunk, a redone job) gets the same one. generation 0: the file has since moved past it.
   */
  async replan(runId: string, fileId: string, from: number): Promise<{ first: boolean; generation: number }> {
    const [first, g] = (await runLua(
      this.redis,
      REPLAN,
      [`${this.prefix}:replan:${runId}:${fileId}:${from}`, this.k(runId, 'gen')],
      [fileId, String(from), String(7 * 24 * 3600)],
    )) as [number, number];
    return { first: first === 1, generation: Number(g) };
  }

  /** Asks every job of the run to stop (budget, cancel, auth); the first reason wins. */
  async stop(runId: string, reason: StopReason, message: string): Promise<boolean> {
    const first = await this.redis.hsetnx(this.k(runId, 'state'), 'stopReason', reason);
    if (first) await this.redis.hset(this.k(runId, 'state'), { stopMessage: redactText(message), status: 'stopping' });
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

  /**
   * The report could not be written after its retries: the run still ends, as stopped_error with the reason,
   * so `run --wait` and `status` stop waiting and say why (a stop reason already recorded stays the first).
   */
  async reportFailed(runId: string, message: string, retentionS = RUN_RETENTION_S): Promise<void> {
    const state = this.k(runId, 'state');
    await this.redis
      .multi()
      .hsetnx(state, 'stopReason', 'error')
      .hsetnx(state, 'stopMessage', `the report could not be written: ${message}`)
      .hset(state, { status: 'stopped_error', reportError: message, endedAt: new Date().toISOString() })
      .exec();
    const m = this.redis.multi();
    for (const key of this.keys(runId)) m.expire(key, retentionS);
    await m.exec();
  }

  /**
   * For `retry`: failed and not-run files back to pending, each at a new generation, and the run's stop reason
   * cleared, so they can go again. `pending` lists files still pending (an earlier retry interrupted before its
   * jobs were added): the caller enqueues them again at their current generation.
   */
  async reopen(runId: string): Promise<{ reopened: { fileId: string; generation: number }[]; pending: string[] }> {
    const candidates = new Set<string>();
    const pending = new Set<string>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.k(runId, 'fstatus'), cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) {
        if (flat[i + 1] === 'pending') pending.add(flat[i]);
        else if (flat[i + 1] === 'failed' || flat[i + 1] === 'not_run') candidates.add(flat[i]);
      }
    } while (cursor !== '0');
    const reopened: { fileId: string; generation: number }[] = [];
    for (const fileId of candidates) {
      const f = await this.file(runId, fileId);
      if (!f) continue;
      const { code: _code, message: _message, ...rest } = f;
      const g = Number(
        await runLua(
          this.redis,
          REOPEN,
          [this.k(runId, 'fstatus'), this.k(runId, 'files'), this.k(runId, 'counts'), this.k(runId, 'state'), this.k(runId, 'gen')],
          [fileId, JSON.stringify({ ...rest, status: 'pending' })],
        ),
      );
      if (g > 0) reopened.push({ fileId, generation: g });
    }
    if (reopened.length || pending.size) {
      const state = this.k(runId, 'state');
      // No stop (else the reopened files' jobs end as not run at once), and a new report generation (its job id).
      await this.redis
        .multi()
        .hdel(state, 'stopReason', 'stopMessage', 'endedAt', 'reportError')
        .hset(state, { status: 'running' })
        .hincrby(state, 'generation', 1)
        .exec();
    }
    return { reopened, pending: [...pending].filter((id) => !candidates.has(id)) };
  }

  /** True when the run has ended (every file terminal, scan done) but its final status is not written yet. */
  async endedUnreported(runId: string): Promise<boolean> {
    const [ended, status] = await this.redis.hmget(this.k(runId, 'state'), 'ended', 'status');
    return ended === '1' && (status === 'running' || status === 'stopping');
  }

  /**
   * A reviewer's decision on a file (the dashboard's review page), kept next to the file's state so the report
   * counts it without reading the bucket; the decision's document itself is written next to the result.
   */
  async setReview(runId: string, fileId: string, review: FileReview): Promise<void> {
    await this.redis.hset(this.k(runId, 'reviews'), fileId, JSON.stringify(review));
  }

  async review(runId: string, fileId: string): Promise<FileReview | undefined> {
    const raw = await this.redis.hget(this.k(runId, 'reviews'), fileId);
    return raw ? (JSON.parse(raw) as FileReview) : undefined;
  }

  /** Every decision of the run (people make them one at a time: a run has few next to its files). */
  async reviews(runId: string): Promise<Map<string, FileReview>> {
    const out = new Map<string, FileReview>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.k(runId, 'reviews'), cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) out.set(flat[i], JSON.parse(flat[i + 1]) as FileReview);
    } while (cursor !== '0');
    return out;
  }

  /** Keys holding this run's state (for tests and cleanup). */
  keys(runId: string): string[] {
    return ['spec', 'state', 'counts', 'files', 'fstatus', 'gen', 'estimated', 'reviews'].map((p) => this.k(runId, p));
  }
}

export { FILE_STATUSES };
