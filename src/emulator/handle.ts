/**
 * Answers one admitted API request: read and parse the body, apply an injected fault, refuse what the
 * real service refuses, measure the media, bill it, compose the deterministic answer and play it in the
 * route's protocol. Only completed answers are billed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { base64Ceiling, type Catalog, type ModelSpec } from '../models/catalog.ts';
import type { Protocol } from '../models/types.ts';
import { composeAnswer, isModerationPrompt, splitPieces } from './answer.ts';
import { speechSeconds } from './audio.ts';
import { billInput, billOutput } from './billing.ts';
import { apiErrors } from './errors.ts';
import { drawFault, type FaultKind, faultError, isFaultKind, isStreamFault, type StreamFault } from './faults.ts';
import type { MediaMeasurer } from './measure.ts';
import { parseRequest } from './parse.ts';
import { chatWriter } from './protocols/chat.ts';
import { nativeWriter } from './protocols/native.ts';
import { responsesWriter } from './protocols/responses.ts';
import type { ReplyContext, StreamWriter } from './protocols/writer.ts';
import type { TokenQuota } from './quota.ts';
import type { EmulatorOptions } from './server.ts';
import { pause } from './sink.ts';
import { addBilled, type EmulatorStats } from './stats.ts';
import { playStream } from './stream.ts';
import { type ApiError, isApiError, type Measured, type ParsedRequest, type WireProtocol } from './types.ts';
import { checkMeasured, checkRequest } from './validate.ts';

export interface HandlerEnv {
  opts: EmulatorOptions;
  /** the models it serves */
  catalog: Catalog;
  rand: () => number;
  measurer: MediaMeasurer;
  stats: () => EmulatorStats;
  maxBodyBytes: number;
  /** how many text-only requests `failTextOnly` has failed so far */
  textOnlyFailures?: number;
  /** --tpm: the sliding-minute token quota */
  quota?: TokenQuota;
}

/** The route's protocol in the catalogue's terms: which names its real endpoint serves. */
const SERVING: Record<WireProtocol, Protocol> = { chat: 'chat', responses: 'responses', native: 'dashscope' };

const WRITERS: Record<WireProtocol, (ctx: ReplyContext) => StreamWriter> = { chat: chatWriter, responses: responsesWriter, native: nativeWriter };

/** The body, or undefined once it passes `max` bytes (the rest is drained, unread). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    n += (chunk as Buffer).length;
    if (n > max) {
      req.resume();
      return undefined;
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** How a request is answered when it is a line of a Batch input file rather than an HTTP request. */
export interface BatchMode {
  /** refusals Batch adds to the real-time ones (stream, audio output): docs/protocols.md "Batch (file input)" */
  check: (req: ParsedRequest, spec: ModelSpec) => ApiError | undefined;
  /** Batch's own context ceiling, when it differs from the model's */
  maxInputTokens?: number;
}

/** An answer ready to be played: everything a writer needs, and what completing it bills. */
export interface Prepared {
  parsed: ParsedRequest;
  spec: ModelSpec;
  ctx: ReplyContext;
  /** the fault to play inside the response, if one was drawn */
  streamFault?: StreamFault;
}

type Header = (name: string) => string | undefined;

/**
 * Everything before the response: parse, draw a fault, refuse what the service refuses, measure the media,
 * bill it, compose the answer. A Batch line (`batch` set) skips the real-time faults, the stream-only rule
 * and the TPM quota (Batch has its own), and gets Batch's checks instead.
 */
export async function prepareAnswer(env: HandlerEnv, protocol: WireProtocol, body: unknown, header: Header, batch?: BatchMode): Promise<Prepared | ApiError> {
  const { opts } = env;
  const parsed = parseRequest(protocol, body, header('x-dashscope-sse')?.toLowerCase() === 'enable');
  if (isApiError(parsed)) return parsed;

  let streamFault: StreamFault | undefined;
  if (!batch) {
    // A fault is drawn for every request (so the PRNG sequence depends only on the request order).
    const forced = header('x-emulator-fault');
    if (forced !== undefined && !isFaultKind(forced)) return apiErrors.invalidParameter(`Unknown x-emulator-fault kind: ${forced}`);
    const drawn = drawFault(opts, env.rand);
    // Test hook: fail the first N requests that carry no media (e.g. a moderation repair) with a 500.
    const textOnly = parsed.messages.every((m) => m.media.length === 0);
    const failText = textOnly && (env.textOnlyFailures ?? 0) < (opts.failTextOnly ?? 0);
    if (failText) env.textOnlyFailures = (env.textOnlyFailures ?? 0) + 1;
    const fault: FaultKind | undefined = forced ?? (failText ? 'server_error' : drawn);
    const countFault = () => {
      if (fault) env.stats().faults[fault] = (env.stats().faults[fault] ?? 0) + 1;
    };
    const early = fault && faultError(fault, parsed.model, opts.retryAfterS);
    if (early) {
      countFault();
      return early;
    }
    streamFault = fault && isStreamFault(fault) ? fault : undefined;
  }

  const spec = env.catalog.find(parsed.model);
  // A name the real endpoint of this protocol does not serve (an -all name on DashScope, omni on native).
  if (!spec || !env.catalog.serves(parsed.model, SERVING[protocol])) return apiErrors.modelNotFound(parsed.model);
  const invalid = checkRequest(parsed, batch ? { ...spec, streamOnly: false } : spec, env.catalog.voicesFor(parsed.model)) ?? batch?.check(parsed, spec);
  if (invalid) return invalid;

  const media: Measured[] = [];
  // only a moderation answer depends on the pilot tone a clip starts with (answer.ts): the others need not listen
  const listen = isModerationPrompt(parsed);
  for (const part of parsed.messages.flatMap((m) => m.media)) {
    const m = await env.measurer.measure(part, Math.min(base64Ceiling(spec), opts.base64MaxChars ?? Infinity), listen);
    if (isApiError(m)) return m;
    media.push(m);
  }
  const input = billInput(parsed, media, spec, opts.templateTextTokens);
  const ceiling = Math.min(opts.maxInputTokens ?? Infinity, batch?.maxInputTokens ?? Infinity);
  const tooMuch = checkMeasured(media, { input, output: { text: 0, audio: 0, reasoning: 0 } }, parsed, spec, ceiling);
  if (tooMuch) return tooMuch;

  let audioOverride: number | undefined;
  const audioHeader = header('x-emulator-audio-seconds');
  if (audioHeader !== undefined) {
    audioOverride = Number(audioHeader);
    if (!(audioOverride > 0)) return apiErrors.invalidParameter('x-emulator-audio-seconds must be a positive number');
  }
  // The answer describes the first non-text item (a request carries at most one kind of media).
  const { text, reasoning } = composeAnswer(
    parsed,
    media[0],
    spec.id,
    header('x-emulator-moderation') === 'invalid' || (opts.invalidModerationWithMedia === true && media.length > 0),
  );
  const audioSeconds = parsed.audioOut ? speechSeconds(text, audioOverride) : undefined;
  const billed = { input, output: billOutput(text, reasoning, audioSeconds, spec) };
  const tokens = Object.values(billed.input).reduce((a, n) => a + n, 0) + Object.values(billed.output).reduce((a, n) => a + n, 0);
  if (!batch && env.quota && !env.quota.admit(spec.id, Date.now(), tokens)) return apiErrors.allocationQuota(opts.retryAfterS);
  const requestId = randomUUID();
  const ctx: ReplyContext = {
    id: protocol === 'responses' ? `resp_${randomBytes(16).toString('hex')}` : protocol === 'chat' ? `chatcmpl-${requestId}` : requestId,
    requestId,
    created: Math.floor(Date.now() / 1000),
    model: parsed.model,
    answer: { spec, text, reasoning, audioSeconds, billed },
    includeUsage: parsed.includeUsage,
    incremental: parsed.incremental,
    audioParts: Math.max(1, Number(header('x-emulator-audio-parts') ?? opts.responsesAudioParts ?? 1) || 1),
  };
  // Counted only now: a request refused above never played its stream fault.
  if (streamFault) env.stats().faults[streamFault] = (env.stats().faults[streamFault] ?? 0) + 1;
  return { parsed, spec, ctx, ...(streamFault && { streamFault }) };
}

/** The JSON body a non-streaming chat answer carries (a Batch output line's `response.body`). */
export function chatBody(ctx: ReplyContext): Record<string, unknown> {
  return chatWriter(ctx).body();
}

export async function handleApi(
  env: HandlerEnv,
  protocol: WireProtocol,
  req: IncomingMessage,
  res: ServerResponse,
  refuse: (e: ApiError) => void,
): Promise<void> {
  const { opts } = env;
  const raw = await readBody(req, env.maxBodyBytes);
  if (!raw) return refuse(apiErrors.tooLarge());
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return refuse(apiErrors.invalidParameter('The request body is not valid JSON.'));
  }
  const prepared = await prepareAnswer(env, protocol, body, (name) => header(req, name));
  if (isApiError(prepared)) return refuse(prepared);
  const { parsed, spec, ctx, streamFault } = prepared;
  const { billed, text, reasoning, audioSeconds } = ctx.answer;
  const writer = WRITERS[protocol](ctx);
  const status = (s: number) => {
    env.stats().byStatus[s] = (env.stats().byStatus[s] ?? 0) + 1;
  };
  const done = () => {
    env.stats().completed++;
    addBilled(env.stats().billed, spec.id, billed);
  };

  if (!parsed.stream)
    return answerWhole(res, writer, opts.latencyMs ?? 0, streamFault, refuse, () => {
      status(200);
      done();
    });
  status(200);
  res.writeHead(200, {
    'content-type': opts.streamContentType ?? 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': ctx.requestId,
  });
  const outcome = await playStream(res, writer, { reasoning: splitPieces(reasoning), text: splitPieces(text), audioSeconds }, opts.latencyMs ?? 0, streamFault);
  if (outcome === 'completed') done();
}

/** A non-streaming answer (the captioner may be called without SSE). */
async function answerWhole(
  res: ServerResponse,
  writer: StreamWriter,
  latencyMs: number,
  fault: StreamFault | undefined,
  refuse: (e: ApiError) => void,
  onOk: () => void,
): Promise<void> {
  if (latencyMs > 0 && !(await pause(latencyMs))) return;
  if (fault === 'stall') return; // headers never come; close() or the client ends it
  if (fault === 'inspect_output') return refuse(apiErrors.inspectOutput());
  if (fault === 'stream_rate_limit') return refuse(apiErrors.allocationQuota());
  const text = JSON.stringify(writer.body());
  if (fault === 'cut') {
    // Half the promised body, then the connection drops.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.write(text.slice(0, Math.floor(text.length / 2)));
    res.destroy();
    return;
  }
  onOk();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
