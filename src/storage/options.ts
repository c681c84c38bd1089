/** Settings both backends read; defaults in one place. */
import type { Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';

export interface StorageOptions {
  s3Endpoint?: string;
  /** Default: on when s3Endpoint is set (MinIO, R2, OSS, s3rver: `bucket.localhost` does not resolve). */
  s3ForcePathStyle?: boolean;
  awsRegion?: string;
  /** Files and streams at or above this size go multipart (default 16 MiB). */
  multipartThresholdBytes?: number;
  log?: Logger;
  /** Multipart part size (default 8 MiB: 10,000 parts = 80 GiB before it has to grow). */
  partSizeBytes?: number;
  /** Parts in flight per upload (default 4); memory is about queueSize x partSize. */
  uploadQueueSize?: number;
  /** Objects per listing page (default 1000, S3's maximum). */
  listPageSize?: number;
  /** SDK attempts per request, first included (default 5), with the standard strategy (backoff with jitter). */
  maxAttempts?: number;
  /** TCP connect timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** Until the response headers, request body included (default 300 s: a 16 MiB PUT on a slow link). */
  requestTimeoutMs?: number;
  /** Longest silence on a socket, also mid-body (default 60 s): a stalled download fails instead of hanging. */
  idleTimeoutMs?: number;
}

export type ResolvedStorageOptions = Required<Omit<StorageOptions, 's3Endpoint' | 's3ForcePathStyle' | 'awsRegion'>> &
  Pick<StorageOptions, 's3Endpoint' | 's3ForcePathStyle' | 'awsRegion'>;

const MiB = 1024 * 1024;
/** The longest a SigV4 presigned URL may live (7 days); the local backend applies the same bound. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export function resolveOptions(opts: StorageOptions = {}): ResolvedStorageOptions {
  const partSizeBytes = Math.max(5 * MiB, opts.partSizeBytes ?? 8 * MiB); // S3's minimum part size
  return {
    ...opts,
    multipartThresholdBytes: opts.multipartThresholdBytes ?? 16 * MiB,
    log: opts.log ?? silentLogger,
    partSizeBytes,
    uploadQueueSize: opts.uploadQueueSize ?? 4,
    listPageSize: Math.min(1000, Math.max(1, opts.listPageSize ?? 1000)),
    maxAttempts: opts.maxAttempts ?? 5,
    connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
    requestTimeoutMs: opts.requestTimeoutMs ?? 300_000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
  };
}
