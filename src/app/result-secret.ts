/**
 * The deployment's result secret (outputs/signature.ts): OMNIBATCH_RESULT_SECRET when set; otherwise a random
 * 256-bit key created once in Redis (SET NX) and read by every worker of the deployment, so results signed by
 * one worker verify on any other. Losing it (a flushed Redis) makes earlier results untrusted: they are redone,
 * never trusted blindly. Cached per process and prefix.
 */
import { randomBytes } from 'node:crypto';
import { registerSecrets } from '../util/redact.ts';
import type { Context } from './context.ts';

const cache = new Map<string, Promise<string>>();

export function resultSecret(ctx: Pick<Context, 'cfg' | 'redis' | 'keyPrefix'>): Promise<string> {
  if (ctx.cfg.resultSecret) return Promise.resolve(ctx.cfg.resultSecret);
  let p = cache.get(ctx.keyPrefix);
  if (!p) {
    const key = `${ctx.keyPrefix}:result-secret`;
    p = (async () => {
      await ctx.redis.set(key, randomBytes(32).toString('hex'), 'NX');
      const s = await ctx.redis.get(key);
      if (!s) throw new Error(`${key} vanished right after it was set`);
      registerSecrets([s]);
      return s;
    })();
    p.catch(() => cache.delete(ctx.keyPrefix));
    cache.set(ctx.keyPrefix, p);
  }
  return p;
}
