/**
 * The one way a test reaches Redis: REDIS_URL when set (a developer's other Redis, CI's), else the local
 * default. A test that opened `new Redis()` would talk to 127.0.0.1:6379 whatever REDIS_URL says, and its
 * "nothing was created" check would then look at the wrong server and could not fail.
 */
import { Redis, type RedisOptions } from 'ioredis';

/** The Redis every test uses (the CLI and the workers they start get the same through their environment). */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A client of the tests' Redis; the caller disconnects it. */
export function testRedis(opts: RedisOptions = {}): Redis {
  return new Redis(TEST_REDIS_URL, opts);
}

/** Deletes every key under `prefix:` (a test's own random prefix), in batches. */
export async function dropKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
}
