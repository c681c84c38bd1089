/**
 * Who may talk to the dashboard, decided by pure functions (the express middleware below is a thin adapter):
 *  - Host allow-list: a page on evil.example whose DNS name is rebound to 127.0.0.1 sends `Host: evil.example`;
 *    only loopback names, the bound address and names the operator lists are served (defeats DNS rebinding).
 *  - Credentials: a token (as `Authorization: Bearer <token>`, or as the password of basic auth so a browser
 *    can prompt for it) or a basic-auth user:password. Required when the dashboard listens beyond loopback.
 *  - CSRF: every request that is not GET/HEAD/OPTIONS must carry an Origin (or Referer) naming this very
 *    dashboard. Browsers send Origin on every cross-site POST/PUT/DELETE, including a `text/plain` "simple"
 *    request that needs no preflight, so a foreign page cannot change anything even with cached basic auth.
 *  - Read-only: without --allow-actions nothing under Bull Board's API changes state (Bull Board's own
 *    readOnlyMode is set as well; this refusal does not depend on it).
 */
import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { hostName, isLoopback, stripBrackets } from '../ops/host-allow.ts';
import { type FailureCode, OmniError } from '../util/errors.ts';

export { allowedHosts, hostName, isLoopback } from '../ops/host-allow.ts';

export interface DashboardAuth {
  /** accepted as a bearer token or as the basic-auth password (any user name) */
  token?: string;
  /** `user:password` for basic auth */
  basic?: string;
}

export interface GuardPolicy {
  /** host names (no port), lower case, that may appear in Host and Origin */
  allowedHosts: ReadonlySet<string>;
  auth: DashboardAuth;
  /** false: every non-safe request under `queuesPath` is refused */
  allowActions: boolean;
  queuesPath: string;
}

export interface GuardRequest {
  method: string;
  path: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type GuardVerdict = { ok: true } | { ok: false; status: number; code: FailureCode; message: string; headers?: Record<string, string> };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Refuses to start a dashboard that strangers could reach without credentials. */
export function checkExposure(bindHost: string, auth: DashboardAuth): void {
  if (auth.basic !== undefined && !/^[^:]+:.+$/u.test(auth.basic)) {
    throw new OmniError('dashboard_auth_invalid', 'basic auth must be user:password');
  }
  if (isLoopback(bindHost) || hasAuth(auth)) return;
  throw new OmniError(
    'dashboard_auth_required',
    `the dashboard would listen on ${bindHost || 'every interface'} with no credentials: set --auth-token (OMNIBATCH_DASHBOARD_TOKEN) or --basic-auth user:password (OMNIBATCH_DASHBOARD_BASIC_AUTH), or bind 127.0.0.1`,
  );
}

export const hasAuth = (auth: DashboardAuth): boolean => Boolean(auth.token || auth.basic);

function header(req: GuardRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function authorized(req: GuardRequest, auth: DashboardAuth): boolean {
  const given = header(req, 'authorization') ?? '';
  const [scheme, value = ''] = given.split(/\s+/u, 2);
  if (auth.token && scheme?.toLowerCase() === 'bearer' && same(value, auth.token)) return true;
  if (scheme?.toLowerCase() !== 'basic') return false;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  if (auth.basic && same(decoded, auth.basic)) return true;
  const colon = decoded.indexOf(':');
  return Boolean(auth.token) && colon >= 0 && same(decoded.slice(colon + 1), auth.token!);
}

/** The host of an Origin or Referer URL, when it is one this dashboard answers to and matches the Host header. */
function sameSite(url: string | undefined, host: string, policy: GuardPolicy): boolean {
  if (!url || url === 'null') return false;
  try {
    const u = new URL(url);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      policy.allowedHosts.has(stripBrackets(u.hostname)) &&
      u.host.toLowerCase() === host.trim().toLowerCase()
    );
  } catch {
    return false;
  }
}

/** One request: served, or refused with a status and a machine-readable code. Pure. */
export function checkRequest(req: GuardRequest, policy: GuardPolicy): GuardVerdict {
  const host = header(req, 'host') ?? '';
  if (!host || !policy.allowedHosts.has(hostName(host))) {
    return {
      ok: false,
      status: 421,
      code: 'host_not_allowed',
      message: `this dashboard does not answer to the host "${host.slice(0, 100)}" (add it with --allowed-host)`,
    };
  }
  if (hasAuth(policy.auth) && !authorized(req, policy.auth)) {
    return {
      ok: false,
      status: 401,
      code: 'dashboard_unauthorized',
      message: 'credentials required',
      headers: { 'www-authenticate': 'Basic realm="omnibatch", charset="UTF-8"' },
    };
  }
  const method = req.method.toUpperCase();
  if (SAFE_METHODS.has(method)) return { ok: true };
  const origin = header(req, 'origin');
  const fromHere = origin !== undefined ? sameSite(origin, host, policy) : sameSite(header(req, 'referer'), host, policy);
  if (!fromHere) {
    return {
      ok: false,
      status: 403,
      code: 'csrf_origin_mismatch',
      message: `a ${method} must come from this dashboard's own pages (Origin ${origin ?? '(none)'})`,
    };
  }
  // Express routes case-insensitively: /Queues/api/... reaches Bull Board's /queues router, so compare the same way.
  const reqPath = req.path.toLowerCase();
  const queues = policy.queuesPath.toLowerCase();
  const underQueues = reqPath === queues || reqPath.startsWith(`${queues}/`);
  if (!policy.allowActions && underQueues) {
    return {
      ok: false,
      status: 405,
      code: 'dashboard_read_only',
      message: 'the dashboard is read-only: start it with --allow-actions to retry, clean, pause or add jobs',
    };
  }
  return { ok: true };
}

export function guardMiddleware(policy: GuardPolicy) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const verdict = checkRequest({ method: req.method, path: req.path, headers: req.headers }, policy);
    if (verdict.ok) {
      next();
      return;
    }
    res
      .status(verdict.status)
      .set({ 'cache-control': 'no-store', ...verdict.headers })
      .json({ error: verdict.code, message: verdict.message });
  };
}
