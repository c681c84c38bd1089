/**
 * The global TPM limit as a sliding-window reservation log, the same shape as the provider's quota (a
 * sliding minute of input + output tokens): every request reserves its tokens under an id at the time it
 * is sent; the sum of the reservations younger than the window may not pass `tpm`. A reservation is later
 * settled to the request's real usage, or to zero when it failed and used nothing. A token bucket would
 * let a full bucket plus a minute's refill (2 x tpm) into one provider minute, which a sliding quota
 * answers with 429s.
 *
 * Keys: the log (sorted set id -> reserve time, ms) and the amounts (hash id -> tokens, `_sum` -> their
 * sum, `_next` -> the time the next waiter is told to come back, `_reserved`/`_actual` -> what settled
 * reservations reserved and really used). Tokens are whole numbers, so the sum is exact integer arithmetic.
 */
import type { LuaScript } from './run.ts';

const common = `
local function nowMs(arg)
  local n = tonumber(arg)
  if n then return n end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Drops reservations that left the window; returns the sum of the rest.
local function expire(log, amounts, now, win)
  local sum = tonumber(redis.call('HGET', amounts, '_sum') or '0')
  while true do
    local old = redis.call('ZRANGEBYSCORE', log, '-inf', now - win, 'LIMIT', 0, 500)
    if #old == 0 then break end
    local a = redis.call('HMGET', amounts, unpack(old))
    for i = 1, #a do sum = sum - (tonumber(a[i]) or 0) end
    redis.call('HDEL', amounts, unpack(old))
    redis.call('ZREM', log, unpack(old))
  end
  if sum < 0 then sum = 0 end
  return sum
end`;

// KEYS: log, amounts, request slot (hash: 'slot' -> when the next request may go, 'next' -> the next RPM
//       waiter's return time; global, as the RPM limit is)
// ARGV: tokens, tpm, windowMs, id, nowMs ('' = server time), RPM spacing ms (0: no RPM limit here)
// -> {ok (1|0), waitMs, tokens in the window after}
// With a spacing, the request slot and the tokens are taken together or not at all: a request that waits
// for tokens holds no RPM slot, and one that waits for a slot holds no tokens.
export const RESERVE: LuaScript = {
  name: 'omnibatchTpmRpmReserve',
  numberOfKeys: 3,
  lua: `${common}
local now = nowMs(ARGV[5])
local need = math.ceil(tonumber(ARGV[1]))
local tpm = tonumber(ARGV[2])
local win = tonumber(ARGV[3])
local spacing = tonumber(ARGV[6]) or 0
local sum = expire(KEYS[1], KEYS[2], now, win)
local ok, wait = 0, 0
local slot = 0
if spacing > 0 then slot = tonumber(redis.call('HGET', KEYS[3], 'slot') or '0') end
-- Larger than the whole quota: allowed into an empty window, so it can never wait forever.
local fits = sum + need <= tpm or (sum == 0 and need > tpm)
if fits and slot <= now then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('HSET', KEYS[2], ARGV[4], need)
  sum = sum + need
  ok = 1
  if spacing > 0 then
    redis.call('HSET', KEYS[3], 'slot', now + spacing)
    redis.call('PEXPIRE', KEYS[3], spacing + 60000)
  end
elseif fits then
  -- The tokens are there, the request slot is not: come back at the slot. Waiters are handed successive
  -- slots, one spacing apart, so they do not all come back for the same one.
  local at = slot
  local cursor = tonumber(redis.call('HGET', KEYS[3], 'next') or '0')
  -- Only the next 8 slots: a cursor run far ahead by hundreds of one model's jobs would make the other
  -- model's requests, whose tokens are free now, wait behind all of them.
  if cursor > at and cursor < slot + 8 * spacing then at = cursor end
  redis.call('HSET', KEYS[3], 'next', at + spacing)
  redis.call('PEXPIRE', KEYS[3], at - now + spacing + 60000)
  wait = math.max(1, at - now)
else
  -- The earliest time enough of the window has left: the oldest reservations first.
  local mustFree = sum + need - tpm
  if need > tpm then mustFree = sum end
  local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local freed = 0
  wait = win
  for i = 1, #entries, 2 do
    freed = freed + (tonumber(redis.call('HGET', KEYS[2], entries[i])) or 0)
    if freed >= mustFree then
      wait = math.max(1, tonumber(entries[i + 1]) + win - now + 1)
      break
    end
  end
  -- Waiters are spread at the quota's pace, so they come back one by one as the window frees, not all at
  -- the first freeing: each failed try costs a job start (and an RPM slot). The pace is what a waiter will
  -- really take (need x the settled share of what was reserved) x window / tpm apart: spaced by the
  -- reservation alone, a prior that overshoots by 20 % would leave 20 % of the quota unused, as every
  -- later start is one of these scheduled waiters.
  local at = now + wait
  local cursor = tonumber(redis.call('HGET', KEYS[2], '_next') or '0')
  if cursor > at then at = cursor end
  local r = redis.call('HMGET', KEYS[2], '_reserved', '_actual')
  local share = 1
  if tonumber(r[1] or '0') > 0 then share = math.max(0.1, math.min(1, tonumber(r[2] or '0') / tonumber(r[1]))) end
  redis.call('HSET', KEYS[2], '_next', at + math.ceil(math.min(need, tpm) * share * win / tpm))
  wait = at - now
end
redis.call('HSET', KEYS[2], '_sum', sum)
redis.call('PEXPIRE', KEYS[1], win + 60000)
redis.call('PEXPIRE', KEYS[2], win + 60000)
return {ok, wait, sum}
`,
};

// KEYS: log, amounts   ARGV: id, actual tokens
// -> the tokens in the window after, or -1 when the reservation has left the window (nothing to correct:
//    the provider's minute has moved on too)
export const SETTLE: LuaScript = {
  name: 'omnibatchTpmSettleReservation',
  numberOfKeys: 2,
  lua: `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur then return -1 end
local actual = math.max(0, math.ceil(tonumber(ARGV[2])))
redis.call('HSET', KEYS[2], ARGV[1], actual)
-- The settled share of what was reserved (RESERVE paces its waiters with it); a refund (0: refused at the
-- door) says nothing about the prior. Halved now and then, so it follows the recent requests.
if actual > 0 then
  local res = redis.call('HINCRBY', KEYS[2], '_reserved', tonumber(cur))
  redis.call('HINCRBY', KEYS[2], '_actual', actual)
  if res > 2000000 then
    redis.call('HSET', KEYS[2], '_reserved', math.floor(res / 2), '_actual', math.floor(tonumber(redis.call('HGET', KEYS[2], '_actual')) / 2))
  end
end
return redis.call('HINCRBY', KEYS[2], '_sum', actual - tonumber(cur))
`,
};
