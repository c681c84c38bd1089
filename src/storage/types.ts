/** The one storage interface both backends (S3 and a local directory) implement. Keys are '/'-separated. */
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  size: number;
  /** ETag without quotes (S3), or a content fingerprint (local: size-mtime based, stable until the file changes) */
  etag: string;
  lastModified: Date;
}

export interface Storage {
  /** e.g. `s3://bucket/prefix/` or `file:///abs/dir/` */
  readonly uri: string;
  /** Every object under prefix (relative to the store's root), page by page, in constant memory. */
  list(prefix?: string): AsyncIterable<ObjectInfo>;
  head(key: string): Promise<ObjectInfo | undefined>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Streams to `file`, verifies size (and MD5 where the ETag is one); never leaves a partial file. */
  download(key: string, file: string, signal?: AbortSignal): Promise<ObjectInfo>;
  upload(body: string | Buffer | Readable, key: string, contentType?: string): Promise<ObjectInfo>;
  /** Complete or not at all. */
  putJson(key: string, value: unknown): Promise<void>;
  putText(key: string, text: string, contentType?: string): Promise<void>;
  getText(key: string): Promise<string | undefined>;
  /** A URL the model service can GET (local backend: file:// URL, only useful to the emulator). */
  presignGet(key: string, seconds: number): Promise<string>;
}
