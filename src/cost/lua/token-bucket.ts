/**
 * The global TPM limit as a sliding-window reservation log, the same shape as the provider's quota (a
 * sliding minute of input + output tokens): every request reserves its tokens under an id at the time it
 * is sent; the sum of the reservations younger than the window may not pass `tpm`. A reservation is later
 * settled to the request's real usage, or to zero when it failed and used nothing. A token bucket would
 * let a full bucket plus a minute's refill (2 x tpm) into one provider minute, which a sliding quota
 * answers with 429s.
 *
 * Keys: the log (sorted set id -> reserve time, ms) and the amounts (hash id -> tokens, `_sum` -> their
 * sum, `_next` -> the time the next new waiter is told to come back, `_lag` -> the usual delay from a
 * reservation to the provider's answer, `_op:<task>`/`_oa:<task>`/`_on:<task>` -> the output priors of
 * settled requests of a task, what they really produced, and how many). Tokens are whole numbers, so the
 * sum is exact integer arithmetic.
 *
 * The output part of a reservation is learnt (docs/architecture.md, "Rate limits"): the task's prior is a
 * guess for speech (a transcript of 5 minutes of talk), while a run's real outputs may be a tenth of it (music,
 * silence, short captions). Reserving the prior would hold quota no request uses until it settles and, for
 * large requests, fit one request fewer into the minute; so once a few requests of the task have settled,
 * the prior is scaled by what they really produced, with a margin (OUTPUT_MARGIN x their mean + OUTPUT_FLOOR
 * of the prior, never more than the prior). A request that produces more than it reserved is settled to its
 * real usage like any other, and later requests wait for it.
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

/** The output reservation is at most this times the mean share of the prior that settled requests produced, */
export const OUTPUT_MARGIN = 1.5;
/** plus this share of the prior, */
export const OUTPUT_FLOOR = 0.05;
/** once this many requests of the task have settled. */
export const OUTPUT_MIN_SAMPLES = 3;
/** Learnt sums are halved when the priors pass this, so they follow the recent requests. */
const OUTPUT_DECAY_AT = 200_000;

// KEYS: log, amounts, waiters (hash: waiter id -> the time it was told to come back for tokens; 's:' + id -> for
//       a request slot), request slot (hash:
//       'slot' -> when the next request may go, 'next' -> the next RPM waiter's return time; global, as the
//       RPM limit is), the stored spacing (what the last worker told --rpm set, for those not told)
// ARGV: tokens, tpm, windowMs, id, nowMs ('' = server time), RPM spacing ms (0: no RPM limit here; -1: the
//       stored one),
//       how many of the tokens are the task's output prior (0: none to learn), the task, the waiter's id
//       (stable across its tries: a job's id; '' for none)
// -> {ok (1|0), waitMs, tokens in the window after, tokens reserved (the prior scaled by what was learnt)}
// With a spacing, the request slot and the tokens are taken together or not at all: a request that waits
// for tokens holds no RPM slot, and one that waits for a slot holds no tokens.
export const RESERVE: LuaScript = {
  name: 'omnibatchTpmRpmReserve',
  numberOfKeys: 5,
  lua: `${common}
local now = nowMs(ARGV[5])
local need = math.ceil(tonumber(ARGV[1]))
local tpm = tonumber(ARGV[2])
local win = tonumber(ARGV[3])
local spacing = tonumber(ARGV[6]) or 0
if spacing < 0 then spacing = tonumber(redis.call('GET', KEYS[5]) or '0') or 0 end
local prior = math.min(need, math.max(0, tonumber(ARGV[7]) or 0))
-- what the request is expected to really use, for pacing waiters (below): the input, plus the mean learnt
-- output once there is one
local pace = need - prior
if prior > 0 then
  local l = redis.call('HMGET', KEYS[2], '_op:' .. ARGV[8], '_oa:' .. ARGV[8], '_on:' .. ARGV[8])
  local op, oa, on = tonumber(l[1] or '0'), tonumber(l[2] or '0'), tonumber(l[3] or '0')
  if on >= ${OUTPUT_MIN_SAMPLES} and op > 0 then
    local share = math.min(1, ${OUTPUT_MARGIN} * oa / op + ${OUTPUT_FLOOR})
    need = need - prior + math.ceil(prior * share)
    pace = pace + math.floor(prior * oa / op)
  end
end
local sum = expire(KEYS[1], KEYS[2], now, win)
local ok, wait = 0, 0
local slot = 0
if spacing > 0 then slot = tonumber(redis.call('HGET', KEYS[4], 'slot') or '0') end
-- Larger than the whole quota: allowed into an empty window, so it can never wait forever.
local fits = sum + need <= tpm or (sum == 0 and need > tpm)
if fits and slot <= now then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('HSET', KEYS[2], ARGV[4], need)
  sum = sum + need
  ok = 1
  if ARGV[9] ~= '' then redis.call('HDEL', KEYS[3], ARGV[9], 's:' .. ARGV[9]) end
  if spacing > 0 then
    redis.call('HSET', KEYS[4], 'slot', now + spacing)
    redis.call('PEXPIRE', KEYS[4], spacing + 60000)
  end
elseif fits then
  -- The tokens are there, the request slot is not: come back at the slot. Waiters are handed successive
  -- slots, one spacing apart, so they do not all come back for the same one.
  local at = slot
  -- A waiter back at its slot finds it taken when the one before woke late (a slot is spaced from when it was
  -- taken): it is given the next slot, not a place behind every waiter handed one since (a lost spacing each).
  -- (kept apart from the waiters for tokens: 's:' before the id; a place in one line is none in the other)
  local returning = ARGV[9] ~= '' and redis.call('HEXISTS', KEYS[3], 's:' .. ARGV[9]) == 1
  local cursor = tonumber(redis.call('HGET', KEYS[4], 'next') or '0')
  if not returning then
    -- Only the next 8 slots: a cursor run far ahead by hundreds of one model's jobs would make the other
    -- model's requests, whose tokens are free now, wait behind all of them.
    if cursor > at and cursor < slot + 8 * spacing then at = cursor end
    redis.call('HSET', KEYS[4], 'next', at + spacing)
  elseif cursor < at + spacing then
    redis.call('HSET', KEYS[4], 'next', at + spacing)
  end
  redis.call('PEXPIRE', KEYS[4], at - now + spacing + 60000)
  if ARGV[9] ~= '' then
    redis.call('HSET', KEYS[3], 's:' .. ARGV[9], at)
    local ttl = at - now + win + 60000
    if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
  end
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
  -- the first freeing: each failed try costs a job start. A new waiter is handed the cursor, which then
  -- moves on by what the waiter will really use (its input plus the mean learnt output; the input alone
  -- while nothing is learnt) x window / tpm. The pace errs early on purpose: a waiter back too early costs one
  -- more start, one back too late leaves the quota unused, and the times handed out cannot be taken back.
  -- A waiter back too early (known by its id) is given the next freeing, not the end of the line.
  local at = now + wait
  local returning = ARGV[9] ~= '' and redis.call('HEXISTS', KEYS[3], ARGV[9]) == 1
  if not returning then
    local cursor = tonumber(redis.call('HGET', KEYS[2], '_next') or '0')
    if cursor > at then at = cursor end
    redis.call('HSET', KEYS[2], '_next', at + math.ceil(math.min(pace, tpm) * win / tpm))
  end
  if ARGV[9] ~= '' then
    redis.call('HSET', KEYS[3], ARGV[9], at)
    local ttl = at - now + win + 60000
    if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
  end
  wait = at - now
end
redis.call('HSET', KEYS[2], '_sum', sum)
redis.call('PEXPIRE', KEYS[1], win + 60000)
redis.call('PEXPIRE', KEYS[2], win + 60000)
return {ok, wait, sum, need}
`,
};

// KEYS: log, amounts   ARGV: id, actual tokens, the output prior the reservation was made with (0: nothing to
//       learn; a refund passes none: a refused request says nothing about outputs), the real output tokens,
//       the task, how many ms after its reservation the provider admitted the request (0: not known)
// -> the tokens in the window after, or -1 when the reservation has left the window (nothing to correct:
//    the provider's minute has moved on too)
export const SETTLE: LuaScript = {
  name: 'omnibatchTpmSettleReservation',
  numberOfKeys: 2,
  lua: `
local prior = tonumber(ARGV[3] or '0') or 0
if prior > 0 then
  local task = ARGV[5]
  local op = redis.call('HINCRBY', KEYS[2], '_op:' .. task, prior)
  local oa = redis.call('HINCRBY', KEYS[2], '_oa:' .. task, math.max(0, math.ceil(tonumber(ARGV[4]) or 0)))
  redis.call('HINCRBY', KEYS[2], '_on:' .. task, 1)
  -- the reservation may have expired with the hash: what is learnt here must not outlive a quiet quota
  if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], 120000) end
  if op > ${OUTPUT_DECAY_AT} then
    redis.call('HSET', KEYS[2], '_op:' .. task, math.floor(op / 2), '_oa:' .. task, math.floor(oa / 2))
  end
end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur then return -1 end
-- A request reaches the provider some time after its reservation (download, upload, the provider reading the
-- media). The usual delay cancels out: the next request, reserved when this one leaves our window, reaches the
-- provider as late after its own reservation. A request later than usual would leave our window before it
-- leaves the provider's, and the request taking its room would be refused: it is dated later by what it was
-- late beyond the usual delay. The usual delay is a low mark: it drops to any faster request at once and
-- creeps up (1/20 of the difference) with slower ones.
local late = tonumber(ARGV[6] or '0') or 0
if late > 0 then
  local usual = tonumber(redis.call('HGET', KEYS[2], '_lag') or tostring(late))
  if late < usual then usual = late else usual = usual + (late - usual) / 20 end
  redis.call('HSET', KEYS[2], '_lag', usual)
  local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if at and late > usual then redis.call('ZADD', KEYS[1], 'XX', tonumber(at) + math.floor(late - usual), ARGV[1]) end
end
local actual = math.max(0, math.ceil(tonumber(ARGV[2])))
redis.call('HSET', KEYS[2], ARGV[1], actual)
return redis.call('HINCRBY', KEYS[2], '_sum', actual - tonumber(cur))
`,
};
