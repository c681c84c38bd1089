/**
 * The local-folder backend: the same contract as S3 on a directory, for laptops and tests.
 *
 * - Keys map to paths under the root through `confinedPath` ('.'/'..' keys are refused), and every
 *   read resolves symlinks and refuses a target outside the root; writes refuse to pass through a
 *   symlinked folder that leads outside it.
 * - Writes are atomic: a temp file in the same folder, fsync, rename. A reader sees the old file or
 *   the new one, never half of one.
 * - ETag is `<size hex>-<mtime ns hex>`: free to compute for a million files (no reading), and it
 *   changes whenever the file is rewritten, as make and rsync assume. Blind spot: a same-size rewrite
 *   within one tick of the kernel's file clock, or a tool that restores the old mtime. It is not an
 *   MD5 and never 32 hex digits, so nothing mistakes it for one.
 * - Deleting the last file of a folder removes the emptied folders up to the root, as S3 has none.
 */
import { randomUUID } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readFile, realpath, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { fromFsError, storageError } from './errors.ts';
import { assertKey, assertPrefix, confinedPath } from './keys.ts';
import { isInside, walkSorted } from './local-walk.ts';
import { MAX_PRESIGN_SECONDS, type ResolvedStorageOptions } from './options.ts';
import { jsonBytes, landStream, Meter } from './transfer.ts';
import type { ByteRange, DownloadLimits, ObjectInfo, Storage, UploadBody } from './types.ts';

export function localEtag(s: { size: bigint; mtimeNs: bigint }): string {
  return `${s.size.toString(16)}-${s.mtimeNs.toString(16)}`;
}

function infoOf(key: string, s: BigIntStats): ObjectInfo {
  return { key, size: Number(s.size), etag: localEtag(s), lastModified: new Date(Number(s.mtimeMs)) };
}

const isCode = (err: unknown, ...codes: string[]) => codes.includes((err as NodeJS.ErrnoException)?.code ?? '');

export class LocalStorage implements Storage {
  readonly uri: string;

  constructor(
    private readonly root: string,
    private readonly opts: ResolvedStorageOptions,
  ) {
    const href = pathToFileURL(root).href;
    this.uri = href.endsWith('/') ? href : `${href}/`;
  }

  uriOf(key: string): string {
    return `${this.uri}${key}`;
  }

  /** The root with symlinks resolved; storage_invalid_location when it is missing or not a folder. */
  private async realRoot(): Promise<string> {
    try {
      const real = await realpath(this.root);
      if (!(await stat(real)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      return real;
    } catch (err) {
      throw storageError(
        'storage_invalid_location',
        `${this.uri}: the folder does not exist or is not a folder (${(err as NodeJS.ErrnoException).code ?? err})`,
        { cause: err },
      );
    }
  }

  /** The real path of an existing key, refused if a symlink leads outside the root; undefined if missing. */
  private async resolveExisting(key: string, what: string): Promise<string | undefined> {
    const p = confinedPath(this.root, key);
    let real: string;
    try {
      real = await realpath(p);
    } catch (err) {
      if (isCode(err, 'ENOENT', 'ENOTDIR')) return undefined;
      throw fromFsError(err, what);
    }
    if (!isInside(await this.realRoot(), real)) throw storageError('storage_denied', `${what}: a symlink leads outside ${this.uri}`);
    return real;
  }

  private async statFile(key: string, what: string): Promise<{ real: string; stats: BigIntStats } | undefined> {
    const real = await this.resolveExisting(key, what);
    if (!real) return undefined;
    const stats = await stat(real, { bigint: true }).catch((err) => {
      if (isCode(err, 'ENOENT')) return undefined;
      throw fromFsError(err, what);
    });
    return stats?.isFile() ? { real, stats } : undefined; // a folder is not an object (as in S3)
  }

  async *listPages(prefix = ''): AsyncIterable<ObjectInfo[]> {
    assertPrefix(prefix);
    const realRoot = await this.realRoot();
    const slash = prefix.lastIndexOf('/');
    const relDir = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    let absDir = realRoot;
    if (relDir !== '') {
      const real = await this.resolveExisting(relDir.slice(0, -1), `list ${this.uri}${prefix}`);
      if (!real) return;
      absDir = real;
    }
    let page: ObjectInfo[] = [];
    try {
      for await (const e of walkSorted(realRoot, absDir, relDir, namePrefix)) {
        page.push(infoOf(e.key, e.stats));
        if (page.length >= this.opts.listPageSize) {
          yield page;
          page = [];
        }
      }
    } catch (err) {
      throw fromFsError(err, `list ${this.uri}${prefix}`);
    }
    if (page.length > 0) yield page;
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    for await (const page of this.listPages(prefix)) yield* page;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const f = await this.statFile(key, `head ${this.uriOf(key)}`);
    return f && infoOf(key, f.stats);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  async delete(key: string): Promise<void> {
    const p = confinedPath(this.root, key);
    try {
      const s = await lstat(p);
      if (s.isDirectory()) return; // 'a' when only 'a/b' exists: no such object, as in S3
      await unlink(p); // a symlink is removed itself, its target is never touched
    } catch (err) {
      if (isCode(err, 'ENOENT', 'ENOTDIR')) return;
      throw fromFsError(err, `delete ${this.uriOf(key)}`);
    }
    await this.pruneEmptyDirs(path.dirname(p));
  }

  private async pruneEmptyDirs(dir: string): Promise<void> {
    const root = path.resolve(this.root);
    for (let d = dir; d !== root && isInside(root, d); d = path.dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or already gone, or in use): stop climbing
      }
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (prefix === '') throw storageError('storage_invalid_key', 'deletePrefix needs a non-empty prefix (refusing to empty the whole location)');
    let deleted = 0;
    try {
      for await (const page of this.listPages(prefix)) {
        for (const o of page) await this.delete(o.key);
        deleted += page.length;
      }
    } catch (err) {
      // Nothing was ever written here (the destination folder does not exist yet): nothing to delete.
      if ((err as { code?: string }).code === 'storage_invalid_location') return 0;
      throw err;
    }
    return deleted;
  }

  async download(key: string, file: string, signal?: AbortSignal, limits: DownloadLimits = {}): Promise<ObjectInfo> {
    const what = `download ${this.uriOf(key)}`;
    const f = await this.statFile(key, what);
    if (!f) throw storageError('storage_not_found', `${what}: no such file`);
    const before = infoOf(key, f.stats);
    await landStream(createReadStream(f.real), file, { size: before.size }, what, (err) => fromFsError(err, what), signal, limits.maxBytes);
    const after = await stat(f.real, { bigint: true }).catch(() => undefined);
    if (!after || localEtag(after) !== before.etag) {
      await rm(file, { force: true });
      throw storageError('storage_integrity', `${what}: the file changed while it was being copied`);
    }
    return before;
  }

  async upload(body: UploadBody, key: string): Promise<ObjectInfo> {
    const what = `upload ${this.uriOf(key)}`;
    if (typeof body !== 'string') return this.writeAtomic(key, body, what);
    const s = await stat(body).catch((err) => {
      throw fromFsError(err, `${what}: reading ${body}`);
    });
    // a file can be read again: a write a concurrent prune interrupted is tried again from its start
    return this.writeAtomic(key, () => createReadStream(body), what, s.size);
  }

  /** Creates the key's folders one by one, refusing to pass through a symlink that leads outside the root. */
  private async ensureParent(key: string, what: string): Promise<string> {
    const target = confinedPath(this.root, key);
    await mkdir(this.root, { recursive: true }).catch((err) => {
      throw fromFsError(err, `${what}: creating ${this.root}`);
    });
    const realRoot = await this.realRoot();
    let dir = path.resolve(this.root);
    for (const segment of key.split('/').slice(0, -1)) {
      dir = path.join(dir, segment);
      try {
        const s = await lstat(dir);
        if (s.isSymbolicLink()) {
          if (!isInside(realRoot, await realpath(dir))) throw storageError('storage_denied', `${what}: a symlink leads outside ${this.uri}`);
        } else if (!s.isDirectory()) {
          throw storageError('storage_invalid_key', `${what}: ${segment} is a file, so it cannot also be a folder (S3 allows both, folders do not)`);
        }
      } catch (err) {
        if (!isCode(err, 'ENOENT')) throw fromFsError(err, what);
        await mkdir(dir).catch((e) => {
          if (!isCode(e, 'EEXIST')) throw fromFsError(e, what);
        });
      }
    }
    return target;
  }

  /** temp file in the same folder -> fsync -> rename: all or nothing, even across a crash. */
  /** `data`: bytes, a stream (read once), or a way to open the stream again (a file: retried like bytes). */
  private async writeAtomic(key: string, data: Buffer | Readable | (() => Readable), what: string, expectedSize?: number): Promise<ObjectInfo> {
    assertKey(key);
    const replayable = Buffer.isBuffer(data) || typeof data === 'function';
    // A concurrent delete may prune the folder (another file's staging ending: measured in the batch bench, 5
    // of 2,000 uploads) between creating it and writing into it, or while it is being created: try again.
    for (let attempt = 1; ; attempt++) {
      let tmp: string | undefined;
      try {
        const target = await this.ensureParent(key, what);
        tmp = path.join(path.dirname(target), `.omnibatch-${randomUUID()}.tmp`);
        let bytes: number;
        if (Buffer.isBuffer(data)) {
          const fh = await open(tmp, 'wx');
          try {
            await fh.writeFile(data);
            await fh.sync();
          } finally {
            await fh.close();
          }
          bytes = data.length;
        } else {
          const meter = new Meter();
          await pipeline(typeof data === 'function' ? data() : data, meter, createWriteStream(tmp, { flags: 'wx' }));
          const fh = await open(tmp, 'r+');
          await fh.sync().finally(() => fh.close());
          bytes = meter.bytes;
          if (expectedSize !== undefined && bytes !== expectedSize) {
            throw storageError('storage_integrity', `${what}: copied ${bytes} bytes, the file had ${expectedSize} (changed while uploading?)`);
          }
        }
        await rename(tmp, target);
        const s = await stat(target, { bigint: true });
        this.opts.log.debug({ key, size: bytes }, 'written');
        return infoOf(key, s);
      } catch (err) {
        if (tmp) await rm(tmp, { force: true });
        // ENOENT raw (the write) or wrapped by ensureParent (a folder pruned while it was being created)
        if (attempt < 3 && replayable && (isCode(err, 'ENOENT') || isCode((err as { cause?: unknown }).cause, 'ENOENT'))) continue;
        throw fromFsError(err, what);
      }
    }
  }

  async putJson(key: string, value: unknown): Promise<void> {
    await this.writeAtomic(key, jsonBytes(value, `putJson ${this.uriOf(key)}`), `putJson ${this.uriOf(key)}`);
  }

  async putText(key: string, text: string): Promise<void> {
    await this.writeAtomic(key, Buffer.from(text, 'utf8'), `putText ${this.uriOf(key)}`);
  }

  async getText(key: string): Promise<string | undefined> {
    const what = `get ${this.uriOf(key)}`;
    const f = await this.statFile(key, what);
    if (!f) return undefined;
    try {
      return await readFile(f.real, 'utf8');
    } catch (err) {
      if (isCode(err, 'ENOENT')) return undefined;
      throw fromFsError(err, what);
    }
  }

  async readRange(key: string, range?: ByteRange): Promise<{ stream: Readable; info: ObjectInfo } | undefined> {
    const f = await this.statFile(key, `read ${this.uriOf(key)}`);
    if (!f) return undefined;
    return { stream: createReadStream(f.real, range && { start: range.start, end: range.end }), info: infoOf(key, f.stats) };
  }

  async presignGet(key: string, seconds: number): Promise<string> {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PRESIGN_SECONDS) {
      throw storageError('storage_rejected', `presign ${this.uriOf(key)}: expiry must be 1..${MAX_PRESIGN_SECONDS} s, got ${seconds}`);
    }
    // Encoded by pathToFileURL: '#', '?', '%' and spaces survive the trip through a URL.
    return pathToFileURL(confinedPath(this.root, key)).href;
  }

  close(): void {}
}
