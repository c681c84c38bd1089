/**
 * The check behind `omnibatch health [target]` (src/cli/health.ts), the container healthcheck.
 * target: an http(s) URL (healthy when it answers below 500, e.g. a worker's /healthz or the emulator),
 * or a redis(s) URL (healthy when it answers PING). The detail names no credentials.
 */
import { Redis } from 'ioredis';

export interface Health {
  ok: boolean;
  detail: string;
}

export async function checkTarget(target: string, timeoutMs = 3_000): Promise<Health> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { ok: false, detail: 'not a URL' };
  }
  const shown = `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer().catch(() => undefined);
      return { ok: res.status < 500, detail: `${shown}: HTTP ${res.status}` };
    } catch (err) {
      return { ok: false, detail: `${shown}: ${reason(err)}` };
    }
  }
  if (url.protocol === 'redis:' || url.protocol === 'rediss:') {
    const redis = new Redis(target, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined); // reported through the rejected promise below
    try {
      await redis.connect();
      const pong = await redis.ping();
      return { ok: pong === 'PONG', detail: `${shown}: ${pong}` };
    } catch (err) {
      return { ok: false, detail: `${shown}: ${reason(err)}` };
    } finally {
      redis.disconnect();
    }
  }
  return { ok: false, detail: `${url.protocol} is not a target this check knows` };
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as { code?: string }).code ?? err.message;
}
