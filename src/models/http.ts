/**
 * The HTTP adapter: one POST over undici that returns a byte stream, with our own timeouts (connect via
 * the Agent; first byte and idle-between-events by a watchdog the caller feeds), the caller's
 * AbortSignal, and every failure turned into a classified OmniError. Decides nothing about protocols.
 */
import { Agent, type Dispatcher, request } from 'undici';
import { OmniError } from '../util/errors.ts';
import { abortedError, classifyError, classifyTransportError, timeoutError } from './errors.ts';
import { SseDecoder } from './sse.ts';
import type { EndpointConfig } from './types.ts';

/** An error body larger than this is cut (error envelopes are a few hundred bytes). */
const ERROR_BODY_MAX = 256 * 1024;

export function createAgent(endpoint: EndpointConfig): Agent {
  // headers/body timeouts are ours (the watchdog): undici's would fire on a slow but healthy stream.
  return new Agent({ connect: { timeout: endpoint.connectTimeoutMs }, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 10_000 });
}

export interface OpenStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** when the answer's headers arrived (Date.now()): about when the provider admitted the request */
  answeredAt: number;
  /** the body's byte chunks; a broken socket or a timeout throws a classified OmniError */
  chunks(): AsyncGenerator<Buffer>;
  /** an event arrived: switches the watchdog from first-byte to idle and restarts it */
  progress(): void;
  /** stop timers and release the socket (safe to call twice) */
  close(): void;
}

export interface PostOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  dispatcher: Dispatcher;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  signal?: AbortSignal;
}

/**
 * POSTs and returns the open event stream of a 2xx answer. A non-2xx answer is read (bounded) and thrown
 * as a classified error; so is a 2xx JSON answer that is an error envelope.
 */
export async function postStream(opts: PostOptions): Promise<OpenStream> {
  if (opts.signal?.aborted) throw abortedError(opts.signal.reason);
  const ac = new AbortController();
  let reason: OmniError | undefined;
  const abort = (e: OmniError): void => {
    if (ac.signal.aborted) return;
    reason = e;
    ac.abort(e);
  };
  const onCallerAbort = (): void => abort(abortedError(opts.signal?.reason));
  opts.signal?.addEventListener('abort', onCallerAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const arm = (phase: 'first byte' | 'idle', ms: number): void => {
    clearTimeout(timer);
    timer = setTimeout(() => abort(timeoutError(phase, ms)), ms);
  };
  const cleanup = (): void => {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onCallerAbort);
  };
  // The first-byte clock runs from the request until the first event (headers alone are not an answer).
  arm('first byte', opts.firstByteTimeoutMs);

  let res: Dispatcher.ResponseData;
  try {
    res = await request(opts.url, { method: 'POST', headers: opts.headers, body: opts.body, dispatcher: opts.dispatcher, signal: ac.signal });
  } catch (err) {
    cleanup();
    throw reason ?? classifyTransportError(err, { streamStarted: false });
  }
  const answeredAt = Date.now();
  const status = res.statusCode;
  const headers = res.headers;
  const contentType = String(headers['content-type'] ?? '');
  const isStream = contentType.includes('text/event-stream');
  const ok = status >= 200 && status < 300;
  // DMXAPI's stream content type is unconfirmed (docs/protocols.md §8): a 2xx that is not declared JSON is read
  // as SSE, unless its first bytes are a JSON object (an error envelope without a content type).
  let first: Buffer | undefined;
  const body = res.body[Symbol.asyncIterator]();
  let ambiguousJson = false;
  if (ok && !isStream && !/json/i.test(contentType)) {
    try {
      const n = await body.next();
      first = n.done ? Buffer.alloc(0) : (n.value as Buffer);
    } catch (err) {
      cleanup();
      throw reason ?? classifyTransportError(err, { streamStarted: false, status });
    }
    ambiguousJson = first.toString('utf8').trimStart().startsWith('{');
  }
  if (!ok || /json/i.test(contentType) || ambiguousJson) {
    let text: string;
    try {
      text = (first?.toString('utf8') ?? '') + (await readBounded({ [Symbol.asyncIterator]: () => body, destroy: () => res.body.destroy() }, ERROR_BODY_MAX));
    } catch (err) {
      cleanup();
      throw reason ?? classifyTransportError(err, { streamStarted: false, status });
    }
    cleanup();
    const errBody = errorBodyOf(text, isStream);
    if (ok) {
      // A 2xx JSON answer: an error envelope, or something we did not ask for.
      const err = classifyError({ status, headers, body: errBody });
      if (err.code !== 'service_unknown' || err.providerCode) throw err;
      throw new OmniError('service_unknown', `expected an event stream, got ${contentType || 'no content type'}: ${text.slice(0, 200)}`, { status });
    }
    throw classifyError({ status, headers, body: errBody });
  }

  let closed = false;
  return {
    status,
    headers,
    answeredAt,
    progress: () => {
      if (!closed) arm('idle', opts.idleTimeoutMs);
    },
    close: () => {
      if (closed) return;
      closed = true;
      cleanup();
      if (!res.body.destroyed) res.body.destroy();
    },
    async *chunks() {
      try {
        if (first?.length) yield first;
        for (let n = await body.next(); !n.done; n = await body.next()) yield n.value as Buffer;
      } catch (err) {
        throw reason ?? classifyTransportError(err, { streamStarted: true, status });
      }
      // undici ends the body quietly on some aborts: an abort reason still wins.
      if (reason) throw reason;
    },
  };
}

async function readBounded(body: AsyncIterable<unknown> & { destroy(): void }, max: number): Promise<string> {
  const dec = new TextDecoder('utf-8');
  let text = '';
  for await (const chunk of body) {
    text += dec.decode(chunk as Buffer, { stream: true });
    if (text.length > max) {
      body.destroy();
      break;
    }
  }
  return text + dec.decode();
}

/** An error body: JSON, or an event stream whose error frame (native `event:error`) carries the envelope. */
function errorBodyOf(text: string, isStream: boolean): unknown {
  if (isStream) {
    const dec = new SseDecoder();
    const events = [...dec.push(Buffer.from(text)), ...dec.end()];
    const ev = events.find((e) => e.event === 'error' || /"(error|code)"/.test(e.data)) ?? events[0];
    if (ev) {
      try {
        return JSON.parse(ev.data);
      } catch {
        return ev.data;
      }
    }
    return text;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
