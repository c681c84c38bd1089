/** The one storage interface both backends (S3 and a local directory) implement. Keys are '/'-separated. */
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  size: number;
  /**
   * ETag without quotes (S3), or a content fingerprint (local: `<size hex>-<mtime ns hex>`, stable until
   * the file is rewritten; never 32 hex digits, so nobody mistakes it for an MD5).
   */
  etag: string;
  lastModified: Date;
}

/**
 * What `upload` takes: a string is the path of a local file, a Buffer is the content itself, a
 * Readable is a stream. S3: a Buffer, or a file below the multipart threshold, is one PUT with a
 * Content-MD5; a larger file, or a stream (size unknown), goes through the multipart uploader, which
 * falls back to one PUT when the stream turns out small. Text content goes through putText.
 */
export interface DownloadLimits {
  maxBytes?: number;
}

export type UploadBody = string | Buffer | Readable;

export interface ByteRange {
  start: number;
  /** inclusive */
  end: number;
}

export interface Storage {
  /** e.g. `s3://bucket/prefix/` or `file:///abs/dir/` */
  readonly uri: string;
  /** Every object under prefix (relative to the store's root), page by page, in constant memory. */
  list(prefix?: string): AsyncIterable<ObjectInfo>;
  /** The same objects as `list`, one array per page (S3: one ListObjectsV2 call; at most 1000 each). */
  listPages(prefix?: string): AsyncIterable<ObjectInfo[]>;
  head(key: string): Promise<ObjectInfo | undefined>;
  exists(key: string): Promise<boolean>;
  /** Deleting a missing key is not an error (S3 semantics). */
  delete(key: string): Promise<void>;
  /** Deletes every object under prefix (e.g. a run's staging); returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * Streams to `file`, verifies size (and MD5 where the ETag is one); never leaves a partial file. With
   * `limits.maxBytes`, an object announced larger is refused before any byte is read, and a download that
   * passes it is aborted there (media_too_large, permanent).
   */
  download(key: string, file: string, signal?: AbortSignal, limits?: DownloadLimits): Promise<ObjectInfo>;
  upload(body: UploadBody, key: string, contentType?: string): Promise<ObjectInfo>;
  /** Complete or not at all. */
  putJson(key: string, value: unknown): Promise<void>;
  putText(key: string, text: string, contentType?: string): Promise<void>;
  getText(key: string): Promise<string | undefined>;
  /**
   * A byte range of an object as a stream (`end` inclusive, as in HTTP Range), with the object's info; undefined
   * when there is no such object. For the dashboard's player and output links, which serve the bucket through
   * the dashboard itself (never a presigned URL to the browser).
   */
  readRange?(key: string, range?: ByteRange): Promise<{ stream: Readable; info: ObjectInfo } | undefined>;
  /** A URL the model service can GET (local backend: file:// URL, only useful to the emulator). */
  presignGet(key: string, seconds: number): Promise<string>;
  /** The full URI of a key: `s3://bucket/prefix/key` or `file:///abs/dir/key`. */
  uriOf(key: string): string;
  /** Releases sockets (S3); the store must not be used afterwards. */
  close(): void;
}
