/**
 * Every error the product raises on purpose carries a machine-readable `code` and says whether trying
 * again can help. Workers map this once: retryable -> throw (BullMQ backs off), not retryable ->
 * UnrecoverableError. Messages never contain secrets.
 */
import type { FailureCode } from './failure-codes.ts';
import { redactText } from './redact.ts';
import { definedOnly } from './defined.ts';

export type { FailureCode } from './failure-codes.ts';

export interface ErrorOptions {
  retryable: boolean;
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

  constructor(code: FailureCode, message: string, opts: ErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OmniError';
    this.code = code;
    this.retryable = opts.retryable;
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
 * Errors that are bugs, not weather: a wrong type, a corrupt JSON document, a value out of range, a missing
 * name. Trying again runs the same code on the same data and fails the same way, so they are never retried
 * (p-retry's rule). A subclass counts (`instanceof`), an error of another realm by its name.
 */
const PROGRAMMER_ERRORS = ['TypeError', 'SyntaxError', 'RangeError', 'ReferenceError'] as const;

export function isProgrammerError(err: unknown): err is Error {
  // fetch() reports a network failure as TypeError("fetch failed") with the system error as its cause: weather.
  if (err instanceof Error && typeof (err.cause as { code?: unknown } | undefined)?.code === 'string') return false;
  if (err instanceof TypeError || err instanceof SyntaxError || err instanceof RangeError || err instanceof ReferenceError) return true;
  return err instanceof Error && (PROGRAMMER_ERRORS as readonly string[]).includes(err.name);
}

/**
 * A one-line `code: message` for any thrown value. Unknown errors become `internal`: a programmer error
 * (TypeError, SyntaxError such as a corrupt staged JSON, RangeError, ReferenceError) is not retryable and its
 * message says so, so the failures file tells a bug from a fault; anything else (a library's own Error) may be
 * weather and is retried. The message is redacted (URL queries, credentials, configured secrets): it is stored
 * in Redis and in the run's files.
 */
export function describeError(err: unknown): { code: FailureCode; message: string; retryable: boolean } {
  if (isOmniError(err)) return { code: err.code, message: redactText(err.message), retryable: err.retryable };
  if (isProgrammerError(err)) return { code: 'internal', message: redactText(`programmer error (${err.name}), not retried: ${err.message}`), retryable: false };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message: redactText(message), retryable: true };
}
