/**
 * Storage entry point: a location string -> a Storage (S3 or a local folder). The pipeline reads
 * sources and writes results only through this.
 */
import type { Config } from '../config/index.ts';
import { LocalStorage } from './local.ts';
import { parseLocation } from './location.ts';
import { resolveOptions, type StorageOptions } from './options.ts';
import { createS3Client, S3Storage } from './s3.ts';
import type { Storage } from './types.ts';

export { type StorageErrorCode, storageError } from './errors.ts';
export { type Location, locationUri, parseLocation } from './location.ts';
export type { StorageOptions } from './options.ts';
export type { ObjectInfo, Storage, UploadBody } from './types.ts';

/** Keys passed to the returned store are relative to the location's prefix (S3) or folder (local). */
export function openStorage(location: string, opts: StorageOptions = {}): Storage {
  const loc = parseLocation(location);
  const resolved = resolveOptions(opts);
  if (loc.kind === 'local') return new LocalStorage(loc.root, resolved);
  return new S3Storage(loc.bucket, loc.prefix, createS3Client(resolved), resolved);
}

/** Credentials are not here on purpose: the SDK's default chain (env, profile, IMDS...) finds them. */
export function storageOptionsFromConfig(cfg: Config): StorageOptions {
  return {
    s3Endpoint: cfg.s3Endpoint,
    s3ForcePathStyle: cfg.s3ForcePathStyle ?? Boolean(cfg.s3Endpoint),
    awsRegion: cfg.awsRegion,
  };
}
