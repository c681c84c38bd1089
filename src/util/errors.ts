/**
 * Every error the product raises on purpose carries a machine-readable `code`; whether trying again can help,
 * and what the queue does, is the failure table's word for that code (failure-codes.ts), never the raiser's.
 * Messages never contain secrets.
 */

import { definedOnly } from './defined.ts';
import { type FailureCode, retryableCode } from './failure-codes.ts';
import { redactText } from './redact.ts';

export type { FailureCode } from './failure-codes.ts';

export interface ErrorOptions {
  status?: number;
  providerCode?: string;
  retryAfterMs?: number;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class OmniError extends Error {
  readonly code: FailureCode;
  readonly retryable: boolean;
  readonly status?: number;
  readonly providerCode?: string;
  readonly retryAfterMs?: number;
  readonly details?: Record<string, unknown>;

  constructor(code: FailureCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OmniError';
    this.code = code;
    this.retryable = retryableCode(code);
    this.status = opts.status;
    this.providerCode = opts.providerCode;
    this.retryAfterMs = opts.retryAfterMs;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...definedOnly({ status: this.status, providerCode: this.providerCode, retryAfterMs: this.retryAfterMs }),
    };
  }
}

export function isOmniError(err: unknown): err is OmniError {
  return err instanceof OmniError;
}

/**
 * A one-line `code: message` for any thrown value. An error without a code is `internal` and never retried:
 * a bug (TypeError, a corrupt staged JSON's SyntaxError, ...) fails the same way on the same data, and weather
 * that can pass (a store's 503, a model's 5xx) is coded where it is met (models/errors.ts, storage/errors.ts).
 * The one uncoded weather is a lost connection (a system error code such as ECONNRESET on the error or its
 * cause: fetch's TypeError("fetch failed"), a Redis reconnect): `connection`, retried. A programmer error says so
 * in its message, so the failures file tells a bug from a fault. The message is redacted (URL queries,
 * credentials, configured secrets): it is stored in Redis and in the run's files.
 */
export function describeError(err: unknown): { code: FailureCode; message: string; retryable: boolean } {
  if (isOmniError(err)) return { code: err.code, message: redactText(err.message), retryable: err.retryable };
  const described = (code: FailureCode, message: string) => ({ code, message: redactText(message), retryable: retryableCode(code) });
  if (isConnectionLoss(err)) return described('connection', (err as Error).message);
  if (err instanceof Error && PROGRAMMER_ERRORS.includes(err.name)) return described('internal', `programmer error (${err.name}), not retried: ${err.message}`);
  return described('internal', err instanceof Error ? err.message : String(err));
}

const PROGRAMMER_ERRORS = ['TypeError', 'SyntaxError', 'RangeError', 'ReferenceError'];

/** Node's and undici's codes for a connection that failed or broke, and ioredis's words for a closed one. */
const CONNECTION_ERRNO = /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ENETDOWN|UND_ERR_\w+)$/;

function isConnectionLoss(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const errno = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  return (
    (typeof errno === 'string' && CONNECTION_ERRNO.test(errno)) || /^Connection is closed\.?$/.test(err.message) || err.name === 'MaxRetriesPerRequestError'
  );
}
