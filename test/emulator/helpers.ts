// Raw HTTP and SSE helpers for the emulator tests: they read the bytes as a client would, nothing parsed for them.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const CHAT = '/compatible-mode/v1/chat/completions';
export const RESPONSES = '/v1/responses';
export const NATIVE = '/api/v1/services/aigc/multimodal-generation/generation';

export function dataUrl(file: string): string {
  return `data:;base64,${readFileSync(file).toString('base64')}`;
}
export function shortHash(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 8);
}

export async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal });
}

export interface SseFrame {
  raw: string;
  event?: string;
  id?: string;
  comments: string[];
  data: string;
}

/** Splits an SSE body into frames (blank-line separated), keeping the raw text of each. */
export function frames(body: string): SseFrame[] {
  return body
    .split('\n\n')
    .filter((f) => f.length > 0)
    .map((raw) => {
      const f: SseFrame = { raw, comments: [], data: '' };
      const data: string[] = [];
      for (const line of raw.split('\n')) {
        if (line.startsWith(':')) f.comments.push(line.slice(1));
        else {
          const i = line.indexOf(':');
          const key = line.slice(0, i);
          const value = line.slice(i + 1).replace(/^ /, '');
          if (key === 'data') data.push(value);
          else if (key === 'event') f.event = value;
          else if (key === 'id') f.id = value;
        }
      }
      f.data = data.join('\n');
      return f;
    });
}

export const json = (f: SseFrame): any => JSON.parse(f.data);

export function chatRequest(extra: Record<string, unknown> = {}, content: unknown = 'Hello there'): Record<string, unknown> {
  return { model: 'qwen3-omni-flash', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content }], ...extra };
}
export function nativeRequest(audio: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'qwen3-omni-30b-a3b-captioner',
    input: { messages: [{ role: 'user', content: [{ audio }] }] },
    parameters: { incremental_output: true },
    ...extra,
  };
}
export function responsesRequest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'qwen3-omni-flash-all', stream: true, input: [{ role: 'user', content: 'Hello there' }], ...extra };
}

/** Reads a streaming body until `enough(text)` says so; returns what was read (the stream stays open). */
export async function readUntil(res: Response, enough: (text: string) => boolean): Promise<{ text: string; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  while (!enough(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
  }
  return { text, reader };
}

/** Reads the rest of a stream; `error` when the connection failed instead of ending. */
export async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<{ text: string; error?: unknown }> {
  const dec = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { text };
      text += dec.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}
