/**
 * Every error the product raises on purpose carries a machine-readable `code` and says whether trying
 * again can help. Workers map this once: retryable -> throw (BullMQ backs off), not retryable ->
 * UnrecoverableError. Messages never contain secrets.
 */
import { redactText } from './redact.ts';

export interface ErrorOptions {
  retryable: boolean;
  status?: number;
  providerCode?: string;
  retryAfterMs?: number;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class OmniError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly status?: number;
  readonly providerCode?: string;
  readonly retryAfterMs?: number;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, opts: ErrorOptions) {
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
      ...(this.status !== undefined && { status: this.status }),
      ...(this.providerCode !== undefined && { providerCode: this.providerCode }),
      ...(this.retryAfterMs !== undefined && { retryAfterMs: this.retryAfterMs }),
    };
  }
}

export function isOmniError(err: unknown): err is OmniError {
  return err instanceof OmniError;
}

/**
 * A one-line `code: message` for any thrown value; unknown errors become `internal`. The message is
 * redacted (URL queries, credentials, configured secrets): it is stored in Redis and in the run's files.
 */
export function describeError(err: unknown): { code: string; message: string; retryable: boolean } {
  if (isOmniError(err)) return { code: err.code, message: redactText(err.message), retryable: err.retryable };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message: redactText(message), retryable: true };
}
