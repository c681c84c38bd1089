/**
 * The provider's Batch API (OpenAI-compatible, file input), as the pipeline uses it: upload a JSONL input
 * file (`purpose: batch`), create a batch over it with metadata, retrieve, list (to find a batch created
 * before a crash), cancel, and read an output or error file line by line as it streams. Every HTTP failure
 * becomes one classified OmniError (models/errors.ts). The key goes only into the Authorization header.
 */
import { openAsBlob } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { classifyError, classifyTransportError } from './errors.ts';
import type { EndpointConfig } from './types.ts';

export type BatchStatus = 'validating' | 'in_progress' | 'finalizing' | 'completed' | 'failed' | 'expired' | 'cancelling' | 'cancelled';
export const TERMINAL_BATCH_STATUSES: readonly BatchStatus[] = ['completed', 'failed', 'expired', 'cancelled'];

export interface BatchObject {
  id: string;
  status: BatchStatus;
  input_file_id: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  completion_window: string;
  /** unix seconds */
  created_at: number;
  completed_at?: number | null;
  expires_at?: number | null;
  request_counts?: { total: number; completed: number; failed: number } | null;
  metadata?: Record<string, string> | null;
  /** validation errors (a failed batch): per line where the provider says which */
  errors?: { data?: { code?: string; message?: string; line?: number | null }[] } | null;
}

export interface BatchPage {
  data: BatchObject[];
  has_more: boolean;
}

export interface BatchApi {
  uploadFile(file: string, filename: string): Promise<{ id: string; bytes: number }>;
  createBatch(inputFileId: string, metadata: Record<string, string>, completionWindow: string): Promise<BatchObject>;
  retrieveBatch(id: string): Promise<BatchObject>;
  /** newest first; `after` is the last id of the previous page */
  listBatches(opts?: { after?: string; limit?: number }): Promise<BatchPage>;
  cancelBatch(id: string): Promise<BatchObject>;
  /** the file's lines as they stream (never the whole file in memory) */
  fileLines(fileId: string): AsyncIterable<string>;
}

/** A completion window ("24h", "14d") in seconds. */
export function windowSeconds(window: string): number {
  const m = /^(\d+)([hd])$/.exec(window);
  if (!m) return 24 * 3600;
  return Number(m[1]) * (m[2] === 'd' ? 86_400 : 3_600);
}

/** The chat endpoint every line of a batch targets (its `url`, and the batch's `endpoint`). */
export const BATCH_ENDPOINT = '/v1/chat/completions';

export function createBatchApi(endpoint: EndpointConfig): BatchApi {
  const base = endpoint.baseUrl.replace(/\/+$/, '');
  const auth = endpoint.authStyle === 'raw' ? endpoint.apiKey : `Bearer ${endpoint.apiKey}`;
  const timeoutMs = Math.max(endpoint.firstByteTimeoutMs, 30_000);

  async function call(method: string, path: string, body?: string | FormData, json = true): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: { authorization: auth, ...(json && body !== undefined && { 'content-type': 'application/json' }) },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw classifyTransportError(err, { streamStarted: false });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw classifyError({ status: res.status, headers: res.headers, body: text });
    }
    return res;
  }
  const getJson = async <T>(method: string, path: string, body?: unknown): Promise<T> =>
    (await (await call(method, path, body === undefined ? undefined : JSON.stringify(body))).json()) as T;

  return {
    async uploadFile(file, filename) {
      const form = new FormData();
      form.append('purpose', 'batch');
      form.append('file', await openAsBlob(file, { type: 'application/jsonl' }), filename);
      const f = (await (await call('POST', '/files', form, false)).json()) as { id: unknown; bytes?: unknown };
      return { id: String(f.id), bytes: Number(f.bytes ?? 0) };
    },
    createBatch: (inputFileId, metadata, completionWindow) =>
      getJson<BatchObject>('POST', '/batches', { input_file_id: inputFileId, endpoint: BATCH_ENDPOINT, completion_window: completionWindow, metadata }),
    retrieveBatch: (id) => getJson<BatchObject>('GET', `/batches/${encodeURIComponent(id)}`),
    listBatches: (opts = {}) => {
      const q = new URLSearchParams({ limit: String(opts.limit ?? 100), ...(opts.after && { after: opts.after }) });
      return getJson<BatchPage>('GET', `/batches?${q}`);
    },
    cancelBatch: (id) => getJson<BatchObject>('POST', `/batches/${encodeURIComponent(id)}/cancel`),
    async *fileLines(fileId) {
      const res = await call('GET', `/files/${encodeURIComponent(fileId)}/content`);
      if (!res.body) return;
      const lines = createInterface({ input: Readable.fromWeb(res.body as WebReadableStream), crlfDelay: Number.POSITIVE_INFINITY });
      try {
        for await (const line of lines) if (line.trim()) yield line;
      } catch (err) {
        throw classifyTransportError(err, { streamStarted: true });
      }
    },
  };
}
