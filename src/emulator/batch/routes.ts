/**
 * The Batch (file input) endpoints under the chat base `/compatible-mode/v1`, as in
 * docs/protocols.md "Batch (file input)": `POST /files` (multipart, purpose=batch), `GET /files` and `/files/{id}`,
 * `GET /files/{id}/content`, `DELETE /files/{id}`, `POST /batches`, `GET /batches/{id}`, `GET /batches`
 * (limit, after and the page's filters status, input_file_ids, ds_name), `POST /batches/{id}/cancel`.
 * Refusals use the chat protocol's error envelope.
 */

import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { seededRandom } from '../../util/random.ts';
import { apiErrors } from '../errors.ts';
import type { HandlerEnv } from '../handle.ts';
import { sendJson } from '../reply.ts';
import type { ApiError } from '../types.ts';
import { CHAT_ENDPOINT, metadataRefusal, parseCompletionWindow, TERMINAL_STATUSES, TEST_ENDPOINT } from './contract.ts';
import { multipartBoundary, readMultipart } from './multipart.ts';
import { type BatchOptions, batchLimits, batchTiming, drawBatchFaults, parseFaultHeader } from './options.ts';
import { type RunnerEnv, runBatch } from './runner.ts';
import { type BatchRecord, BatchStore, fileObject, newBatchObject } from './store.ts';

export const BATCH_BASE = '/compatible-mode/v1';
const FILES = /^\/compatible-mode\/v1\/files(?:\/([^/]+)(\/content)?)?$/;
const BATCHES = /^\/compatible-mode\/v1\/batches(?:\/([^/]+)(\/cancel)?)?$/;

export function isBatchPath(path: string): boolean {
  return FILES.test(path) || BATCHES.test(path);
}

const notFound = (what: string, id: string): ApiError => ({
  status: 404,
  code: 'NotFound',
  compatCode: 'not_found',
  compatType: 'invalid_request_error',
  message: `No ${what} with id ${id}.`,
});
const invalid = apiErrors.invalidParameter;

/** Multipart form parts beyond the file (purpose) are small; the whole body is bounded by the file limit. */
const FORM_SLACK_BYTES = 1024 * 1024;

/** The body as text, at most `max` bytes (undefined beyond). */
async function readText(req: IncomingMessage, max: number): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    n += (chunk as Buffer).length;
    if (n > max) return undefined;
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** One page of a newest-first listing: `limit` in [1, 100] (default 20), `after` the previous page's last id. */
function page(items: readonly { id: unknown }[], q: URLSearchParams, res: ServerResponse, refuse: (e: ApiError) => void): void {
  const limit = q.has('limit') ? Number(q.get('limit')) : 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    refuse(invalid('limit must be an integer in [1, 100].'));
    return;
  }
  let rest = items;
  const after = q.get('after');
  if (after) {
    const at = items.findIndex((x) => x.id === after);
    if (at < 0) {
      refuse(invalid(`after: no object with id ${after} in this listing.`));
      return;
    }
    rest = items.slice(at + 1);
  }
  const data = rest.slice(0, limit);
  sendJson(res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: rest.length > limit });
}

export class BatchApi {
  readonly store = new BatchStore();
  private readonly closing = new AbortController();
  private readonly runs = new Set<Promise<void>>();
  private readonly env: RunnerEnv;

  constructor(
    handler: HandlerEnv,
    private readonly opts: BatchOptions & { seed?: number },
  ) {
    this.env = {
      handler,
      store: this.store,
      region: opts.region ?? 'cn',
      limits: batchLimits(opts),
      timing: batchTiming(opts),
      // Its own sequence: a batch never shifts the real-time requests' faults.
      rand: seededRandom((opts.seed ?? 1) + 0x9e3779b9),
      signal: this.closing.signal,
    };
  }

  /** Answers one request on a Batch path; `refuse` sends an error envelope. */
  async route(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, refuse: (e: ApiError) => void): Promise<void> {
    const method = req.method ?? 'GET';
    const files = FILES.exec(path);
    if (files) {
      const [, id, content] = files;
      if (!id && method === 'POST') return this.upload(req, res, refuse);
      req.resume();
      if (!id && method === 'GET') {
        const purpose = query.get('purpose');
        return page(
          [...this.store.files.values()]
            .reverse()
            .filter((f) => !purpose || f.purpose === purpose)
            .map(fileObject),
          query,
          res,
          refuse,
        );
      }
      const f = id ? this.store.files.get(id) : undefined;
      if (!id || !['GET', 'DELETE'].includes(method)) return refuse(apiErrors.notFound(path));
      if (!f) return refuse(notFound('file', id));
      if (method === 'DELETE' && !content) {
        this.store.deleteFile(id);
        return sendJson(res, 200, { id, object: 'file', deleted: true });
      }
      if (method !== 'GET') return refuse(apiErrors.notFound(path));
      if (!content) return sendJson(res, 200, fileObject(f));
      // The page: "Only files whose file_id starts with file-batch_output can be downloaded"; OpenAI refuses purpose batch too.
      if (f.purpose === 'batch') return refuse(invalid('Not allowed to download files of purpose: batch.'));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': f.bytes });
      await pipeline(createReadStream(f.path), res).catch(() => res.destroy());
      return;
    }
    const [, id, cancel] = BATCHES.exec(path) ?? [];
    if (!id && method === 'POST') return this.create(req, res, refuse);
    req.resume();
    if (!id && method === 'GET') return this.list(res, query, refuse);
    const rec = id ? this.store.batches.get(id) : undefined;
    if (!id || (cancel ? method !== 'POST' : method !== 'GET')) return refuse(apiErrors.notFound(path));
    if (!rec) return refuse(notFound('batch', id));
    if (!cancel) return sendJson(res, 200, rec.object);
    const b = rec.object;
    if (b.status !== 'validating' && b.status !== 'in_progress' && b.status !== 'cancelling')
      return refuse(invalid(`Cannot cancel a batch with status ${b.status}.`));
    if (b.status !== 'cancelling') {
      b.status = 'cancelling';
      b.cancelling_at = Math.floor(Date.now() / 1000);
    }
    return sendJson(res, 200, b);
  }

  private async upload(req: IncomingMessage, res: ServerResponse, refuse: (e: ApiError) => void): Promise<void> {
    const max = this.env.limits.maxFileBytes;
    const tooBig = () => invalid(`The file is larger than ${max} bytes, the limit for purpose batch.`);
    const boundary = multipartBoundary(req.headers['content-type']);
    if (!boundary || Number(req.headers['content-length'] ?? 0) > max + FORM_SLACK_BYTES) {
      req.resume();
      return refuse(boundary ? tooBig() : invalid('The body must be multipart/form-data with a file and purpose.'));
    }
    const at = await this.store.newPath();
    const form = await readMultipart(req, boundary, at, max + FORM_SLACK_BYTES);
    req.resume();
    const refusal =
      form === 'too_large' || (typeof form === 'object' && (form.file?.bytes ?? 0) > max)
        ? tooBig()
        : form === 'malformed'
          ? invalid('The body is not well-formed multipart/form-data.')
          : form.fields.purpose !== 'batch'
            ? invalid('purpose must be batch (the emulator serves Batch input files only).')
            : form.file?.field !== 'file'
              ? invalid('file is required.')
              : undefined;
    if (refusal || typeof form !== 'object' || !form.file) {
      await rm(at, { force: true });
      return refuse(refusal ?? invalid('file is required.'));
    }
    const stored = await this.store.addFile(at, form.file.filename || 'batch.jsonl', 'batch', 'file-batch');
    this.env.handler.stats().batch.files++;
    return sendJson(res, 200, fileObject(stored));
  }

  private async create(req: IncomingMessage, res: ServerResponse, refuse: (e: ApiError) => void): Promise<void> {
    const text = await readText(req, FORM_SLACK_BYTES);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text ?? '');
    } catch {
      return refuse(invalid('The request body is not valid JSON.'));
    }
    const input = typeof body.input_file_id === 'string' ? this.store.files.get(body.input_file_id) : undefined;
    if (input?.purpose !== 'batch') return refuse(invalid(`input_file_id: no uploaded file of purpose batch has the id ${String(body.input_file_id)}.`));
    if (body.endpoint !== CHAT_ENDPOINT && body.endpoint !== TEST_ENDPOINT)
      return refuse(invalid(`endpoint must be ${CHAT_ENDPOINT} (or ${TEST_ENDPOINT} for batch-test-model), got ${String(body.endpoint)}.`));
    const hours = parseCompletionWindow(body.completion_window, this.env.limits);
    if (typeof hours === 'string') return refuse(invalid(hours));
    const bad = metadataRefusal(body.metadata);
    if (bad) return refuse(invalid(bad));
    const header = req.headers['x-emulator-batch-fault'];
    const forced = typeof header === 'string' ? parseFaultHeader(header) : undefined;
    if (typeof forced === 'string') return refuse(invalid(`x-emulator-batch-fault: ${forced}`));
    const drawn = drawBatchFaults(this.opts, this.env.rand);
    const rec: BatchRecord = {
      object: newBatchObject({
        endpoint: body.endpoint,
        input_file_id: input.id,
        completion_window: body.completion_window as string,
        metadata: (body.metadata as Record<string, string> | undefined) ?? null,
      }),
      windowHours: hours,
      faults: forced ?? drawn,
    };
    this.store.batches.set(rec.object.id, rec);
    this.env.handler.stats().batch.created++;
    const run: Promise<void> = runBatch(this.env, rec, input.path)
      .catch(() => {
        // An emulator failure (not a documented outcome): the batch fails rather than hanging in_progress.
        if (!TERMINAL_STATUSES.includes(rec.object.status)) rec.object.status = 'failed';
      })
      .finally(() => this.runs.delete(run));
    this.runs.add(run);
    return sendJson(res, 200, rec.object);
  }

  private list(res: ServerResponse, q: URLSearchParams, refuse: (e: ApiError) => void): void {
    const statuses = q.get('status')?.split(',').filter(Boolean);
    const files = q.get('input_file_ids')?.split(',').filter(Boolean);
    if (files && files.length > 20) {
      refuse(invalid('input_file_ids takes at most 20 ids.'));
      return;
    }
    const name = q.get('ds_name');
    const all = this.store
      .newestFirst()
      .map((r) => r.object)
      .filter(
        (b) =>
          (!statuses || statuses.includes(b.status)) && (!files || files.includes(b.input_file_id)) && (!name || (b.metadata?.ds_name ?? '').includes(name)),
      );
    page(all, q, res, refuse);
  }

  async close(): Promise<void> {
    this.closing.abort();
    await Promise.allSettled([...this.runs]);
    await this.store.close();
  }
}
