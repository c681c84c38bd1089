/**
 * The local API emulator: a real HTTP server on 127.0.0.1 that speaks the three protocols of
 * docs/protocols.md, so tests, benchmarks and demos run the real client code over real HTTP. This file holds
 * the routes, the admission rules (auth, --max-concurrency, --rpm) and the counters; handle.ts answers
 * one API request.
 */

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BUILT_IN, base64Ceiling } from '../models/catalog.ts';
import { loadCatalogFile } from '../models/catalog-file.ts';
import { allowedHosts, hostAllowed } from '../ops/host-allow.ts';
import type { BatchOptions } from './batch/options.ts';
import { BatchApi, isBatchPath } from './batch/routes.ts';
import { apiErrors, errorBody, errorHeaders } from './errors.ts';
import { type FaultRates, seededRandom } from './faults.ts';
import { type HandlerEnv, handleApi } from './handle.ts';
import { MediaMeasurer } from './measure.ts';
import { TokenQuota } from './quota.ts';
import { sendJson } from './reply.ts';
import { pause } from './sink.ts';
import { type EmulatorStats, emptyStats, SlidingWindow } from './stats.ts';
import type { ApiError, WireProtocol } from './types.ts';

export type { EmulatorStats } from './stats.ts';

/** The fault settings are faults.ts's FaultRates; the Batch (file input) settings batch/options.ts's BatchOptions. */
export interface EmulatorOptions extends FaultRates, BatchOptions {
  /** 0 = ephemeral (default) */
  port?: number;
  /** interface to bind (default 127.0.0.1; 0.0.0.0 in a container, so other containers reach it) */
  host?: string;
  /** more Host names it answers to (a compose service name): any other Host is refused, like the dashboard's */
  allowedHosts?: readonly string[];
  /** total added response time, spread over the stream's events */
  latencyMs?: number;
  /** delay before the first byte */
  ttfbMs?: number;
  /** beyond it: 429 Throttling.RateQuota (sliding 60 s window) */
  rpm?: number;
  /** input + output tokens per model in any 60 s beyond it: 429 Throttling.AllocationQuota (quota.ts) */
  tpm?: number;
  /** beyond it: 429 Throttling (burst) */
  maxConcurrency?: number;
  seed?: number;
  /** when set, any other key -> 401 (`Bearer <key>` or the raw key) */
  apiKey?: string;
  /** answer prose where a moderation verdict was asked for, on requests that carry media (a text-only repair gets JSON) */
  invalidModerationWithMedia?: boolean;
  /** fail the first N text-only requests (no media) with a 500: to test what a failed follow-up request costs */
  failTextOnly?: number;
  /** a stricter base64 ceiling than the documented one: to test what happens when the service refuses a size */
  base64MaxChars?: number;
  /** a stricter input-token ceiling than the model's: beyond it, the real overflow envelope (400 InternalError.Algo.InvalidParameter) */
  maxInputTokens?: number;
  /** hidden template text tokens the captioner's usage reports on top of the audio (real usage has them) */
  templateTextTokens?: number;
  /** /v1/responses: split the spoken answer over this many output_item.done events (seed 002 joins them all) */
  responsesAudioParts?: number;
  /** the content-type of 2xx streams (default text/event-stream): DMXAPI's is unconfirmed (docs/protocols.md §8) */
  streamContentType?: string;
  /** a catalog file (models/catalog-file.ts): its models are served beside the built-in ones, by their names and protocols */
  catalogFile?: string;
  /** reserved: the generated speech is always PCM16 24 kHz mono (48,000 bytes a second) */
  audioBytesPerSecond?: number;
}

export interface Emulator {
  url: string;
  port: number;
  stats(): EmulatorStats;
  resetStats(): void;
  close(): Promise<void>;
}

const ROUTES: Record<string, WireProtocol> = {
  '/compatible-mode/v1/chat/completions': 'chat',
  '/v1/chat/completions': 'chat',
  '/v1/responses': 'responses',
  '/api/v1/services/aigc/multimodal-generation/generation': 'native',
};

/** The gateway's limit on a whole request body with base64 in it (docs/protocols.md §6). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

function keyOf(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  return h.startsWith('Bearer ') ? h.slice(7).trim() : h.trim();
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  let stats = emptyStats();
  const rpm = opts.rpm ? new SlidingWindow(opts.rpm) : undefined;
  // The names it serves: the seeds' models, and a catalog file's (a model the provider shipped after them).
  const catalog = opts.catalogFile ? loadCatalogFile(opts.catalogFile) : BUILT_IN;
  const models = Object.values(catalog.models);
  const maxBase64 = Math.max(...models.map((m) => base64Ceiling(m)));
  const maxUrl = Math.max(...models.map((m) => m.limits.urlMaxBytes));
  const env: HandlerEnv = {
    opts,
    catalog,
    rand: seededRandom(opts.seed ?? 1),
    measurer: new MediaMeasurer({ base64MaxChars: maxBase64, urlMaxBytes: maxUrl }),
    stats: () => stats,
    maxBodyBytes: MAX_BODY_BYTES,
    ...(opts.tpm && { quota: new TokenQuota(opts.tpm) }),
  };
  const batch = new BatchApi(env, opts);

  const refuse = (res: ServerResponse, protocol: WireProtocol, err: ApiError): void => {
    stats.byStatus[err.status] = (stats.byStatus[err.status] ?? 0) + 1;
    sendJson(res, err.status, errorBody(protocol, err, randomUUID()), errorHeaders(err));
  };

  // DNS rebinding: a page whose name resolves to this machine must not drive the emulator or read its stats.
  const hosts = allowedHosts(opts.host ?? '127.0.0.1', opts.allowedHosts);
  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path, query = ''] = (req.url ?? '/').split('?');
    if (!hostAllowed(req.headers.host, hosts)) {
      req.resume();
      return sendJson(res, 421, { code: 'MisdirectedRequest', message: 'unknown Host: start the emulator with --allowed-host <name>' });
    }
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/stats' && req.method === 'GET') return sendJson(res, 200, stats);
    if (path === '/stats/reset' && req.method === 'POST') {
      stats = emptyStats();
      rpm?.reset();
      env.quota?.reset();
      return sendJson(res, 200, { ok: true });
    }

    stats.requests++;
    // The Batch API: management calls, outside the real-time admission rules (its own limits are per account).
    if (isBatchPath(path)) {
      if (opts.apiKey !== undefined && keyOf(req) !== opts.apiKey) {
        req.resume();
        return refuse(res, 'chat', apiErrors.invalidKey());
      }
      return batch.route(req, res, path, new URLSearchParams(query), (err) => refuse(res, 'chat', err));
    }
    const protocol = ROUTES[path];
    if (!protocol || req.method !== 'POST') {
      req.resume();
      return refuse(res, 'chat', apiErrors.notFound(path));
    }
    if (opts.maxConcurrency !== undefined && stats.inFlight >= opts.maxConcurrency) {
      req.resume();
      return refuse(res, protocol, apiErrors.burst(opts.retryAfterS));
    }
    // Counted from here until the response is finished or the client has gone.
    const counted = stats;
    counted.inFlight++;
    counted.maxInFlight = Math.max(counted.maxInFlight, counted.inFlight);
    res.on('close', () => {
      counted.inFlight--;
    });

    if (opts.ttfbMs && !(await pause(opts.ttfbMs))) return;
    if (opts.apiKey !== undefined && keyOf(req) !== opts.apiKey) {
      req.resume();
      return refuse(res, protocol, apiErrors.invalidKey());
    }
    if (rpm && !rpm.admit(Date.now())) {
      req.resume();
      return refuse(res, protocol, apiErrors.rateQuota(opts.retryAfterS));
    }
    await handleApi(env, protocol, req, res, (err) => refuse(res, protocol, err));
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch(() => {
      if (!res.headersSent) return sendJson(res, 500, { code: 'InternalError', message: 'emulator failure' });
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats: () => structuredClone(stats),
    resetStats: () => {
      stats = emptyStats();
      rpm?.reset();
      env.quota?.reset();
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Stalled streams would otherwise hold close() open until their clients give up.
      server.closeAllConnections();
      await closed;
      await batch.close();
      await env.measurer.close();
    },
  };
}
