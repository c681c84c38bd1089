/**
 * The lines of the Batch API's files, pure: a chunk's request line (the real-time chat body as Batch takes it),
 * an output line back to the normalized ModelResult, and an error line to the OmniError a real-time request
 * would have raised (models/errors.ts), so the pipeline treats both alike. docs/protocols.md "Batch (file input)".
 */
import type { OmniError } from '../util/errors.ts';
import { BATCH_ENDPOINT } from './batch-api.ts';
import { chatUsage } from './chat.ts';
import { classifyError } from './errors.ts';
import type { StreamContext } from './stream.ts';
import type { ModelResult } from './types.ts';

/**
 * A line of the input file. The body is the real-time chat body without what only a stream means (`stream`,
 * `stream_options`: a Batch answer is one JSON response) and without speech (`modalities`, `audio`: Batch
 * returns text only); everything else (messages with the media, max_tokens, enable_thinking) as sent in real time.
 */
export function batchRequestLine(customId: string, chatBody: Record<string, unknown>): string {
  const { stream: _s, stream_options: _o, modalities: _m, audio: _a, ...body } = chatBody;
  return JSON.stringify({ custom_id: customId, method: 'POST', url: BATCH_ENDPOINT, body });
}

/** One line of an output or error file, as the provider writes it (OpenAI's Batch output format). */
export interface BatchResultLine {
  id?: string;
  custom_id: string;
  response?: { status_code?: number; request_id?: string; body?: unknown } | null;
  error?: { code?: string; message?: string } | null;
}

/** Parses a result line; undefined for a line without a custom_id (it cannot be routed). */
export function parseResultLine(text: string): BatchResultLine | undefined {
  try {
    const o = JSON.parse(text) as BatchResultLine;
    return typeof o?.custom_id === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

/** A 200 with a chat completion: the answer. Anything else: an error line, whichever file it came in. */
export function isAnswer(line: BatchResultLine): boolean {
  const b = line.response?.body as { choices?: unknown } | undefined;
  return !line.error && (line.response?.status_code ?? 0) === 200 && Array.isArray(b?.choices);
}

/** A line the batch never ran (expired, cancelled): no response, only `error` (batch_expired, batch_cancelled). */
export function neverRan(line: BatchResultLine): boolean {
  return !line.response && !isAnswer(line);
}

/** The error a line carries, classified as a real-time request's (a too-large chunk, a transient 5xx, a refusal). */
export function lineError(line: BatchResultLine): OmniError {
  const status = line.response?.status_code;
  const body = line.response?.body ?? (line.error ? { error: line.error } : undefined);
  return classifyError({ status: status && status !== 200 ? status : undefined, body });
}

const text = (content: unknown): string => {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('');
  return '';
};

/** An answer line -> the result a real-time request returns (its usage read as the chat protocol's). */
export function answerResult(line: BatchResultLine, ctx: StreamContext): ModelResult {
  const body = line.response!.body as {
    model?: string;
    choices: { message?: { content?: unknown; reasoning_content?: unknown }; finish_reason?: string | null }[];
    usage?: Record<string, unknown>;
  };
  const choice = body.choices[0] ?? {};
  return {
    text: text(choice.message?.content),
    reasoning: text(choice.message?.reasoning_content),
    usage: chatUsage(body.usage ?? {}, ctx),
    finishReason: choice.finish_reason ?? null,
    requestId: line.response?.request_id ?? line.id ?? null,
    model: body.model ?? ctx.model,
  };
}
