/**
 * A run's Batch API state in Redis: one small record per chunk line (never the line itself: the request body
 * with its media is staged in storage), the lines waiting to be packed, and one record per input file: its
 * lines (fixed before anything is uploaded, so a redone upload sends the same lines), then its batch id.
 * Every change that touches two of them is one Lua script.
 *
 * Keys under P:omni:run:<id>:batch: `lines` (hash ref -> LineState), `pending` (zset ref -> when queued),
 * `inputs` (hash n -> InputRecord), `seq` (last input number), `round` (the packer's round), `submitted` (the
 * last round whose packer job was added), `stats` (hash: `bytes` pending, `settled`: lines recorded, answered or
 * failed, kept by every step change so a poll counts the run's lines left in O(1), not by reading every line).
 */
import type { Redis } from 'ioredis';
import { type LuaScript, runLua } from '../cost/lua/run.ts';
import type { BatchObject } from '../models/batch-api.ts';

/**
 * queued (waiting for the packer) -> packed (in an input file) -> recorded (the poller recorded its answer as
 * the chunk's result: its job only completes) | answered (its answer staged for its job to record) | failed;
 * or realtime: --batch-fallback realtime took the line from its batch, and its job calls the model in real time.
 */
export type LineStep = 'queued' | 'packed' | 'recorded' | 'answered' | 'failed' | 'realtime';

/** One chunk's line: which job waits for it, where it stands, how often it was sent. */
export interface LineState {
  /** the line job's id (it is promoted when the answer is staged) */
  job: string;
  fileId: string;
  generation: number;
  chunk: number;
  /** the line's size in the input file (bytes, its newline included) */
  bytes: number;
  step: LineStep;
  /** the input file it was packed into last */
  input?: number;
  /** how many input files it went into */
  sends: number;
  code?: string;
  message?: string;
}

export interface InputRecord {
  n: number;
  lines: string[];
  bytes: number;
  createdAt: number;
  /** the provider's file id, once uploaded */
  fileId?: string;
  /** the batch, once created (stored before anything else happens) */
  batchId?: string;
  status?: BatchObject['status'];
  counts?: { total: number; completed: number; failed: number };
  /** unix seconds, the provider's */
  batchCreatedAt?: number;
  /** the results were read and routed: a redone poll does nothing */
  done?: boolean;
  /** --batch-fallback realtime: when the batch was cancelled for the deadline (ms), and why */
  fellBackAt?: number;
  fallbackWhy?: string;
}

/** Lua: whether a step is settled (recorded, answered or failed): what `stats.settled` counts. */
const SETTLED_LUA = `local function settled(step) return step == 'recorded' or step == 'answered' or step == 'failed' end`;

const QUEUE_LINE: LuaScript = {
  name: 'omnibatchBatchQueueLine',
  numberOfKeys: 5,
  // KEYS: lines, pending, stats, round, submitted; ARGV: ref, stateJson, now, bytes, requeue ('1': a resend)
  // Returns {fresh, round, the last round whose packer job is known to exist}.
  lua: `
${SETTLED_LUA}
local function rounds(fresh) return {fresh, redis.call('GET', KEYS[4]) or '0', redis.call('GET', KEYS[5]) or '-1'} end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and ARGV[5] ~= '1' then return rounds(0) end
local st = cjson.decode(ARGV[2])
if cur then
  local old = cjson.decode(cur)
  if old.step == 'queued' then return rounds(0) end
  st.sends = old.sends
  if settled(old.step) then redis.call('HINCRBY', KEYS[3], 'settled', -1) end
end
st.step = 'queued'
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(st))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'bytes', ARGV[4])
return rounds(1)
`,
};

const CLAIM_INPUT: LuaScript = {
  name: 'omnibatchBatchClaimInput',
  numberOfKeys: 5,
  // KEYS: lines, pending, stats, inputs, seq; ARGV: maxRequests, maxBytes, onlyFull ('1'), now
  // Oldest lines first, as many as fit; with onlyFull, nothing unless a limit is reached.
  lua: `
local maxN, maxB = tonumber(ARGV[1]), tonumber(ARGV[2])
local refs = redis.call('ZRANGE', KEYS[2], 0, maxN)
local take, bytes, full = {}, 0, false
for i, ref in ipairs(refs) do
  if #take >= maxN then full = true break end
  local st = redis.call('HGET', KEYS[1], ref)
  local b = st and cjson.decode(st).bytes or 0
  if #take > 0 and bytes + b > maxB then full = true break end
  table.insert(take, ref)
  bytes = bytes + b
end
if #take == 0 or (ARGV[3] == '1' and not full) then return nil end
local n = redis.call('INCR', KEYS[5])
for _, ref in ipairs(take) do
  redis.call('ZREM', KEYS[2], ref)
  local st = cjson.decode(redis.call('HGET', KEYS[1], ref))
  st.step = 'packed'
  st.input = n
  st.sends = (st.sends or 0) + 1
  redis.call('HSET', KEYS[1], ref, cjson.encode(st))
end
redis.call('HINCRBY', KEYS[3], 'bytes', -bytes)
redis.call('HSET', KEYS[4], n, cjson.encode({n = n, lines = take, bytes = bytes, createdAt = tonumber(ARGV[4])}))
return n
`,
};

const PATCH_JSON: LuaScript = {
  name: 'omnibatchBatchPatch',
  numberOfKeys: 2,
  // KEYS: a hash, the run's stats; ARGV: field, patchJson, lines ('1': the hash holds lines: stats.settled follows
  // the step). Merges the patch into the field's JSON object (absent: no-op, nil).
  lua: `
${SETTLED_LUA}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return nil end
local o = cjson.decode(cur)
local was = settled(o.step)
for k, v in pairs(cjson.decode(ARGV[2])) do o[k] = v end
local now = settled(o.step)
if ARGV[3] == '1' and was ~= now then redis.call('HINCRBY', KEYS[2], 'settled', now and 1 or -1) end
local s = cjson.encode(o)
redis.call('HSET', KEYS[1], ARGV[1], s)
return s
`,
};

const TO_REALTIME: LuaScript = {
  name: 'omnibatchBatchToRealtime',
  numberOfKeys: 1,
  // KEYS: lines; ARGV: ref, input. Only a line still packed into that input moves (an answered, failed or
  // re-queued one stays where it is): returns the new state, or nil.
  lua: `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return nil end
local st = cjson.decode(cur)
if st.step ~= 'packed' or tostring(st.input) ~= ARGV[2] then return nil end
st.step = 'realtime'
local s = cjson.encode(st)
redis.call('HSET', KEYS[1], ARGV[1], s)
return s
`,
};

export interface PendingStats {
  count: number;
  bytes: number;
  /** ms: when the oldest and the newest waiting line was queued */
  oldestAt?: number;
  newestAt?: number;
}

export class BatchStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  key(runId: string, part: 'lines' | 'pending' | 'inputs' | 'seq' | 'round' | 'submitted' | 'stats'): string {
    return `${this.prefix}:run:${runId}:batch:${part}`;
  }

  /**
   * Queues a chunk's line once (a redone job finds it queued). Returns whether it was new, the packer's round,
   * and whether that round's packer job is known to exist (submitted: a line need not make sure of it again).
   */
  async queueLine(
    runId: string,
    ref: string,
    st: Omit<LineState, 'step' | 'sends'>,
    opts: { resend?: boolean; now?: number } = {},
  ): Promise<{ fresh: boolean; round: number; submitted: boolean }> {
    const state: LineState = { ...st, step: 'queued', sends: 0 };
    const r = (await runLua(
      this.redis,
      QUEUE_LINE,
      [this.key(runId, 'lines'), this.key(runId, 'pending'), this.key(runId, 'stats'), this.key(runId, 'round'), this.key(runId, 'submitted')],
      [ref, JSON.stringify(state), opts.now ?? Date.now(), st.bytes, opts.resend ? '1' : '0'],
    )) as [number, string, string];
    return { fresh: r[0] === 1, round: Number(r[1]), submitted: r[1] === r[2] };
  }

  /** The round's packer job exists (set only once it was added, so a kill before leaves the next line to add it). */
  async markSubmitted(runId: string, round: number): Promise<void> {
    await this.redis.set(this.key(runId, 'submitted'), String(round));
  }

  async line(runId: string, ref: string): Promise<LineState | undefined> {
    const s = await this.redis.hget(this.key(runId, 'lines'), ref);
    return s ? (JSON.parse(s) as LineState) : undefined;
  }

  /** Many lines' states in one round trip (a packer's whole input file, in slices). */
  async lines(runId: string, refs: readonly string[]): Promise<(LineState | undefined)[]> {
    if (refs.length === 0) return [];
    const all = await this.redis.hmget(this.key(runId, 'lines'), ...refs);
    return all.map((s) => (s ? (JSON.parse(s) as LineState) : undefined));
  }

  async patchLine(runId: string, ref: string, patch: Partial<LineState>): Promise<void> {
    await runLua(this.redis, PATCH_JSON, [this.key(runId, 'lines'), this.key(runId, 'stats')], [ref, JSON.stringify(patch), '1']);
  }

  async pending(runId: string): Promise<PendingStats> {
    const k = this.key(runId, 'pending');
    const [count, oldest, newest, bytes] = await Promise.all([
      this.redis.zcard(k),
      this.redis.zrange(k, '0', '0', 'WITHSCORES'),
      this.redis.zrange(k, '-1', '-1', 'WITHSCORES'),
      this.redis.hget(this.key(runId, 'stats'), 'bytes'),
    ]);
    return {
      count,
      bytes: Number(bytes ?? 0),
      ...(oldest.length && { oldestAt: Number(oldest[1]) }),
      ...(newest.length && { newestAt: Number(newest[1]) }),
    };
  }

  /** The packer takes a round: lines queued from now on wait for the next one. */
  async nextRound(runId: string): Promise<number> {
    return this.redis.incr(this.key(runId, 'round'));
  }

  /** Fixes the next input file's lines (oldest first, within both limits); undefined when none (or, with onlyFull, none full). */
  async claimInput(runId: string, limits: { maxRequests: number; maxBytes: number }, onlyFull: boolean, now = Date.now()): Promise<number | undefined> {
    const n = await runLua(
      this.redis,
      CLAIM_INPUT,
      [this.key(runId, 'lines'), this.key(runId, 'pending'), this.key(runId, 'stats'), this.key(runId, 'inputs'), this.key(runId, 'seq')],
      [limits.maxRequests, limits.maxBytes, onlyFull ? '1' : '0', now],
    );
    return n === null || n === undefined ? undefined : Number(n);
  }

  async input(runId: string, n: number): Promise<InputRecord | undefined> {
    const s = await this.redis.hget(this.key(runId, 'inputs'), String(n));
    return s ? (JSON.parse(s) as InputRecord) : undefined;
  }

  async inputs(runId: string): Promise<InputRecord[]> {
    const all = await this.redis.hgetall(this.key(runId, 'inputs'));
    return Object.values(all)
      .map((s) => JSON.parse(s) as InputRecord)
      .sort((a, b) => a.n - b.n);
  }

  async patchInput(runId: string, n: number, patch: Partial<InputRecord>): Promise<void> {
    await runLua(this.redis, PATCH_JSON, [this.key(runId, 'inputs'), this.key(runId, 'stats')], [String(n), JSON.stringify(patch), '0']);
  }

  /** --batch-fallback realtime: the line leaves its batch for real time, if it is still packed into `input`. */
  async toRealtime(runId: string, ref: string, input: number): Promise<LineState | undefined> {
    const s = (await runLua(this.redis, TO_REALTIME, [this.key(runId, 'lines')], [ref, String(input)])) as string | null;
    return s ? (JSON.parse(s) as LineState) : undefined;
  }

  /** How many lines the run has, and how many are not answered yet (nor failed): what a fallback would send. */
  async lineCounts(runId: string): Promise<{ total: number; left: number }> {
    const [total, settled] = await Promise.all([this.redis.hlen(this.key(runId, 'lines')), this.redis.hget(this.key(runId, 'stats'), 'settled')]);
    return { total, left: Math.max(0, total - Number(settled ?? 0)) };
  }
}
