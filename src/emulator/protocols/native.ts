/**
 * DashScope native multimodal-generation SSE (docs/protocols.md §3.3): `id:N\nevent:result\n:HTTP_STATUS/200\ndata:{...}`,
 * no space after the colons, finish_reason the string "null" until "stop", cumulative usage on every
 * event, no [DONE]. Without incremental_output every event repeats the whole text so far.
 * Speech (not documented for this endpoint [U]) goes in `output.audio` as in DashScope's TTS responses.
 */
import { textTokens } from '../../models/tokens.ts';
import { nativeUsage } from '../billing.ts';
import type { ApiError, Billed } from '../types.ts';
import type { ReplyContext, StreamWriter } from './writer.ts';

export function nativeWriter(ctx: ReplyContext): StreamWriter {
  let n = 0;
  let text = '';
  let reasoning = '';
  let audioBytes = 0;
  const final = ctx.answer.billed;
  // Usage so far: input is known up front; output grows with what has been sent.
  const soFar = (): Billed => ({
    input: final.input,
    output: {
      text: textTokens(text),
      reasoning: reasoning ? textTokens(reasoning) : 0,
      audio: Math.min(final.output.audio, Math.ceil((audioBytes / 48_000) * ctx.answer.spec.tokens.audioTokensPerSecond)),
    },
  });
  const event = (data: unknown, name = 'result', status = 200) => `id:${++n}\nevent:${name}\n:HTTP_STATUS/${status}\ndata:${JSON.stringify(data)}\n\n`;
  const result = (message: Record<string, unknown>, finish: string, usage: Billed, extra: Record<string, unknown> = {}) =>
    event({
      output: { choices: [{ message: { role: 'assistant', ...message }, finish_reason: finish }], ...extra },
      usage: nativeUsage(usage),
      request_id: ctx.requestId,
    });
  return {
    streamsAudio: true,
    start: () => [],
    reasoning: (d) => {
      reasoning += d;
      return result({ content: [], reasoning_content: ctx.incremental ? d : reasoning }, 'null', soFar());
    },
    text: (d) => {
      text += d;
      return result({ content: [{ text: ctx.incremental ? d : text }] }, 'null', soFar());
    },
    audio: (pcm) => {
      audioBytes += pcm.length; // PCM16 24 kHz mono: 48,000 bytes a second
      return result({ content: [] }, 'null', soFar(), { audio: { data: pcm.toString('base64'), id: `audio_${ctx.requestId}`, expires_at: ctx.created } });
    },
    finish: () => [result({ content: [{ text: ctx.incremental ? '' : text }] }, 'stop', final)],
    error: (err: ApiError) => [event({ request_id: ctx.requestId, code: err.code, message: err.message }, 'error', err.status)],
    body: () => ({
      output: {
        choices: [
          {
            finish_reason: 'stop',
            message: { role: 'assistant', content: [{ text: ctx.answer.text }], ...(ctx.answer.reasoning ? { reasoning_content: ctx.answer.reasoning } : {}) },
          },
        ],
      },
      usage: nativeUsage(final),
      request_id: ctx.requestId,
    }),
  };
}
