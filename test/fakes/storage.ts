/** An in-memory object store with the ports infer and prepare use (src/workers/infer.ts InferStorage, prepare-ports.ts PrepareStorage). */
import { readFile, writeFile } from 'node:fs/promises';
import { tooLargeError } from '../../src/storage/transfer.ts';
import type { DownloadLimits, ObjectInfo, UploadBody } from '../../src/storage/types.ts';
import { OmniError } from '../../src/util/errors.ts';
import type { InferStorage } from '../../src/workers/infer.ts';
import type { PrepareStorage } from '../../src/workers/prepare-ports.ts';

export class MemoryStorage implements InferStorage, PrepareStorage {
  readonly uri = 'mem://dst/';
  readonly objects = new Map<string, Buffer>();
  /** the keys read with getText, in order (a test can see what a job looked at) */
  readonly reads: string[] = [];

  put(key: string, body: string | Buffer): this {
    this.objects.set(key, Buffer.from(body));
    return this;
  }

  text(key: string): string | undefined {
    return this.objects.get(key)?.toString('utf8');
  }

  json<T = unknown>(key: string): T | undefined {
    const t = this.text(key);
    return t === undefined ? undefined : (JSON.parse(t) as T);
  }

  async getText(key: string): Promise<string | undefined> {
    this.reads.push(key);
    return this.text(key);
  }

  async putJson(key: string, value: unknown): Promise<void> {
    this.objects.set(key, Buffer.from(JSON.stringify(value)));
  }

  async putText(key: string, text: string): Promise<void> {
    this.objects.set(key, Buffer.from(text));
  }

  /** every key under `prefix` goes; how many did */
  async deletePrefix(prefix: string): Promise<number> {
    const gone = [...this.objects.keys()].filter((k) => k.startsWith(prefix));
    for (const k of gone) this.objects.delete(k);
    return gone.length;
  }

  async upload(body: UploadBody, key: string): Promise<ObjectInfo> {
    if (typeof body !== 'string' && !Buffer.isBuffer(body)) throw new Error('MemoryStorage takes a file path or a Buffer');
    const data = typeof body === 'string' ? await readFile(body) : body;
    this.objects.set(key, data);
    return this.info(key, data);
  }

  /** Like the real stores: an object over `limits.maxBytes` is refused (media_too_large) before any byte lands. */
  async download(key: string, file: string, signal?: AbortSignal, limits: DownloadLimits = {}): Promise<ObjectInfo> {
    signal?.throwIfAborted();
    const data = this.objects.get(key);
    if (!data) throw new OmniError('storage_not_found', `${key} does not exist`);
    if (limits.maxBytes !== undefined && data.length > limits.maxBytes) throw tooLargeError(key, data.length, limits.maxBytes, true);
    await writeFile(file, data);
    return this.info(key, data);
  }

  async presignGet(key: string, seconds: number): Promise<string> {
    return `mem://${key}?expires=${seconds}`;
  }

  private info(key: string, data: Buffer): ObjectInfo {
    return { key, size: data.length, etag: `mem-${data.length.toString(16)}`, lastModified: new Date(0) };
  }
}
