/**
 * Run notifications: one signed JSON POST per attempt. The notify queue (workers/notify.ts; enqueued by lifecycle/notifications.ts) retries it with
 * backoff, apart from the run: a receiver being down must not fail a run that succeeded, and a notification
 * outlives the worker that enqueued it.
 *
 * The wire contract (stable; the README documents it):
 *   POST <url>, content-type: application/json
 *   body: {"schema":"omnibatch.webhook/v1","event":E,"delivery":D,"data":<payload>}
 *   X-Omnibatch-Event:     E (run.completed | run.stopped | run.failed | run.budget_threshold | ping)
 *   X-Omnibatch-Delivery:  D, a UUID (run-end notifications: <runId>.<generation>), the same on every retry
 *                          of one notification and on a redone report job (dedupe on it)
 *   X-Omnibatch-Timestamp: T, unix seconds when this attempt was sent
 *   X-Omnibatch-Signature: sha256=<hex HMAC-SHA256(secret, T + "\n" + D + "\n" + E + "\n" + body)>
 * The body is signed byte for byte as sent; the receiver verifies the raw body before parsing it and
 * rejects a timestamp more than 5 minutes away (replays). Without a secret nothing is sent, unless the
 * operator allowed unsigned webhooks (`--allow-unsigned-webhooks`): a receiver could not tell ours from a forgery.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { WebhookEvent } from '../jobs/catalog.ts';
import { retryAfterMs } from '../models/errors.ts';
import { OmniError } from '../util/errors.ts';
import type { FailureCode } from '../util/failure-codes.ts';
import type { Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';

export { WEBHOOK_EVENTS, type WebhookEvent } from '../jobs/catalog.ts';

export const HEADER = {
  event: 'x-omnibatch-event',
  delivery: 'x-omnibatch-delivery',
  timestamp: 'x-omnibatch-timestamp',
  signature: 'x-omnibatch-signature',
} as const;

export const DEFAULT_TOLERANCE_S = 300;

export interface SignedMeta {
  /** unix seconds */
  timestamp: number;
  deliveryId: string;
  event: string;
}

/** Hex HMAC-SHA256 of `timestamp\ndeliveryId\nevent\nbody`: the headers are bound to the body. */
export function signBody(body: string, secret: string, meta: SignedMeta): string {
  return createHmac('sha256', secret).update(`${meta.timestamp}\n${meta.deliveryId}\n${meta.event}\n`).update(body).digest('hex');
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'missing_header' | 'bad_signature' | 'stale_timestamp' };

/** For receivers (and our tests): checks the signature of a raw body against the request headers. */
export function verifySignature(args: {
  body: string;
  secret: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  nowS?: number;
  toleranceS?: number;
}): VerifyResult {
  const h = (name: string): string | undefined => {
    const key = Object.keys(args.headers).find((k) => k.toLowerCase() === name);
    const v = key === undefined ? undefined : args.headers[key];
    return Array.isArray(v) ? v[0] : v;
  };
  const sig = h(HEADER.signature);
  const ts = h(HEADER.timestamp);
  const delivery = h(HEADER.delivery);
  const event = h(HEADER.event);
  if (!sig || !ts || !delivery || !event || !sig.startsWith('sha256=') || !/^\d+$/.test(ts)) return { ok: false, reason: 'missing_header' };
  const expected = Buffer.from(signBody(args.body, args.secret, { timestamp: Number(ts), deliveryId: delivery, event }), 'hex');
  const given = Buffer.from(sig.slice('sha256='.length), 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  const now = args.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(ts)) > (args.toleranceS ?? DEFAULT_TOLERANCE_S)) return { ok: false, reason: 'stale_timestamp' };
  return { ok: true };
}

/** Network errors, 5xx, 408 and 429 are worth another try; any other answer will not change. */
export function shouldRetry(status: number | 'network'): boolean {
  return status === 'network' || status >= 500 || status === 429 || status === 408;
}

export interface SendOptions {
  secret?: string;
  /** without a secret: send unsigned (true) or refuse to send (default) */
  allowUnsigned?: boolean;
  /** the notification's identity (default: a new UUID): give the same id when the same notification may be sent again */
  deliveryId?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  log?: Logger;
  /** clock (tests) */
  now?: () => number;
}

export interface DeliveryResult {
  delivered: boolean;
  /** why nothing was sent: `webhook_unsigned` (no secret, unsigned not allowed) */
  refused?: 'webhook_unsigned';
  /** the HTTP status, when there was an answer */
  status?: number;
  deliveryId: string;
}

/**
 * One signed POST. Retrying is the notify queue's job (workers/notify.ts, jobs/policy.ts): a network error,
 * 408, 429 or 5xx throws a retryable `webhook_failed` carrying the receiver's Retry-After; any other non-2xx
 * throws a permanent `webhook_refused`. What can never be sent (no secret and unsigned not allowed, a URL that
 * is not http(s), a payload that is not JSON) is logged and returned undelivered: no attempt would change it.
 */
export async function sendWebhook(url: string, event: WebhookEvent, payload: unknown, opts: SendOptions = {}): Promise<DeliveryResult> {
  const now = opts.now ?? Date.now;
  const deliveryId = opts.deliveryId ?? randomUUID();
  // the URL may carry a token in its query: log only where it goes
  const log = (opts.log ?? silentLogger).child({ webhook: safeUrl(url), event, delivery: deliveryId });
  let body: string;
  try {
    body = JSON.stringify({ schema: 'omnibatch.webhook/v1', event, delivery: deliveryId, data: payload });
  } catch (err) {
    log.error({ err: errorText(err) }, 'webhook not sent: the payload is not JSON');
    return { delivered: false, deliveryId };
  }
  if (!isHttpUrl(url)) {
    log.error('webhook not sent: the URL is not http(s)');
    return { delivered: false, deliveryId };
  }
  if (hasCredentials(url)) {
    // fetch refuses such a URL before any byte is sent: a network error to retry 10 times, which none would change
    log.error({ code: 'webhook_credentials_in_url' }, 'webhook not sent: the URL carries user:password@');
    return { delivered: false, deliveryId };
  }
  if (!opts.secret) {
    if (!opts.allowUnsigned) {
      log.error({ code: 'webhook_unsigned' }, 'webhook not sent: OMNIBATCH_WEBHOOK_SECRET is not set (--allow-unsigned-webhooks sends it unsigned)');
      return { delivered: false, deliveryId, refused: 'webhook_unsigned' };
    }
    log.warn('webhook sent unsigned: OMNIBATCH_WEBHOOK_SECRET is not set and unsigned webhooks are allowed');
  }

  const timestamp = Math.floor(now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'omnibatch-webhook/1',
    [HEADER.event]: event,
    [HEADER.delivery]: deliveryId,
    [HEADER.timestamp]: String(timestamp),
  };
  if (opts.secret) headers[HEADER.signature] = `sha256=${signBody(body, opts.secret, { timestamp, deliveryId, event })}`;

  let res: Response;
  try {
    const signals = [AbortSignal.timeout(opts.timeoutMs ?? 10_000), ...(opts.signal ? [opts.signal] : [])];
    res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.any(signals), redirect: 'manual' });
    await res.arrayBuffer().catch(() => undefined); // drain, so the connection is reused or closed cleanly
  } catch (err) {
    log.warn({ err: errorText(err) }, 'webhook not reached');
    throw new OmniError('webhook_failed', `webhook receiver ${safeUrl(url)} not reached: ${errorText(err)}`);
  }
  const status = res.status;
  if (status >= 200 && status < 300) {
    log.info({ status }, 'webhook delivered');
    return { delivered: true, status, deliveryId };
  }
  log.warn({ status }, 'webhook refused');
  if (!shouldRetry(status)) {
    throw new OmniError('webhook_refused', `webhook receiver ${safeUrl(url)} answered ${status}`, { status });
  }
  // The one Retry-After reader (models/errors.ts): seconds, an HTTP date, or retry-after-ms.
  throw new OmniError('webhook_failed', `webhook receiver ${safeUrl(url)} answered ${status}`, {
    status,
    retryAfterMs: retryAfterMs(res.headers, now()),
  });
}

/**
 * Whether a run may name a notify URL: only with a secret to sign with, or with unsigned webhooks allowed
 * (by the operator's setting or the run's own flag). Pure; a coded error names the fix.
 */
export function notifyUrlProblem(url: string, signing: { secret?: string; allowUnsigned?: boolean }): { code: FailureCode; message: string } | undefined {
  if (!isHttpUrl(url)) return { code: 'invalid_argument', message: `--notify-url must be an http(s) URL, got ${safeUrl(url)}` };
  if (hasCredentials(url)) {
    return {
      code: 'webhook_credentials_in_url',
      message: `--notify-url must not carry user:password@ (${safeUrl(url)}): no HTTP client sends it, and it would sit in Redis and logs; receivers verify the signature (OMNIBATCH_WEBHOOK_SECRET) or a token in the path`,
    };
  }
  if (!signing.secret && !signing.allowUnsigned) {
    return {
      code: 'webhook_unsigned',
      message: '--notify-url needs OMNIBATCH_WEBHOOK_SECRET to sign the notification (or --allow-unsigned-webhooks to send it unsigned)',
    };
  }
  return undefined;
}

/** `https://user:pw@host/...`: fetch refuses to send a request to it. */
function hasCredentials(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== '' || u.password !== '';
  } catch {
    return false;
  }
}

function isHttpUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}
