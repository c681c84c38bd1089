/**
 * The global tokens-per-minute limit, shared by every worker on every machine (docs/architecture.md, "Rate limits"): before
 * a request, take its estimated input tokens from the bucket; after it, settle with the real usage.
 * A request larger than the whole bucket goes through once the bucket is full, so nothing deadlocks.
 */
import type { Redis } from 'ioredis';
import { runLua } from './lua/run.ts';
import { SETTLE_TOKENS, TAKE, UNITS_PER_TOKEN } from './lua/token-bucket.ts';

export type TakeResult = { ok: true; level: number } | { ok: false; waitMs: number; level: number };

/** One bucket per account quota: per model, as the provider meters it. */
export function tpmBucketKey(prefix: string, model: string): string {
  return `${prefix}:tpm:${model}`;
}

export class TokenBucket {
  constructor(readonly redis: Redis) {}

  /**
   * Takes `tokens` if the bucket holds them; else says how long until it will. `nowMs` is for tests:
   * by default the Redis server's clock is used, so machines with skewed clocks agree.
   */
  async take(key: string, tokens: number, tpm: number, nowMs?: number): Promise<TakeResult> {
    if (!(tpm > 0)) throw new RangeError(`tpm must be positive, got ${tpm}`);
    if (!(tokens >= 0)) throw new RangeError(`tokens must be >= 0, got ${tokens}`);
    const [ok, wait, units] = (await runLua(this.redis, TAKE, [key], [tokens, tpm, nowMs ?? ''])) as [number, number, string];
    const level = Number(units) / UNITS_PER_TOKEN;
    return ok === 1 ? { ok: true, level } : { ok: false, waitMs: wait, level };
  }

  /**
   * Corrects the bucket by what the request really used: more than estimated takes the difference
   * (possibly into debt), less gives it back (up to the capacity). Returns actual - estimated.
   */
  async settle(key: string, estimated: number, actual: number): Promise<number> {
    await runLua(this.redis, SETTLE_TOKENS, [key], [estimated, actual]);
    return actual - estimated;
  }

  /** The level right now without refilling it (for status displays and tests). */
  async level(key: string): Promise<number | null> {
    const v = await this.redis.hget(key, 'level');
    return v === null ? null : Number(v) / UNITS_PER_TOKEN;
  }
}
