/**
 * Budget reservation scripts. State per run: a hash {budget, spent, reserved}, the open reservations
 * (chunkKey -> micros) with their expiry times in a sorted set, and the settled chunks. Every decision
 * reads and writes in one script, so concurrent workers can never reserve past the budget together.
 *
 * A reservation belongs to its chunk: a redone job (worker killed mid-request) finds and re-uses its own
 * instead of taking a second one, and a reservation whose worker died for good expires and is swept
 * back at the next reserve. Amounts are stored as the caller's decimal strings and moved with HINCRBY
 * and a "-" prefix, never through Lua number formatting.
 */
import type { LuaScript } from './run.ts';

// Shared prologue: KEYS[1] state, KEYS[2] reservations, KEYS[3] expiries; sets `now` from ARGV[nowArg]
// or the server clock (one clock for every machine), then returns expired reservations to the pool.
const prologue = (nowArg: number): string => `
local now = tonumber(ARGV[${nowArg}])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 200)
for _, k in ipairs(expired) do
  local amt = redis.call('HGET', KEYS[2], k)
  if amt then
    redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. amt)
    redis.call('HDEL', KEYS[2], k)
  end
  redis.call('ZREM', KEYS[3], k)
end
local function touch(ms)
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ms) end
end
local function state()
  local s = redis.call('HMGET', KEYS[1], 'spent', 'reserved')
  return tonumber(s[1] or '0') or 0, tonumber(s[2] or '0') or 0
end
`;

// KEYS: state, reservations, expiries, settled
// ARGV: chunkKey, estimateMicros, budgetMicros, nowMs ('' = server time), ttlMs, retentionMs
// -> {outcome, spent, reserved}; outcome: 1 new, 2 reused (this chunk's own), 3 already settled, 0 denied
export const RESERVE: LuaScript = {
  name: 'omnibatchBudgetReserve',
  numberOfKeys: 4,
  lua: `${prologue(4)}
redis.call('HSET', KEYS[1], 'budget', ARGV[3])
touch(ARGV[6])
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then
  local spent, reserved = state()
  return {3, spent, reserved}
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ARGV[1])
  local spent, reserved = state()
  return {2, spent, reserved}
end
local spent, reserved = state()
if spent + reserved + tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  return {0, spent, reserved}
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[2])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ARGV[1])
touch(ARGV[6])
return {1, spent, reserved + tonumber(ARGV[2])}
`,
};

// KEYS: state, reservations, expiries, settled   ARGV: chunkKey, actualMicros, nowMs, retentionMs
// -> {applied (1|0), spent, reserved}: a second settle of the same chunk changes nothing
export const SETTLE: LuaScript = {
  name: 'omnibatchBudgetSettle',
  numberOfKeys: 4,
  lua: `${prologue(3)}
if redis.call('HSETNX', KEYS[4], ARGV[1], ARGV[2]) == 0 then
  local spent, reserved = state()
  return {0, spent, reserved}
end
local amt = redis.call('HGET', KEYS[2], ARGV[1])
if amt then
  redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. amt)
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
touch(ARGV[4])
local spent, reserved = state()
return {1, spent, reserved}
`,
};

// KEYS: state, reservations, expiries, settled   ARGV: chunkKey, nowMs   -> 1 released, 0 nothing held
export const RELEASE: LuaScript = {
  name: 'omnibatchBudgetRelease',
  numberOfKeys: 4,
  lua: `${prologue(2)}
local amt = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if not amt then return 0 end
redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. amt)
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`,
};

// KEYS: state   ARGV: fraction, budgetMicros ('' = the stored one)
// -> 1 exactly once, for the first caller that sees spent >= fraction x budget
export const CROSSED: LuaScript = {
  name: 'omnibatchBudgetCrossed',
  numberOfKeys: 1,
  lua: `
local budget = tonumber(ARGV[2]) or tonumber(redis.call('HGET', KEYS[1], 'budget') or '')
if not budget or budget <= 0 then return 0 end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0') or 0
if spent < budget * tonumber(ARGV[1]) then return 0 end
return redis.call('HSETNX', KEYS[1], 'crossed:' .. ARGV[1], '1')
`,
};
