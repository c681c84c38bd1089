/**
 * The global TPM bucket: capacity `tpm` tokens, refilled continuously at tpm/60000 per millisecond.
 * The level is kept in units of 1/60000 token, so the refill (ms x tpm units) is integer arithmetic and
 * a wait computed now is exactly enough later (no 4499.999... after 2700 ms at 100,000 TPM).
 * The level may go below zero (a request larger than the capacity, or usage above its estimate): a debt
 * the refill pays back before anyone else runs.
 */
import type { LuaScript } from './run.ts';

/** Units per token in the stored level. */
export const UNITS_PER_TOKEN = 60_000;

const common = `
local U = ${UNITS_PER_TOKEN}
local function fmt(x) return string.format('%.0f', x) end`;

// KEYS: bucket   ARGV: tokens, tpm, nowMs ('' = server time)
// -> {ok (1|0), waitMs, level in units (string)}
export const TAKE: LuaScript = {
  name: 'omnibatchTpmTake',
  numberOfKeys: 1,
  lua: `${common}
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local need = math.ceil(tonumber(ARGV[1]) * U)
local tpm = tonumber(ARGV[2])
local cap = tpm * U
local s = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(s[1])
local ts = tonumber(s[2])
if not level or not ts then level = cap; ts = now end
-- A clock that went backwards refills nothing (and does not move ts back).
if now > ts then
  level = math.min(cap, level + (now - ts) * tpm)
  ts = now
end
local ok = 0
local wait = 0
-- Larger than the whole bucket: allowed once the bucket is full, so it can never wait forever.
if need <= level or (need > cap and level >= cap) then
  level = level - need
  ok = 1
else
  wait = math.ceil((math.min(need, cap) - level) / tpm)
end
redis.call('HSET', KEYS[1], 'level', fmt(level), 'ts', fmt(ts), 'tpm', ARGV[2])
-- Kept until it would be full again, plus a minute; a missing bucket is a full one.
redis.call('PEXPIRE', KEYS[1], math.ceil((cap - math.min(level, cap)) / tpm) + 60000)
return {ok, wait, fmt(level)}
`,
};

// KEYS: bucket   ARGV: estimated, actual   -> the level after in units ('' when there is no bucket)
export const SETTLE_TOKENS: LuaScript = {
  name: 'omnibatchTpmSettle',
  numberOfKeys: 1,
  lua: `${common}
local s = redis.call('HMGET', KEYS[1], 'level', 'tpm')
local level = tonumber(s[1])
local tpm = tonumber(s[2])
if not level or not tpm then return '' end
local cap = tpm * U
level = math.min(cap, level - math.ceil((tonumber(ARGV[2]) - tonumber(ARGV[1])) * U))
redis.call('HSET', KEYS[1], 'level', fmt(level))
local need = math.ceil((cap - level) / tpm) + 60000
if redis.call('PTTL', KEYS[1]) < need then redis.call('PEXPIRE', KEYS[1], need) end
return fmt(level)
`,
};
