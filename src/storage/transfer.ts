/**
 * The byte-moving parts both backends share: count + MD5 bytes as they pass, and land a stream in a
 * file through `<file>.part` so a reader never sees a partial file, whatever fails.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OmniError } from '../util/errors.ts';
import { fromFsError, isAbort, storageError } from './errors.ts';

/** The permanent failure of an object larger than the caller allows (a stranger's upload, not a storage fault). */
export function tooLargeError(what: string, bytes: number, maxBytes: number, announced: boolean): OmniError {
  return new OmniError(
    'media_too_large',
    `${what}: ${announced ? `the object has ${bytes} bytes` : `more than ${bytes - 1} bytes arrived`}, more than the limit of ${maxBytes} (OMNIBATCH_MAX_DOWNLOAD_BYTES)`,
    { details: { maxBytes } },
  );
}

/** Counts and hashes what flows through it; with `maxBytes`, fails the stream at the first byte past it. */
export class Meter extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash('md5');
  private hex?: string;

  constructor(private readonly limit?: { maxBytes: number; what: string }) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    // Checked as the bytes pass, so a lying Content-Length or a growing file costs at most one more read.
    if (this.limit && this.bytes > this.limit.maxBytes) {
      cb(tooLargeError(this.limit.what, this.limit.maxBytes + 1, this.limit.maxBytes, false));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  /** Hex MD5 of everything that passed; call once the stream has ended. */
  md5(): string {
    this.hex ??= this.hash.digest('hex');
    return this.hex;
  }
}

/** True when an ETag is the object's MD5 (single-part upload): 32 hex digits, no `-N` part count. */
export function isPlainMd5(etag: string | undefined): etag is string {
  return etag !== undefined && /^[0-9a-f]{32}$/i.test(etag);
}

export function stripQuotes(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/^"+|"+$/g, '');
}

export interface Expected {
  /** undefined when the server sent no Content-Length (chunked): then only the MD5 can be checked */
  size?: number;
  /** Only set when the ETag really is the content's MD5. */
  md5?: string;
}

/**
 * source -> `<file>.part` -> verify -> rename to `file`. On any failure the part file is removed and
 * the error is mapped: write-side errors as fs errors, read-side ones by `mapSourceError`.
 */
export async function landStream(
  source: Readable,
  file: string,
  expected: Expected,
  what: string,
  mapSourceError: (err: unknown) => OmniError,
  signal?: AbortSignal,
  maxBytes?: number,
): Promise<Meter> {
  const part = `${file}.part`;
  let writeError: unknown;
  if (maxBytes !== undefined && expected.size !== undefined && expected.size > maxBytes) {
    // Announced too large: not one byte is read.
    source.destroy();
    throw tooLargeError(what, expected.size, maxBytes, true);
  }
  try {
    await mkdir(path.dirname(file), { recursive: true });
  } catch (err) {
    source.destroy();
    throw fromFsError(err, `${what}: creating the folder of ${file}`);
  }
  let out: WriteStream | undefined;
  try {
    const meter = new Meter(maxBytes === undefined ? undefined : { maxBytes, what });
    out = createWriteStream(part);
    out.on('error', (err) => {
      writeError ??= err;
    });
    await pipeline(source, meter, out, ...(signal ? [{ signal }] : []));
    if (expected.size !== undefined && meter.bytes !== expected.size) {
      throw storageError('storage_integrity', `${what}: got ${meter.bytes} bytes, expected ${expected.size}`, {
        details: { got: meter.bytes, expected: expected.size },
      });
    }
    if (expected.md5 !== undefined && meter.md5() !== expected.md5.toLowerCase()) {
      throw storageError('storage_integrity', `${what}: MD5 ${meter.md5()} differs from ETag ${expected.md5}`);
    }
    await rename(part, file).catch((err) => {
      writeError ??= err;
      throw err;
    });
    return meter;
  } catch (err) {
    source.destroy();
    // A stream destroyed before its deferred open still creates the file when the open lands: wait for its close,
    // or the .part appears after the rm (an already-aborted download left one behind, now and then).
    if (out && !out.closed) await new Promise<void>((resolve) => out!.once('close', () => resolve()));
    await rm(part, { force: true });
    if (isAbort(err, signal)) throw storageError('storage_aborted', `${what}: aborted`, { cause: err });
    if (writeError !== undefined) throw fromFsError(writeError, `${what}: writing ${file}`);
    throw mapSourceError(err);
  }
}

/** The bytes putJson writes (pretty, newline-terminated); a value JSON cannot express is refused before any write. */
export function jsonBytes(value: unknown, what: string): Buffer {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, 2);
  } catch (err) {
    throw storageError('storage_rejected', `${what}: value is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
  }
  if (text === undefined) throw storageError('storage_rejected', `${what}: value is not JSON-serialisable`);
  return Buffer.from(`${text}\n`, 'utf8');
}
