/**
 * OpenAI-compatible chat completions as DashScope streams them (docs/protocols.md §3.1): `data: <json>\n\n`
 * chunks with constant id/created, a finish chunk, the usage chunk (`choices: []`, only with
 * stream_options.include_usage), then `data: [DONE]`. Audio deltas are raw PCM16 24 kHz, base64.
 */
import { compatUsage } from '../billing.ts';
import type { ApiError } from '../types.ts';
import type { ReplyContext, StreamWriter } from './writer.ts';

const frame = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`;
const DONE = 'data: [DONE]\n\n';

export function chatWriter(ctx: ReplyContext): StreamWriter {
  const thinking = ctx.answer.reasoning.length > 0;
  const audioId = `audio_${ctx.id.replace(/^chatcmpl-/, '')}`;
  const chunk = (choices: unknown[], usage: unknown = null) => ({
    choices,
    object: 'chat.completion.chunk',
    usage,
    created: ctx.created,
    system_fingerprint: null,
    model: ctx.model,
    id: ctx.id,
  });
  const delta = (d: Record<string, unknown>, finish: string | null = null) => frame(chunk([{ delta: d, finish_reason: finish, index: 0, logprobs: null }]));
  return {
    streamsAudio: true,
    start: () => [delta(thinking ? { content: null, role: 'assistant', reasoning_content: '' } : { content: '', role: 'assistant' })],
    reasoning: (d) => delta({ content: null, reasoning_content: d }),
    text: (d) => delta({ content: d }),
    audio: (pcm) => delta({ audio: { data: pcm.toString('base64'), expires_at: ctx.created, id: audioId } }),
    finish: () => [
      delta(thinking ? { content: '', reasoning_content: null } : { content: '' }, 'stop'),
      ...(ctx.includeUsage ? [frame(chunk([], compatUsage(ctx.answer.billed)))] : []),
      DONE,
    ],
    error: (err: ApiError) => [
      frame({ error: { code: err.compatCode, param: null, message: err.compatMessage ?? err.message, type: err.compatType }, id: ctx.id }),
      DONE,
    ],
    body: () => ({
      choices: [
        {
          message: { content: ctx.answer.text, role: 'assistant', ...(thinking ? { reasoning_content: ctx.answer.reasoning } : {}) },
          finish_reason: 'stop',
          index: 0,
          logprobs: null,
        },
      ],
      object: 'chat.completion',
      usage: compatUsage(ctx.answer.billed),
      created: ctx.created,
      system_fingerprint: null,
      model: ctx.model,
      id: ctx.id,
    }),
  };
}
