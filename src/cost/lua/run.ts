/**
 * The one way the program runs a Lua script (the ledger, the budget, the TPM bucket and the run state alike):
 * each script is defined once per connection with ioredis' defineCommand, which sends EVALSHA and falls back
 * to EVAL once when the server does not have the script cached (after a restart or a failover), so the
 * script's text crosses the wire once, not on every call.
 */
import type { Redis } from 'ioredis';

export interface LuaScript {
  /** unique across the program: it becomes a method name on the client */
  name: string;
  numberOfKeys: number;
  lua: string;
}

const defined = new WeakMap<Redis, Set<string>>();

export async function runLua(redis: Redis, script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  if (keys.length !== script.numberOfKeys) throw new TypeError(`${script.name}: expected ${script.numberOfKeys} keys, got ${keys.length}`);
  let names = defined.get(redis);
  if (!names) {
    names = new Set();
    defined.set(redis, names);
  }
  if (!names.has(script.name)) {
    redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
    names.add(script.name);
  }
  const command = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[script.name];
  return command.call(redis, ...keys, ...args.map(String));
}
