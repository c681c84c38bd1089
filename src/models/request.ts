/**
 * ModelRequest -> URL, headers and JSON body per protocol (docs/protocols.md §2). Pure, except `resolveMedia`,
 * which reads a local file into a `data:;base64,` URL (files under the 10 MB base64 ceiling by contract).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { OmniError } from '../util/errors.ts';
import { findModel, GATEWAY_BASE64_MAX } from './catalog.ts';
import { CHAT_PATH } from './chat.ts';
import { DASHSCOPE_PATH } from './dashscope.ts';
import { RESPONSES_PATH } from './responses.ts';
import type { EndpointConfig, MediaInput, MediaKind, ModelRequest, Protocol } from './types.ts';

export const PATHS: Readonly<Record<Protocol, string>> = Object.freeze({
  chat: CHAT_PATH,
  responses: RESPONSES_PATH,
  dashscope: DASHSCOPE_PATH,
});

export function endpointUrl(endpoint: EndpointConfig): string {
  return endpoint.baseUrl.replace(/\/+$/, '') + PATHS[endpoint.protocol];
}

/** The request headers; the key goes only here (never into a log or an error message). */
export function requestHeaders(endpoint: EndpointConfig, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    authorization: endpoint.authStyle === 'raw' ? endpoint.apiKey : `Bearer ${endpoint.apiKey}`,
    ...(endpoint.protocol === 'dashscope' && { 'x-dashscope-sse': 'enable' }),
    ...extra,
  };
}

/** A media input the body can carry: a data: URL of the file's bytes, or the URL the service fetches. */
export interface MediaRef {
  kind: MediaKind;
  url: string;
  /** input_audio.format (mp3, wav, ...) */
  format?: string;
}

const IMAGE_MIME: Record<string, string> = { jpg: 'jpeg', jpeg: 'jpeg', png: 'png', webp: 'webp', gif: 'gif', bmp: 'bmp', tif: 'tiff', tiff: 'tiff' };

function extensionOf(ref: string): string | undefined {
  const p = /^[a-z][a-z0-9+.-]*:\/\//i.test(ref) ? new URL(ref).pathname : ref;
  const ext = path.extname(p).slice(1).toLowerCase();
  return ext || undefined;
}

/** The format hint for input_audio: explicit, else the file's or URL's extension. */
export function mediaFormat(media: MediaInput): string | undefined {
  if (media.format) return media.format;
  return extensionOf('file' in media.source ? media.source.file : media.source.url);
}

/** base64 length of n bytes */
export const base64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4;

/**
 * Reads a local file into a data: URL (a URL source passes through). Checks the encoded size before
 * reading, so an oversized file fails fast as input_too_large instead of being loaded and refused.
 */
export async function resolveMedia(media: MediaInput, base64MaxChars = GATEWAY_BASE64_MAX): Promise<MediaRef> {
  const format = mediaFormat(media);
  if ('url' in media.source) return { kind: media.kind, url: media.source.url, format };
  const file = media.source.file;
  const size = (await stat(file)).size;
  const prefix = media.kind === 'image' ? `data:image/${IMAGE_MIME[format ?? ''] ?? 'png'};base64,` : 'data:;base64,';
  if (base64Length(size) + prefix.length >= base64MaxChars) {
    throw new OmniError(
      'input_too_large',
      `${path.basename(file)}: ${size} bytes is ${base64Length(size)} base64 characters, over the ${base64MaxChars} limit`,
      { details: { bytes: size, base64MaxChars } },
    );
  }
  return { kind: media.kind, url: prefix + (await readFile(file)).toString('base64'), format };
}

/** The captioner takes audio alone: no prompt, no system message, no format on input_audio. */
export function acceptsPrompt(model: string): boolean {
  return findModel(model)?.acceptsPrompt ?? true;
}

function chatMediaPart(media: MediaRef, withFormat: boolean): Record<string, unknown> {
  switch (media.kind) {
    case 'audio':
      return { type: 'input_audio', input_audio: { data: media.url, ...(withFormat && media.format && { format: media.format }) } };
    case 'video':
      return { type: 'video_url', video_url: { url: media.url } };
    case 'image':
      return { type: 'image_url', image_url: { url: media.url } };
  }
}

function chatMessages(req: ModelRequest, media: MediaRef | undefined): Record<string, unknown>[] {
  const prompted = acceptsPrompt(req.model);
  const content: Record<string, unknown>[] = [];
  if (media) content.push(chatMediaPart(media, prompted));
  if (prompted && req.prompt) content.push({ type: 'text', text: req.prompt });
  const messages: Record<string, unknown>[] = [];
  if (prompted && req.system) messages.push(...systemMessages(req));
  messages.push({ role: 'user', content });
  return messages;
}

/**
 * The system text as a system message, except where the model's seed forbids one beside audio output
 * (qwen-omni-turbo 001:186, qwen3.5-omni-plus 002:46,87): there the seed's own workaround (001:1433),
 * a user message with the role and an assistant message taking it up, opens the conversation instead.
 */
function systemMessages(req: ModelRequest): Record<string, unknown>[] {
  if (req.audioOut && findModel(req.model)?.noSystemWithAudio) {
    return [
      { role: 'user', content: [{ type: 'text', text: req.system }] },
      { role: 'assistant', content: [{ type: 'text', text: 'OK.' }] },
    ];
  }
  return [{ role: 'system', content: req.system }];
}

/** enable_thinking only where the model has the switch (sending it elsewhere risks an InvalidParameter). */
function thinkingFlag(req: ModelRequest): { enable_thinking?: boolean } {
  if (req.thinking === undefined) return {};
  const supports = findModel(req.model)?.supportsThinking ?? true;
  if (!supports) return {};
  return { enable_thinking: req.thinking };
}

/** The `modalities` + `audio` pair asking for speech (never together with thinking: the service refuses). */
function audioParams(req: ModelRequest): Record<string, unknown> {
  if (!req.audioOut) return {};
  return { modalities: ['text', 'audio'], audio: { voice: req.audioOut.voice, format: 'wav' } };
}

export function buildBody(protocol: Protocol, req: ModelRequest, media?: MediaRef): Record<string, unknown> {
  if (protocol === 'dashscope') return nativeBody(req, media);
  const common = {
    model: req.model,
    stream: true,
    stream_options: { include_usage: true },
    ...audioParams(req),
    ...thinkingFlag(req),
  };
  if (protocol === 'chat') {
    return { ...common, messages: chatMessages(req, media), ...(req.maxOutputTokens && { max_tokens: req.maxOutputTokens }) };
  }
  // DMXAPI keeps the chat body, with `input` for `messages` and chat-style content parts. No output cap:
  // its seeds (000, 002) never show max_output_tokens, so it is not sent (and not relied on by a budget).
  return { ...common, input: chatMessages(req, media) };
}

function nativeBody(req: ModelRequest, media: MediaRef | undefined): Record<string, unknown> {
  const prompted = acceptsPrompt(req.model);
  const content: Record<string, unknown>[] = [];
  if (media) content.push({ [media.kind]: media.url });
  if (prompted && req.prompt) content.push({ text: req.prompt });
  const messages: Record<string, unknown>[] = [];
  if (prompted && req.system) messages.push({ role: 'system', content: [{ text: req.system }] });
  messages.push({ role: 'user', content });
  return {
    model: req.model,
    input: { messages },
    parameters: {
      // Without it every event repeats the whole text so far.
      incremental_output: true,
      ...audioParams(req),
      ...thinkingFlag(req),
      ...(req.maxOutputTokens && { max_tokens: req.maxOutputTokens }),
    },
  };
}
