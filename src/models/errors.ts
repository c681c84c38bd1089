/**
 * Error classification for the model service, pure: (HTTP status, headers, parsed body or in-stream
 * error frame) -> one OmniError with a machine-readable code and the provider's code; whether trying again
 * can help is the failure table's word for the code (util/failure-codes.ts). Every protocol's envelope is read here (docs/protocols.md §5):
 *   compat / responses  {"error":{"message","type","param","code"},"request_id"}
 *   native              {"code","message","request_id"}
 *   responses failures  {"type":"response.failed","response":{"error":{"code","message"}}} / {"type":"error","code","message"}
 */
import { OmniError } from '../util/errors.ts';

export type ModelErrorCode =
  | 'rate_limited'
  | 'quota_exceeded'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'stream_truncated'
  | 'service_invalid_request'
  | 'input_too_large'
  | 'content_blocked'
  | 'auth'
  | 'arrears'
  | 'model_not_found'
  | 'aborted'
  | 'service_unknown';

export type HeaderBag = Record<string, string | string[] | undefined> | Headers;

export interface ErrorInput {
  /** HTTP status (for an in-stream error: the frame's `:HTTP_STATUS/N` if any, else undefined) */
  status?: number;
  headers?: HeaderBag;
  /** the parsed JSON body or error frame, or its raw text when it was not JSON */
  body?: unknown;
  /** the error arrived inside a stream that had started (HTTP 200) */
  inStream?: boolean;
  /** clock for Retry-After HTTP dates (tests) */
  now?: number;
}

export interface ProviderError {
  code?: string;
  type?: string;
  message?: string;
  requestId?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Reads code/type/message/request id out of any of the envelopes above. */
export function providerError(body: unknown): ProviderError {
  if (typeof body === 'string') {
    try {
      return providerError(JSON.parse(body));
    } catch {
      return { message: body.slice(0, 500) || undefined };
    }
  }
  const b = obj(body);
  if (!b) return {};
  const requestId = str(b.request_id) ?? str(b.requestId) ?? str(b.id);
  const nested = obj(b.error) ?? obj(obj(b.response)?.error);
  if (nested) {
    return { code: str(nested.code), type: str(nested.type), message: str(nested.message), requestId };
  }
  return { code: str(b.code), type: b.type === 'error' ? undefined : str(b.type), message: str(b.message), requestId };
}

function header(headers: HeaderBag | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : bag[key];
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3); `retry-after-ms` wins when present. */
export function retryAfterMs(headers: HeaderBag | undefined, now = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.round(Number(ms));
  const v = header(headers, 'retry-after')?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * A 400 whose message says a duration, size or token count is over a limit: the chunk must be made
 * smaller, not retried. Covers "Range of input length should be [1, N]" (token ceiling), "Exceeded limit
 * on max bytes per data-uri item", "The audio duration exceeds ..." and the like.
 */
const TOO_LARGE_MESSAGE = new RegExp(
  [
    'range of input length',
    'input length .*exceed',
    '(exceed|too long|too large|too big|larger than|longer than|more than|over the|greater than|maximum|max\\b).*(duration|size|length|tokens?|seconds?|minutes?|bytes?|characters?|mb\\b|frames?)',
    '(duration|file size|size|length|tokens?|bytes?|frames?|base64 data)\\b.*(exceed|too long|too large|over the limit|must not be greater|should not exceed)',
  ].join('|'),
  'i',
);

export function messageSaysTooLarge(message: string | undefined): boolean {
  return !!message && TOO_LARGE_MESSAGE.test(message);
}

type Rule = [RegExp, ModelErrorCode];

/** Provider codes first: the same HTTP status (400, 429) means different things by code. Order matters. */
const CODE_RULES: Rule[] = [
  [/^DataInspectionFailed$|^data_inspection_failed$/i, 'content_blocked'],
  [/^Arrearage$/i, 'arrears'],
  [/^InvalidApiKey$|^invalid_api_key$|^AccessDenied|^Unauthorized$|^AllocationQuota\.FreeTierOnly$/i, 'auth'],
  // TPM: "Allocated quota exceeded" / "You exceeded your current quota".
  [/^Throttling\.AllocationQuota$|^insufficient_quota$/i, 'quota_exceeded'],
  // RPM and burst.
  [/^Throttling(\..*)?$|^limit_requests$|^limit_burst_rate$|^rate_limit(_exceeded)?$/i, 'rate_limited'],
  [/^ModelNotFound$|^model_not_found$/i, 'model_not_found'],
  [/^BadRequest\.TooLarge$|^RequestTooLarge$/i, 'input_too_large'],
  // DashScope's algorithm layer reports bad parameters and input overflow as InternalError.Algo.InvalidParameter
  // on a 400: a request error, never a server error (the too-large message check below refines it).
  [/InvalidParameter$|^invalid_parameter(_error)?$/i, 'service_invalid_request'],
  [/^InternalError(\..*)?$|^internal_error$|^ModelUnavailable$|^model_unavailable$|^ServiceUnavailable$|^server_error$|^ModelServingError$/i, 'server_error'],
  [/^RequestTimeOut$|^timeout$/i, 'timeout'],
];

function byProviderCode(codes: (string | undefined)[]): ModelErrorCode | undefined {
  for (const [re, code] of CODE_RULES) {
    if (codes.some((c) => c !== undefined && re.test(c))) return code;
  }
  return undefined;
}

function byStatus(status: number | undefined, message: string | undefined): ModelErrorCode | undefined {
  if (status === undefined) return undefined;
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'model_not_found';
  if (status === 413) return 'input_too_large';
  if (status === 408) return 'timeout';
  if (status >= 500) return 'server_error';
  if (status >= 400) return messageSaysTooLarge(message) ? 'input_too_large' : 'service_invalid_request';
  return undefined;
}

/**
 * The one place an error response or frame becomes an OmniError.
 * An unknown code is weather (`service_unknown`, retried) unless a 4xx status says the request itself is wrong
 * (`service_invalid_request`): an unrecognised in-stream failure is more likely transient than permanent, and
 * the retry budget bounds the cost.
 */
export function classifyError(input: ErrorInput): OmniError {
  const p = providerError(input.body);
  const providerCode = p.code ?? p.type;
  const clientError = input.status !== undefined && input.status >= 400 && input.status < 500;
  let code = byProviderCode([p.code, p.type]);
  // The HTTP status first: a 4xx is about the request, whatever its code says (InternalError.* on a 400).
  if (clientError && (code === 'server_error' || code === 'timeout')) code = undefined;
  // A 400 or an invalid-parameter error whose message names a limit: the chunk must be made smaller.
  if (
    (code === undefined || code === 'service_invalid_request') &&
    messageSaysTooLarge(p.message) &&
    (input.status === 400 || /invalid_?param/i.test(providerCode ?? ''))
  ) {
    code = 'input_too_large';
  }
  code ??= byStatus(input.status, p.message);
  if (code === undefined && /invalid_?param|invalid_request/i.test(providerCode ?? '')) code = 'service_invalid_request';
  code ??= clientError ? 'service_invalid_request' : 'service_unknown';
  const ra = retryAfterMs(input.headers, input.now);
  const where = input.inStream ? 'in stream' : input.status !== undefined ? `HTTP ${input.status}` : 'error';
  const message = `${where}${providerCode ? ` ${providerCode}` : ''}: ${p.message ?? 'no message'}`;
  return new OmniError(code, message, {
    status: input.status,
    providerCode,
    retryAfterMs: ra,
    details: p.requestId ? { requestId: p.requestId } : undefined,
  });
}

export function timeoutError(what: 'connect' | 'first byte' | 'idle', ms: number): OmniError {
  return new OmniError('timeout', `${what} timeout after ${ms} ms`, { details: { phase: what, ms } });
}

export function truncatedError(why: string, status?: number): OmniError {
  return new OmniError('stream_truncated', `stream ended without its final event: ${why}`, { status });
}

export function abortedError(reason: unknown): OmniError {
  if (reason instanceof OmniError) return reason;
  const msg = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return new OmniError('aborted', `request aborted: ${msg}`, { cause: reason });
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/**
 * A transport failure (undici/Node error) -> timeout or connection. After the response started, a broken
 * socket means the stream lost its end: stream_truncated, which the pipeline retries without keeping
 * any partial text.
 */
export function classifyTransportError(err: unknown, opts: { streamStarted: boolean; status?: number }): OmniError {
  if (err instanceof OmniError) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const errno = e?.code ?? e?.cause?.code;
  const msg = e?.message ?? String(err);
  if (errno && TIMEOUT_CODES.has(errno)) {
    return new OmniError('timeout', `${errno}: ${msg}`, { cause: err, status: opts.status });
  }
  if (opts.streamStarted) {
    return new OmniError('stream_truncated', `stream broken before its final event: ${errno ?? ''} ${msg}`.trim(), {
      cause: err,
      status: opts.status,
    });
  }
  // ECONNRESET, ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET, ...: the request never got an answer.
  const known = errno !== undefined && CONNECTION_CODES.has(errno);
  return new OmniError('connection', `${errno ?? 'connection failed'}: ${msg}`, { cause: err, details: known ? undefined : { errno } });
}
