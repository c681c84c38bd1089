/**
 * createClient(endpoint) -> a ModelClient for the endpoint's protocol. One request = build the body,
 * POST, decode bytes -> SSE events -> protocol deltas, stream text to the hook and audio to a WAV file
 * as it arrives (awaiting each write, so a fast network never piles PCM up in memory), then the
 * protocol's summary. Any failure throws one classified OmniError; a partial answer is never returned,
 * and a partial WAV is removed.
 */
import { unlink } from 'node:fs/promises';
import { OmniError } from '../util/errors.ts';
import { base64Ceiling, findModel, protocolRefusal } from './catalog.ts';
import { ChatStream } from './chat.ts';
import { DashscopeStream } from './dashscope.ts';
import { createAgent, type OpenStream, postStream } from './http.ts';
import { buildBody, endpointUrl, requestHeaders, resolveMedia } from './request.ts';
import { RESPONSES_MAX_EVENT_CHARS, ResponsesStream } from './responses.ts';
import type { SseEvent } from './sse.ts';
import { DEFAULT_MAX_EVENT_CHARS, SseDecoder } from './sse.ts';
import type { Delta, ProtocolStream, StreamContext, StreamSummary } from './stream.ts';
import type { EndpointConfig, ModelClient, ModelRequest, ModelResult, Protocol, StreamHooks } from './types.ts';
import { MODEL_PCM, type WavFormat, WavWriter } from './wav.ts';

const DECODERS: Readonly<Record<Protocol, { create(ctx: StreamContext): ProtocolStream; maxEventChars: number }>> = {
  chat: { create: (ctx) => new ChatStream(ctx), maxEventChars: DEFAULT_MAX_EVENT_CHARS },
  responses: { create: (ctx) => new ResponsesStream(ctx), maxEventChars: RESPONSES_MAX_EVENT_CHARS },
  dashscope: { create: (ctx) => new DashscopeStream(ctx), maxEventChars: DEFAULT_MAX_EVENT_CHARS },
};

export function streamContext(req: ModelRequest): StreamContext {
  const spec = findModel(req.model);
  return {
    model: req.model,
    mediaKind: req.media?.kind,
    promptText: [req.system, req.prompt].filter(Boolean).join('\n'),
    audioTokensPerSecond: spec?.tokens.audioTokensPerSecond ?? 12.5,
    ...(req.media?.seconds !== undefined && { mediaSeconds: req.media.seconds }),
    ...(req.media?.hasAudio !== undefined && { mediaHasAudio: req.media.hasAudio }),
  };
}

export interface StreamingClient extends ModelClient {
  /** closes the connection pool (idle sockets are unref'd, so a CLI may also just exit) */
  close(): Promise<void>;
}

export function createClient(endpoint: EndpointConfig): StreamingClient {
  const agent = createAgent(endpoint);
  const url = endpointUrl(endpoint);
  return {
    protocol: endpoint.protocol,
    complete: (req, hooks) => complete(endpoint, url, agent, req, hooks),
    close: () => agent.close(),
  };
}

/** Writes audio deltas to a WAV opened on first audio (so a request whose answer has none leaves no file). */
class AudioSink {
  private writer: WavWriter | undefined;
  private format: WavFormat = MODEL_PCM;

  constructor(private readonly file: string | undefined) {}

  async apply(d: Delta): Promise<void> {
    if (!this.file) return;
    if (d.kind === 'audio_format') {
      this.format = d.format;
      return;
    }
    if (d.kind !== 'audio') return;
    try {
      this.writer ??= await WavWriter.create(this.file, this.format);
      await this.writer.write(d.pcm);
    } catch (err) {
      throw new OmniError('audio_write_failed', `cannot write ${this.file}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<ModelResult['audio']> {
    if (!this.writer || !this.file) return undefined;
    const { bytes, seconds } = await this.writer.close();
    return { file: this.file, bytes, seconds };
  }

  async discard(): Promise<void> {
    if (!this.writer || !this.file) return;
    await this.writer.abort();
    await unlink(this.file).catch(() => undefined);
  }
}

async function complete(
  endpoint: EndpointConfig,
  url: string,
  agent: ReturnType<typeof createAgent>,
  req: ModelRequest,
  hooks: StreamHooks = {},
): Promise<ModelResult> {
  const spec = findModel(req.model);
  // Refused here, before any media is read: the service would answer with a bare 404.
  const refusal = protocolRefusal(req.model, endpoint.protocol);
  if (refusal) throw new OmniError('protocol_unsupported', refusal);
  const media = req.media ? await resolveMedia(req.media, base64Ceiling(spec)) : undefined;
  const body = JSON.stringify(buildBody(endpoint.protocol, req, media));
  const ctx = streamContext(req);
  const stream = await postStream({
    url,
    headers: requestHeaders(endpoint, req.headers),
    body,
    dispatcher: agent,
    firstByteTimeoutMs: endpoint.firstByteTimeoutMs,
    idleTimeoutMs: endpoint.idleTimeoutMs,
    signal: req.signal,
  });
  const sink = new AudioSink(req.audioOut?.file);
  try {
    return await consume(stream, endpoint.protocol, ctx, sink, req, hooks);
  } catch (err) {
    await sink.discard();
    throw err;
  } finally {
    stream.close();
  }
}

export interface DecodeOptions {
  onText?: (delta: string) => void;
  /** audio and audio_format deltas, awaited (backpressure) */
  onAudio?: (d: Extract<Delta, { kind: 'audio' | 'audio_format' }>) => void | Promise<void>;
  /** called per SSE event (feeds the idle watchdog) */
  onEvent?: () => void;
}

export interface DecodedStream {
  text: string;
  reasoning: string;
  summary: StreamSummary;
}

/**
 * Bytes of one response -> text, reasoning, audio deltas and the summary; throws the classified error
 * of an error frame or a missing final event. The same path serves the network and recorded streams.
 */
export async function decodeEventStream(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  protocol: Protocol,
  ctx: StreamContext,
  opts: DecodeOptions = {},
): Promise<DecodedStream> {
  const sse = new SseDecoder({ maxEventChars: DECODERS[protocol].maxEventChars });
  const proto = DECODERS[protocol].create(ctx);
  let text = '';
  let reasoning = '';
  let transcript = '';
  const apply = async (d: Delta): Promise<void> => {
    switch (d.kind) {
      case 'text':
        text += d.text;
        opts.onText?.(d.text);
        return;
      case 'reasoning':
        reasoning += d.text;
        return;
      case 'transcript':
        transcript += d.text;
        return;
      default:
        await opts.onAudio?.(d);
    }
  };
  const handle = async (events: SseEvent[]): Promise<void> => {
    for (const ev of events) {
      opts.onEvent?.();
      for (const d of proto.onEvent(ev)) await apply(d);
    }
  };
  for await (const chunk of chunks) await handle(sse.push(chunk));
  await handle(sse.end());
  const { tail, summary } = proto.finish();
  for (const d of tail) await apply(d);
  // Prefer streamed content; a protocol's whole-text event or the audio transcript only when it is all there is.
  return { text: text || summary.fallbackText || transcript, reasoning, summary };
}

async function consume(
  stream: OpenStream,
  protocol: Protocol,
  ctx: StreamContext,
  sink: AudioSink,
  req: ModelRequest,
  hooks: StreamHooks,
): Promise<ModelResult> {
  const { text, reasoning, summary } = await decodeEventStream(stream.chunks(), protocol, ctx, {
    onText: hooks.onText,
    onAudio: (d) => sink.apply(d),
    onEvent: () => stream.progress(),
  });
  const audio = await sink.close();
  return {
    text,
    reasoning,
    ...(audio && { audio }),
    usage: summary.usage,
    finishReason: summary.finishReason,
    requestId: summary.requestId ?? headerString(stream.headers['x-request-id']) ?? headerString(stream.headers['x-dashscope-request-id']) ?? null,
    model: summary.model ?? req.model,
    answeredAt: stream.answeredAt,
  };
}

const headerString = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
