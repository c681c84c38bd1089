/**
 * Both backends behind one factory, so one behavioural suite runs against each: every call to
 * `fresh()` gives an empty location of its own (an S3 prefix in one s3rver bucket, or a new folder).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openStorage, type StorageOptions } from '../../src/storage/index.ts';
import type { Storage } from '../../src/storage/types.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';
import { type S3rverHandle, startS3rver } from '../helpers/s3rver.ts';

export interface Fresh {
  store: Storage;
  location: string;
  /** Everything that exists in the backend outside this location (compare before/after: it must not grow). */
  outside(): Promise<string[]>;
}

export interface Backend {
  name: 's3' | 'local';
  fresh(opts?: StorageOptions): Fresh;
  close(): Promise<void>;
}

let counter = 0;

export async function s3Backend(): Promise<Backend & { s3: S3rverHandle; bucket: string }> {
  const s3 = await startS3rver();
  Object.assign(process.env, s3.env);
  const bucket = s3.buckets[0];
  const stores: Storage[] = [];
  const open = (loc: string, opts?: StorageOptions) => {
    const s = openStorage(loc, { s3Endpoint: s3.endpoint, s3ForcePathStyle: true, awsRegion: 'us-east-1', ...opts });
    stores.push(s);
    return s;
  };
  return {
    name: 's3',
    s3,
    bucket,
    fresh(opts) {
      const prefix = `loc-${++counter}/`;
      const location = `s3://${bucket}/${prefix}`;
      return {
        store: open(location, opts),
        location,
        async outside() {
          const all = open(`s3://${bucket}/`);
          const keys: string[] = [];
          for await (const o of all.list('')) if (!o.key.startsWith(prefix)) keys.push(o.key);
          return keys;
        },
      };
    },
    async close() {
      for (const s of stores) s.close();
      await s3.stop();
    },
  };
}

export async function localBackend(): Promise<Backend & { base: string }> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-storage-test-'));
  return {
    name: 'local',
    base,
    fresh(opts) {
      const parent = path.join(base, `loc-${++counter}`);
      const location = path.join(parent, 'dest');
      return {
        store: openStorage(location, opts),
        location,
        async outside() {
          // everything under the parent folder except the destination itself
          const names = await readdir(parent, { recursive: true }).catch(() => [] as string[]);
          return names.filter((n) => n !== 'dest' && !n.startsWith(`dest${path.sep}`));
        },
      };
    },
    async close() {
      await rm(base, { recursive: true, force: true });
    },
  };
}

export async function md5File(file: string): Promise<string> {
  const h = createHash('md5');
  await pipeline(
    createReadStream(file),
    new Writable({
      write(chunk, _e, cb) {
        h.update(chunk);
        cb();
      },
    }),
  );
  return h.digest('hex');
}

export const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

/** Runs fn over items with at most n in flight. */
export async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** A debug logger whose records the test can read. */
export function memoryLogger(): { log: Logger; records: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const log = createLogger({ level: 'debug', pretty: false, destination });
  return {
    log,
    records: () =>
      lines
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
