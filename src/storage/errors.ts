/**
 * Storage failures -> OmniError with a code, classified once here so both backends and every caller agree on
 * what happened; whether it is worth retrying is the failure table's word (util/failure-codes.ts):
 *
 *   storage_not_found        the object (or file) is not there                      permanent
 *   storage_denied           credentials or permissions refuse it, or a symlink leaves the root
 *   storage_invalid_key      a key that cannot be stored safely                      permanent
 *   storage_invalid_location bad location string, missing bucket or root folder      permanent
 *   storage_rejected         any other 4xx: the request itself is wrong              permanent
 *   storage_unavailable      5xx, throttling, timeouts, connection lost, disk full   retryable
 *   storage_integrity        size or MD5 differs from what the store announced       retryable
 *   storage_aborted          the caller's AbortSignal fired (shutdown): redo later   retryable
 */
import { OmniError } from '../util/errors.ts';

export type StorageErrorCode =
  | 'storage_not_found'
  | 'storage_denied'
  | 'storage_invalid_key'
  | 'storage_invalid_location'
  | 'storage_rejected'
  | 'storage_unavailable'
  | 'storage_integrity'
  | 'storage_aborted';

export function storageError(
  code: StorageErrorCode,
  message: string,
  extra: { status?: number; providerCode?: string; cause?: unknown; details?: Record<string, unknown> } = {},
): OmniError {
  return new OmniError(code, message, { ...extra });
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const DENIED_NAMES = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'AllAccessDisabled',
  'CredentialsProviderError',
]);
const UNAVAILABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestAbortedError',
]);

interface SdkLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (err as { name?: string } | undefined)?.name === 'AbortError';
}

/** Any error from an S3 call (SDK service error, network error, stream error) -> OmniError. */
export function fromS3Error(err: unknown, what: string, signal?: AbortSignal): OmniError {
  if (err instanceof OmniError) return err;
  const e = (err ?? {}) as SdkLikeError;
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const msg = `${what}: ${name}${e.message && e.message !== name ? `: ${e.message}` : ''}`;
  const extra = { status, providerCode: name, cause: err };
  if (isAbort(err, signal)) return storageError('storage_aborted', `${what}: aborted`, { cause: err });
  // the service refused a body whose Content-MD5 did not match: damaged on the way, send it again
  if (name === 'BadDigest' || name === 'InvalidDigest') return storageError('storage_integrity', msg, extra);
  if (name === 'NoSuchBucket') return storageError('storage_invalid_location', msg, extra);
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return storageError('storage_not_found', msg, extra);
  if (DENIED_NAMES.has(name) || status === 401 || status === 403) return storageError('storage_denied', msg, extra);
  if (UNAVAILABLE_NAMES.has(name) || (e.code !== undefined && NETWORK_CODES.has(e.code)) || status === 429 || (status !== undefined && status >= 500)) {
    return storageError('storage_unavailable', msg, extra);
  }
  if (status !== undefined && status >= 400) return storageError('storage_rejected', msg, extra);
  // No HTTP status and nothing we recognise: a transport problem (socket, stream, DNS) far more often than not.
  return storageError('storage_unavailable', msg, extra);
}

/** A Node fs error from the local backend -> OmniError. */
export function fromFsError(err: unknown, what: string, signal?: AbortSignal): OmniError {
  if (err instanceof OmniError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const msg = `${what}: ${code ?? 'Error'}: ${(err as Error | undefined)?.message ?? String(err)}`;
  const extra = { providerCode: code, cause: err };
  if (isAbort(err, signal)) return storageError('storage_aborted', `${what}: aborted`, { cause: err });
  switch (code) {
    case 'ENOENT':
      return storageError('storage_not_found', msg, extra);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return storageError('storage_denied', msg, extra);
    case 'ENOTDIR':
    case 'EISDIR':
    case 'ENAMETOOLONG':
      // a local folder cannot hold both 'a' and 'a/b' as S3 can, nor names longer than 255 bytes
      return storageError('storage_invalid_key', msg, extra);
    default:
      // ENOSPC, EIO, EMFILE, EBUSY...: the disk or the process is under pressure; another attempt may pass.
      return storageError('storage_unavailable', msg, extra);
  }
}
