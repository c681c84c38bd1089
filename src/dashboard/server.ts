/**
 * The dashboard: an express app with our runs page at `/`, its JSON at `/api/runs[/:id]`, and Bull Board
 * at `/queues`, served by the ops HTTP helper (real port back for port 0, quick close). Every request
 * passes the guard first (Host allow-list, credentials, Origin check, read-only): see guard.ts.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Queues } from '../jobs/queues.ts';
import { type RunningServer, startHttpServer } from '../ops/http.ts';
import type { Logger } from '../util/logger.ts';
import { bullBoardRouter } from './board.ts';
import { createRunsData, type RunsDataDeps } from './data.ts';
import { type FileRoutesDeps, mountFileRoutes } from './file-routes.ts';
import { allowedHosts, checkExposure, type DashboardAuth, guardMiddleware } from './guard.ts';
import { runsPage } from './page.ts';

export interface DashboardDeps extends RunsDataDeps, FileRoutesDeps {
  queues: Queues;
  log: Logger;
}

export interface AccessOptions {
  /** Bull Board's retry/clean/delete/pause/add; off by default (read-only) */
  allowActions?: boolean;
  /** required when `host` is not a loopback address */
  auth?: DashboardAuth;
  /** more names the dashboard may be reached by (a reverse proxy's, a DNS name): Host and Origin */
  allowedHosts?: readonly string[];
}

export interface DashboardOptions extends AccessOptions {
  port: number;
  host?: string;
}

export const QUEUES_PATH = '/queues';
const MAX_LIST = 200;

export function listLimit(raw: unknown, fallback = 50): number {
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? Math.min(n, MAX_LIST) : fallback;
}

export function createDashboardApp(deps: DashboardDeps, opts: AccessOptions & { host?: string } = {}): express.Express {
  const host = opts.host ?? '127.0.0.1';
  const auth = opts.auth ?? {};
  checkExposure(host, auth);
  const allowActions = opts.allowActions ?? false;
  const app = express();
  app.disable('x-powered-by');
  app.use(guardMiddleware({ allowedHosts: allowedHosts(host, opts.allowedHosts), auth, allowActions, queuesPath: QUEUES_PATH }));
  const data = createRunsData(deps);
  const page = runsPage();

  const api = (fn: (req: Request, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    res.set({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    try {
      await fn(req, res);
    } catch (err) {
      // Redis down or a run's keys half-expired: the page shows "cannot reach" and keeps polling.
      deps.log.warn({ err: (err as Error).message, path: req.path }, 'dashboard request failed');
      res.status(503).json({ error: 'unavailable', message: (err as Error).message });
    }
  };

  app.get('/', (_req, res) => {
    res.set({ 'content-security-policy': page.csp, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
    res.type('html').send(page.html);
  });
  app.get(
    '/api/runs',
    api(async (req, res) => {
      res.json({ generatedAt: new Date().toISOString(), runs: await data.list(listLimit(req.query.limit)) });
    }),
  );
  app.get(
    '/api/runs/:id',
    api(async (req, res) => {
      const detail = await data.detail(String(req.params.id));
      if (!detail) res.status(404).json({ error: 'run_not_found', runId: req.params.id });
      else res.json(detail);
    }),
  );
  app.get(
    '/healthz',
    api(async (_req, res) => {
      await deps.redis.ping();
      res.json({ status: 'ok' });
    }),
  );
  mountFileRoutes(app, deps, data, { allowActions });
  app.use(QUEUES_PATH, selfContained, bullBoardRouter(deps.queues, { basePath: QUEUES_PATH, readOnly: !allowActions, runsPath: '/' }));
  return app;
}

/**
 * Bull Board's page links a web font on fonts.googleapis.com: offline that is a console error, online a request
 * to a stranger naming our users' IPs. Its HTML leaves without any stylesheet from another host (the system
 * fonts stand in), and a CSP keeps every fetch of its pages on this origin.
 */
export function stripExternalLinks(html: string): string {
  return html.replace(/<link\b[^>]*\bhref=["']?(?:https?:)?\/\/[^>]*>/giu, '');
}

export const BOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ');

function selfContained(_req: Request, res: Response, next: NextFunction): void {
  res.set('content-security-policy', BOARD_CSP);
  const send = res.send.bind(res);
  res.send = (body?: unknown) => send(typeof body === 'string' && /^\s*<!doctype html|<html/iu.test(body) ? stripExternalLinks(body) : body);
  next();
}

export async function startDashboard(deps: DashboardDeps, opts: DashboardOptions): Promise<RunningServer> {
  const app = createDashboardApp(deps, opts);
  return startHttpServer(
    (req, res) => {
      app(req, res);
    },
    opts.port,
    opts.host ?? '127.0.0.1',
  );
}
