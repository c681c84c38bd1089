/**
 * The ledger's one write. The first record of a (file, chunk) wins: HSETNX on the run's chunk hash, and
 * only when that succeeds are the totals incremented, in the same script, so a redone job (a worker
 * killed after the request) can never count a chunk twice, however many copies race.
 *
 * Counters are passed as decimal strings and added with HINCRBY: no number ever goes through Lua's
 * double-to-string conversion, which would print large integers in exponent form.
 */
import type { LuaScript } from './run.ts';

/** Counter fields of the totals hash, in the order the script receives them (ARGV[5..]). */
export const LEDGER_COUNTERS = [
  'in_text',
  'in_audio',
  'in_image',
  'in_video',
  'out_text',
  'out_audio',
  'out_reasoning',
  'in_total',
  'out_total',
  'cost_micros',
  'requests',
] as const;

// KEYS: chunks, totals
// ARGV: field, attemptToken, recordJson, retentionMs, <LEDGER_COUNTERS...>, currency ('' = none), priced ('1'|'0'),
//       via ('' = none: the chunks and cost of each way a chunk was answered, `via:<via>:chunks|cost_micros`)
export const RECORD_CHUNK: LuaScript = {
  name: 'omnibatchLedgerRecord',
  numberOfKeys: 2,
  lua: `
local n = ${LEDGER_COUNTERS.length}
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 0 then
  return {0, redis.call('HGET', KEYS[1], ARGV[1])}
end
local names = {${LEDGER_COUNTERS.map((c) => `'${c}'`).join(', ')}}
for i = 1, n do
  local v = ARGV[4 + i]
  if v ~= '0' then redis.call('HINCRBY', KEYS[2], names[i], v) end
end
redis.call('HINCRBY', KEYS[2], 'chunks', 1)
if ARGV[5 + n] ~= '' then redis.call('HSETNX', KEYS[2], 'currency', ARGV[5 + n]) end
if ARGV[6 + n] == '0' then redis.call('HINCRBY', KEYS[2], 'unpriced_chunks', 1) end
if (ARGV[7 + n] or '') ~= '' then
  redis.call('HINCRBY', KEYS[2], 'via:' .. ARGV[7 + n] .. ':chunks', 1)
  redis.call('HINCRBY', KEYS[2], 'via:' .. ARGV[7 + n] .. ':cost_micros', ARGV[4 + ${LEDGER_COUNTERS.indexOf('cost_micros') + 1}])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {1, ARGV[3]}
`,
};

// KEYS: totals   ARGV: n, retentionMs   (requests that produced no chunk record: failed attempts)
export const ADD_REQUESTS: LuaScript = {
  name: 'omnibatchLedgerRequests',
  numberOfKeys: 1,
  lua: `
local v = redis.call('HINCRBY', KEYS[1], 'requests', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v
`,
};
