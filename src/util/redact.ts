/**
 * Secrets out of text before it is logged or stored. Presigned URLs are passwords until they expire
 * (X-Amz-Signature, X-Amz-Security-Token), so every URL loses its query string and its user:password; known
 * secret shapes (sk-... API keys, Bearer/Basic credentials, AWS key ids, AWS secret keys named as such) are
 * masked; and the values this process was configured with (the API key, the webhook secret, the S3 secret)
 * are masked wherever they appear, whatever their shape. Used by the logger (every field, every level) and
 * by every place an error message is stored (run state in Redis, failures.jsonl, BullMQ's failed reason).
 */

export const REDACTED = '[redacted]';

const URL_RULES: readonly [RegExp, string][] = [
  // a URL's query string: presigned signatures, security tokens, ?token= of webhooks
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s?#'"<>`]+)\?[^\s'"<>#`]*/gi, `$1?${REDACTED}`],
  // a URL's user:password@ (redis://:pw@host, http://user:pw@host)
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"<>`]+@/gi, `$1${REDACTED}@`],
];

// Shapes are chosen so that ordinary names ("Basic training.mp3", "desk-lamp") are not taken for secrets.
const RULES: readonly [RegExp, string][] = [
  ...URL_RULES,
  // SigV4 parts outside a URL (a header dump, a canonical request in an SDK error)
  [/\b(X-Amz-(?:Signature|Security-Token|Credential)\s*[=:]\s*)[^\s&'"<>,;]+/gi, `$1${REDACTED}`],
  [/\b(Signature|Credential)=[^\s&'"<>,;]+/g, `$1=${REDACTED}`],
  // credentials in an Authorization header or quoted from one
  [/\bBearer\s+[A-Za-z0-9._~+/=-]{12,}/gi, `Bearer ${REDACTED}`],
  [/\b(authorization["']?\s*[:=]\s*["']?(?:Basic|Bearer|Digest)?\s*)[^\s"',;}]+/gi, `$1${REDACTED}`],
  [/\bBasic\s+(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}/g, `Basic ${REDACTED}`],
  // OpenAI/DashScope-style API keys (sk- and at least 16 more characters, a digit among them)
  [/\bsk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{16,}/g, `sk-${REDACTED}`],
  // AWS access key ids, and secret keys / session tokens when they are named
  [/\b(?:AKIA|ASIA|AROA|AIDA|ANPA|AGPA)[A-Z0-9]{16}\b/g, REDACTED],
  [
    /\b((?:aws_)?(?:secret_access_key|secretAccessKey|SecretAccessKey|session_token|sessionToken|SessionToken|security_token)["']?\s*[:=]\s*["']?)[^\s"',;}]+/gi,
    `$1${REDACTED}`,
  ],
];

/** A cheap test that lets most strings skip the rules. */
const MAYBE = /[?@]|sk-|bearer|basic|amz|signature|credential|secret|token|AKIA|ASIA|AROA|AIDA|ANPA|AGPA/i;

const configured = new Set<string>();
/** Values shorter than this are not masked by value: "abc" would mask half the log. */
const MIN_SECRET_LENGTH = 6;

/** Registers configured secrets (the API key, ...) so they are masked by value everywhere. Idempotent. */
export function registerSecrets(values: Iterable<string | undefined | null>): void {
  for (const v of values) if (typeof v === 'string' && v.length >= MIN_SECRET_LENGTH) configured.add(v);
}

/** For tests: forget registered secrets. */
export function clearRegisteredSecrets(): void {
  configured.clear();
}

export function redactText(text: string): string {
  let out = text;
  for (const secret of configured) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  if (!MAYBE.test(out)) return out;
  for (const [re, to] of RULES) out = out.replace(re, to);
  return out;
}

/** Only URLs' query strings and user:password@: for identifiers (object URIs) that must stay readable. */
export function redactUrls(text: string): string {
  let out = text;
  for (const [re, to] of URL_RULES) out = out.replace(re, to);
  return out;
}

/**
 * Redacts a thrown error's message and stack where it stands: BullMQ stores both in Redis (failedReason,
 * stacktrace) for every failed attempt, retried ones included.
 */
export function redactErrorInPlace(err: unknown): void {
  if (!(err instanceof Error)) return;
  try {
    err.message = redactText(err.message);
    if (err.stack) err.stack = redactText(err.stack);
  } catch {
    /* a frozen error: nothing to do */
  }
}

const MAX_DEPTH = 10;
/** A field whose name says it holds a credential: its string value goes whole (x-amz-security-token, apiKey, ...). */
const SECRET_KEY = /(token|secret|password|passwd|signature|authorization|cookie|apikey|api_key|api-key|accesskey|credential)s?$/;

/**
 * A copy of `value` with every string redacted, at any depth (plain objects, arrays, errors), and the string
 * of any field named like a credential replaced whole. Errors become
 * plain `{type, message, stack, code, ...}` objects so their text is redacted too. Other objects (Buffers,
 * Dates, class instances) pass as they are.
 */
export function redactValue(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH || seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Error) {
    const e = value as Error & Record<string, unknown>;
    const out: Record<string, unknown> = { type: e.name, message: redactText(e.message), ...(e.stack && { stack: redactText(e.stack) }) };
    for (const [k, v] of Object.entries(e)) if (!(k in out)) out[k] = redactValue(v, depth + 1, seen);
    if (e.cause !== undefined) out.cause = redactValue(e.cause, depth + 1, seen);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = typeof v === 'string' && SECRET_KEY.test(k.toLowerCase()) ? REDACTED : redactValue(v, depth + 1, seen);
  return out;
}
