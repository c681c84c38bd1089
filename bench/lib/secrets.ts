/**
 * Looking for a secret where it must never be: files (worker logs, outputs, staging, s3rver's data folder) and
 * every Redis key and value under a prefix. Every chaos harness scans before it cleans up and records what it
 * saw here, so the `secrets` scenario can report on all the scenarios that ran before it.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';

export interface SecretScan {
  scenario: string;
  files: number;
  bytes: number;
  redisKeys: number;
  /** where the secret was found: "file:<path>" or "redis:<key>" */
  hits: string[];
}

const scans: SecretScan[] = [];
export const recordedScans = (): readonly SecretScan[] => scans;
export function recordScan(s: SecretScan): void {
  scans.push(s);
}

/** Every regular file under `dir`, recursively (bounded). */
async function* walk(dir: string, depth = 0): AsyncGenerator<string> {
  if (depth > 30) return;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p, depth + 1);
    else if (e.isFile()) yield p;
  }
}

export async function scanFiles(dirs: readonly string[], secret: string): Promise<{ files: number; bytes: number; hits: string[] }> {
  const needle = Buffer.from(secret);
  const out = { files: 0, bytes: 0, hits: [] as string[] };
  for (const dir of dirs) {
    for await (const f of walk(dir)) {
      const st = await stat(f).catch(() => undefined);
      if (!st || st.size > 512 * 1024 * 1024) continue;
      const buf = await readFile(f).catch(() => undefined);
      if (!buf) continue;
      out.files++;
      out.bytes += buf.length;
      if (buf.indexOf(needle) >= 0) out.hits.push(`file:${f}`);
    }
  }
  return out;
}

/** Keys under `prefix:*` and their contents, whatever their type. */
export async function scanRedis(redis: Redis, prefix: string, secret: string): Promise<{ keys: number; hits: string[] }> {
  const hits: string[] = [];
  let keys = 0;
  let cursor = '0';
  for (let i = 0; i < 100_000; i++) {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    for (const key of batch) {
      keys++;
      if (key.includes(secret)) hits.push(`redis:${key} (name)`);
      const type = await redis.type(key);
      let values: (string | Buffer)[] = [];
      if (type === 'string') values = [(await redis.getBuffer(key)) ?? Buffer.alloc(0)];
      else if (type === 'hash') values = Object.entries(await redis.hgetall(key)).flat();
      else if (type === 'list') values = await redis.lrange(key, 0, -1);
      else if (type === 'set') values = await redis.smembers(key);
      else if (type === 'zset') values = await redis.zrange(key, '0', '-1');
      else if (type === 'stream') values = (await redis.xrange(key, '-', '+')).flatMap(([id, fields]) => [String(id), ...fields.map(String)]);
      if (values.some((v) => v.includes(secret))) hits.push(`redis:${key}`);
    }
    cursor = next;
    if (cursor === '0') break;
  }
  return { keys, hits };
}
