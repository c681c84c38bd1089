/**
 * Request bodies of the three protocols -> one ParsedRequest. Pure. Chat and responses share the
 * chat-style content parts (DMXAPI keeps them under `input`); native uses `{text}|{audio}|{image}|{video}`.
 */
import { apiErrors } from './errors.ts';
import type { ApiError, MediaPart, ParsedMessage, ParsedRequest, WireProtocol } from './types.ts';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function urlOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObj(v)) return str(v.url) ?? str(v.data);
  return undefined;
}

/** One chat-style content part; an ApiError when it is malformed. */
function chatPart(part: unknown, into: ParsedMessage): ApiError | undefined {
  if (typeof part === 'string') {
    into.texts.push(part);
    return undefined;
  }
  if (!isObj(part)) return apiErrors.invalidParameter('content parts must be objects');
  const type = str(part.type);
  const media = (kind: MediaPart['kind'], v: unknown): ApiError | undefined => {
    const url = urlOf(v);
    if (!url) return apiErrors.invalidParameter(`the ${type} part has no url or data`);
    into.media.push({ kind, urls: [url] });
    return undefined;
  };
  switch (type) {
    case 'text':
    case 'input_text':
    case 'output_text':
      into.texts.push(str(part.text) ?? '');
      return undefined;
    case 'input_audio':
      return media('audio', part.input_audio);
    case 'image_url':
      return media('image', part.image_url);
    case 'input_image':
      return media('image', part.image_url ?? part);
    case 'video_url':
      return media('video', part.video_url);
    case 'video': {
      const frames = Array.isArray(part.video) ? part.video.filter((u): u is string => typeof u === 'string') : [];
      if (frames.length === 0) return apiErrors.invalidParameter('the video part needs a list of image URLs');
      into.media.push({ kind: 'frames', urls: frames });
      return undefined;
    }
    default:
      return apiErrors.invalidParameter(`unsupported content part type: ${String(type)}`);
  }
}

function nativePart(part: unknown, into: ParsedMessage): ApiError | undefined {
  if (!isObj(part)) return apiErrors.invalidParameter('content items must be objects');
  if (typeof part.text === 'string') into.texts.push(part.text);
  else if (typeof part.audio === 'string') into.media.push({ kind: 'audio', urls: [part.audio] });
  else if (typeof part.image === 'string') into.media.push({ kind: 'image', urls: [part.image] });
  else if (typeof part.video === 'string') into.media.push({ kind: 'video', urls: [part.video] });
  else if (Array.isArray(part.video)) into.media.push({ kind: 'frames', urls: part.video.filter((u): u is string => typeof u === 'string') });
  else return apiErrors.invalidParameter(`unsupported content item: ${Object.keys(part).join(',')}`);
  return undefined;
}

function messages(list: unknown, native: boolean): ParsedMessage[] | ApiError {
  if (typeof list === 'string') return [{ role: 'user', texts: [list], media: [] }];
  if (!Array.isArray(list) || list.length === 0) return apiErrors.invalidParameter('messages must be a non-empty array');
  const out: ParsedMessage[] = [];
  for (const m of list) {
    if (!isObj(m)) return apiErrors.invalidParameter('each message must be an object');
    const msg: ParsedMessage = { role: str(m.role) ?? 'user', texts: [], media: [] };
    if (typeof m.content === 'string') msg.texts.push(m.content);
    else if (Array.isArray(m.content)) {
      for (const p of m.content) {
        const err = native ? nativePart(p, msg) : chatPart(p, msg);
        if (err) return err;
      }
    } else if (m.content !== null && m.content !== undefined) return apiErrors.invalidParameter('message content must be a string or an array');
    out.push(msg);
  }
  return out;
}

function audioOut(body: Json): ParsedRequest['audioOut'] {
  const modalities = Array.isArray(body.modalities) ? body.modalities : [];
  if (!modalities.includes('audio')) return undefined;
  return { voice: isObj(body.audio) ? str(body.audio.voice) : undefined, format: isObj(body.audio) ? str(body.audio.format) : undefined };
}

/** The output switches as sent (checked against the seeds by validate.ts). */
function outputParams(body: Json): Pick<ParsedRequest, 'modalities' | 'audioParam'> {
  return { ...(body.modalities !== undefined && { modalities: body.modalities }), audioParam: body.audio !== undefined };
}

/**
 * @param sseHeader native only: the request carried `X-DashScope-SSE: enable`
 */
export function parseRequest(protocol: WireProtocol, body: unknown, sseHeader = false): ParsedRequest | ApiError {
  if (!isObj(body)) return apiErrors.invalidParameter('the request body must be a JSON object');
  const model = str(body.model);
  if (!model) return apiErrors.invalidParameter('model is required');
  if (protocol === 'native') {
    const input = isObj(body.input) ? body.input : {};
    const params = isObj(body.parameters) ? body.parameters : {};
    const msgs = messages(input.messages, true);
    if ('status' in msgs) return msgs;
    const incremental = params.incremental_output === true;
    return {
      protocol,
      model,
      messages: msgs,
      incremental,
      includeUsage: true,
      stream: sseHeader || incremental,
      thinking: params.enable_thinking === true,
      audioOut: audioOut(params),
      ...outputParams(params),
    };
  }
  const msgs = messages(protocol === 'chat' ? body.messages : body.input, false);
  if ('status' in msgs) return msgs;
  const streamOptions = isObj(body.stream_options) ? body.stream_options : {};
  return {
    protocol,
    model,
    messages: msgs,
    incremental: true,
    stream: body.stream === true,
    includeUsage: protocol === 'responses' || streamOptions.include_usage === true,
    thinking: body.enable_thinking === true,
    audioOut: audioOut(body),
    ...outputParams(body),
  };
}
