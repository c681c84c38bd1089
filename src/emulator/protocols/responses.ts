/**
 * DMXAPI-style `/v1/responses` SSE (docs/protocols.md §3.2): `event: <name>\ndata: <json>\n\n`, modelled on
 * OpenAI's event sequence, ending with response.completed (usage) and a trailing `data: [DONE]` as DMXAPI
 * sends. Speech is not streamed: one `output_audio` part in response.output_item.done carries the whole
 * answer as a base64 RIFF WAV (memory is unavoidable here, as on the real gateway).
 */
import { wavHeader } from '../../models/wav.ts';
import { pcmChunks } from '../audio.ts';
import { responsesUsage } from '../billing.ts';
import type { ApiError } from '../types.ts';
import type { ReplyContext, StreamWriter } from './writer.ts';

export function responsesWriter(ctx: ReplyContext): StreamWriter {
  let seq = 0;
  const thinking = ctx.answer.reasoning.length > 0;
  const hex = ctx.id.replace(/^resp_/, '');
  const msgId = `msg_${hex}`;
  const rsId = `rs_${hex}`;
  const msgIndex = thinking ? 1 : 0;
  const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  const response = (status: string, extra: Record<string, unknown> = {}) => ({
    id: ctx.id,
    object: 'response',
    created_at: ctx.created,
    status,
    model: ctx.model,
    output: [],
    ...extra,
  });
  const reasoningItem = (status: string) => ({
    id: rsId,
    type: 'reasoning',
    status,
    summary: [],
    content: status === 'completed' ? [{ type: 'reasoning_text', text: ctx.answer.reasoning }] : [],
  });
  const textPart = (text: string) => ({ type: 'output_text', text, annotations: [] });
  const messageItem = (status: string, content: unknown[]) => ({ id: msgId, type: 'message', role: 'assistant', status, content });

  function wavBase64(): string {
    const seconds = ctx.answer.audioSeconds ?? 0;
    const pcm = Buffer.concat([...pcmChunks(seconds, 1)]);
    return Buffer.concat([wavHeader(pcm.length), pcm]).toString('base64');
  }

  return {
    streamsAudio: false,
    start: () => [
      ev('response.created', { response: response('in_progress') }),
      ev('response.in_progress', { response: response('in_progress') }),
      ...(thinking
        ? [ev('response.output_item.added', { output_index: 0, item: reasoningItem('in_progress') })]
        : [
            ev('response.output_item.added', { output_index: msgIndex, item: messageItem('in_progress', []) }),
            ev('response.content_part.added', { item_id: msgId, output_index: msgIndex, content_index: 0, part: textPart('') }),
          ]),
    ],
    reasoning: (delta) => ev('response.reasoning_text.delta', { item_id: rsId, output_index: 0, content_index: 0, delta }),
    text: (() => {
      let first = true;
      return (delta: string) => {
        // In thinking mode the message item opens only when the reasoning is done.
        const open =
          thinking && first
            ? [
                ev('response.reasoning_text.done', { item_id: rsId, output_index: 0, content_index: 0, text: ctx.answer.reasoning }),
                ev('response.output_item.done', { output_index: 0, item: reasoningItem('completed') }),
                ev('response.output_item.added', { output_index: msgIndex, item: messageItem('in_progress', []) }),
                ev('response.content_part.added', { item_id: msgId, output_index: msgIndex, content_index: 0, part: textPart('') }),
              ].join('')
            : '';
        first = false;
        return open + ev('response.output_text.delta', { item_id: msgId, output_index: msgIndex, content_index: 0, delta });
      };
    })(),
    audio: () => '',
    finish: () => {
      const text = ctx.answer.text;
      const content: unknown[] = [textPart(text)];
      // The WAV's base64 split (on 4-character boundaries) over `audioParts` output_item.done events: a
      // client must join every part, as seed 002's sample does, not keep the first.
      const pieces = ctx.answer.audioSeconds !== undefined ? splitBase64(wavBase64(), ctx.audioParts ?? 1) : [];
      const audioPart = (data: string) => ({ type: 'output_audio', audio: { data, id: `audio_${hex}`, format: 'wav' } });
      const early = pieces
        .slice(0, -1)
        .map((data) => ev('response.output_item.done', { output_index: msgIndex, item: messageItem('completed', [audioPart(data)]) }));
      if (pieces.length) content.push(audioPart(pieces[pieces.length - 1]));
      const output = [...(thinking ? [reasoningItem('completed')] : []), messageItem('completed', [textPart(text)])];
      return [
        ev('response.output_text.done', { item_id: msgId, output_index: msgIndex, content_index: 0, text }),
        ev('response.content_part.done', { item_id: msgId, output_index: msgIndex, content_index: 0, part: textPart(text) }),
        ...early,
        ev('response.output_item.done', { output_index: msgIndex, item: messageItem('completed', content) }),
        // The audio is not repeated here: it was in output_item.done, and it may be minutes long.
        ev('response.completed', { response: response('completed', { output, usage: responsesUsage(ctx.answer.billed) }) }),
        'data: [DONE]\n\n',
      ];
    },
    error: (err: ApiError) => [
      ev('error', {
        code: err.compatCode,
        message: err.compatMessage ?? err.message,
        param: null,
        error: { type: err.compatType, code: err.compatCode, message: err.compatMessage ?? err.message, param: null },
      }),
    ],
    body: () =>
      response('completed', {
        output: [...(thinking ? [reasoningItem('completed')] : []), messageItem('completed', [textPart(ctx.answer.text)])],
        usage: responsesUsage(ctx.answer.billed),
      }),
  };
}

/** base64 -> n pieces of near-equal length, each a whole number of 4-character quanta (the last may be shorter). */
export function splitBase64(b64: string, n: number): string[] {
  const quanta = b64.length / 4;
  const per = Math.max(1, Math.ceil(quanta / Math.max(1, n))) * 4;
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += per) out.push(b64.slice(i, i + per));
  return out.length ? out : [b64];
}
