/**
 * The dashboard's per-file routes: a run's file list, its moderation review queue, one file's verdict, the
 * source media and the outputs (streamed from storage by the dashboard, with its own credentials and HTTP Range:
 * the browser never gets a bucket URL), and a reviewer's decision (a mutation: --allow-actions, like Bull Board's).
 */
import { pipeline } from 'node:stream/promises';
import express, { type Express, type Request, type Response } from 'express';
import type { Context } from '../app/context.ts';
import { fileVerdict, recordDecision, reviewQueue, runFile } from '../lifecycle/review.ts';
import { writtenOutputKey } from '../outputs/naming.ts';
import { decisionInputSchema } from '../outputs/review-queue.ts';
import { outputKey } from '../storage/keys.ts';
import type { Storage } from '../storage/types.ts';
import { TASK_SPECS } from '../tasks/catalog.ts';
import { describeError, OmniError } from '../util/errors.ts';
import type { Logger } from '../util/logger.ts';
import type { RunsData } from './data.ts';
import { fileHref, outputNames } from './files-view.ts';
import { isVideoKey, parseRange, servedType } from './range.ts';

export interface FileRoutesDeps extends Pick<Context, 'runs' | 'storage'> {
  log: Logger;
}

const STATUS_OF: Record<string, number> = {
  run_not_found: 404,
  file_not_found: 404,
  storage_not_found: 404,
  review_no_verdict: 409,
  review_invalid: 400,
  dashboard_read_only: 405,
};

const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

function page(raw: unknown, fallback: number, max: number): number {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : fallback;
}

/** Basic auth's user name, as the reviewer's name (the token alone names nobody). */
function reviewerOf(req: Request): string | undefined {
  const [scheme, value = ''] = (req.headers.authorization ?? '').split(/\s+/u, 2);
  if (scheme?.toLowerCase() !== 'basic') return undefined;
  const user = Buffer.from(value, 'base64').toString('utf8').split(':')[0];
  return user ? user.slice(0, 100) : undefined;
}

/**
 * Streams one object (or the asked byte range of it). Served as the type its extension says, sandboxed and
 * never sniffed: the media and outputs are strangers' bytes on the dashboard's origin.
 */
async function sendObject(req: Request, res: Response, store: Storage, key: string): Promise<void> {
  if (!store.readRange) throw new OmniError('media_source_unavailable', `${store.uri} cannot be read in ranges`);
  const info = await store.head(key);
  if (!info) throw new OmniError('storage_not_found', `${store.uriOf(key)}: no such object`);
  const answer = parseRange(req.headers.range, info.size);
  res.set({
    ...NO_STORE,
    'accept-ranges': 'bytes',
    'content-type': servedType(key),
    'content-security-policy': "sandbox; default-src 'none'",
    'content-disposition': 'inline',
  });
  if (answer.kind === 'unsatisfiable') {
    res.status(416).set('content-range', `bytes */${info.size}`).end();
    return;
  }
  const range = answer.kind === 'partial' ? answer.range : undefined;
  const got = await store.readRange(key, range ?? (info.size ? { start: 0, end: info.size - 1 } : undefined));
  if (!got) throw new OmniError('storage_not_found', `${store.uriOf(key)}: no such object`);
  if (range) res.status(206).set('content-range', `bytes ${range.start}-${range.end}/${info.size}`);
  res.set('content-length', String(range ? range.end - range.start + 1 : info.size));
  if (req.method === 'HEAD') {
    got.stream.destroy();
    res.end();
    return;
  }
  // A player that seeks drops its connection: not an error worth a log line.
  await pipeline(got.stream, res).catch(() => undefined);
}

export function mountFileRoutes(app: Express, deps: FileRoutesDeps, data: RunsData, opts: { allowActions: boolean }): void {
  const handle = (fn: (req: Request, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    try {
      await fn(req, res);
    } catch (err) {
      const e = describeError(err);
      const status = STATUS_OF[e.code] ?? 503;
      if (status === 503) deps.log.warn({ err: e.message, path: req.path }, 'dashboard request failed');
      if (!res.headersSent) res.status(status).set(NO_STORE).json({ error: e.code, message: e.message });
      else res.destroy();
    }
  };
  const specOf = async (runId: string) => {
    const spec = await deps.runs.spec(runId);
    if (!spec) throw new OmniError('run_not_found', `no run ${runId}`);
    return spec;
  };
  const id = (req: Request, name: string): string => String(req.params[name]);
  /** The run and the file a /files/:fileId route names (run_not_found, file_not_found otherwise). */
  const fileOf = async (req: Request) => {
    const runId = id(req, 'id');
    const fileId = id(req, 'fileId');
    const spec = await specOf(runId);
    return { runId, fileId, spec, f: await runFile(deps, runId, fileId) };
  };

  app.get(
    '/api/runs/:id/files',
    handle(async (req, res) => {
      const r = await data.files(id(req, 'id'), page(req.query.offset, 0, 1e9), page(req.query.limit, 50, 200) || 50);
      if (!r) throw new OmniError('run_not_found', `no run ${id(req, 'id')}`);
      res.set(NO_STORE).json(r);
    }),
  );

  app.get(
    '/api/runs/:id/review',
    handle(async (req, res) => {
      const runId = id(req, 'id');
      const spec = await specOf(runId);
      const q = await reviewQueue(deps, runId, { limit: page(req.query.limit, 100, 500) || 100 });
      res.set(NO_STORE).json({
        runId,
        task: spec.task,
        counts: q.counts,
        total: q.total,
        files: q.files.map((f) => ({ ...f, href: fileHref(runId, f.fileId), video: isVideoKey(f.key) })),
        allowActions: opts.allowActions,
      });
    }),
  );

  app.get(
    '/api/runs/:id/files/:fileId/verdict',
    handle(async (req, res) => {
      const { runId, fileId, spec, f } = await fileOf(req);
      const [verdict, review] = await Promise.all([
        f.status === 'succeeded' ? fileVerdict(deps, spec.destination, f.key) : undefined,
        deps.runs.review(runId, fileId),
      ]);
      const href = fileHref(runId, fileId);
      res.set(NO_STORE).json({
        fileId,
        uri: f.uri,
        status: f.status,
        moderation: f.moderation ?? null,
        verdict: verdict ?? null,
        review: review ?? null,
        media: `${href}/media`,
        video: isVideoKey(f.key),
        allowActions: opts.allowActions,
      });
    }),
  );

  app.get(
    '/api/runs/:id/files/:fileId/media',
    handle(async (req, res) => {
      const { spec, f } = await fileOf(req);
      // A manifest run's keys are under its source as a listing's are (producers/objects.ts refuses any other
      // entry with manifest_outside_source), and the store confines every key to its root: the same read.
      await sendObject(req, res, deps.storage(spec.source), f.key);
    }),
  );

  app.get(
    '/api/runs/:id/files/:fileId/outputs/:name',
    handle(async (req, res) => {
      const { spec, f } = await fileOf(req);
      const name = id(req, 'name');
      if (!outputNames(spec.task, true).includes(name)) throw new OmniError('storage_not_found', `no output "${name}" for task ${spec.task}`);
      const dest = deps.storage(spec.destination);
      const run = { task: spec.task, outputName: spec.outputName, textOutputs: TASK_SPECS[spec.task].outputs };
      // --output-name named the text outputs after their language, which the result records
      const named = writtenOutputKey(f.key, name, run, {}) !== outputKey(f.key, name);
      const raw = named ? await dest.getText(outputKey(f.key, 'json')) : undefined;
      const result = raw ? (JSON.parse(raw) as { language?: string; translated_to?: string }) : undefined;
      await sendObject(req, res, dest, writtenOutputKey(f.key, name, run, result));
    }),
  );

  app.post(
    '/api/runs/:id/files/:fileId/review',
    express.json({ limit: '16kb' }),
    handle(async (req, res) => {
      if (!opts.allowActions) {
        throw new OmniError('dashboard_read_only', 'the dashboard is read-only: start it with --allow-actions to record review decisions');
      }
      const input = decisionInputSchema.safeParse(req.body);
      if (!input.success) throw new OmniError('review_invalid', input.error.issues[0]?.message ?? 'invalid decision');
      const doc = await recordDecision(deps, id(req, 'id'), id(req, 'fileId'), { ...input.data, reviewer: reviewerOf(req) });
      res.set(NO_STORE).json(doc);
    }),
  );
}
