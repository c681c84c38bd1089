/**
 * OpenAI-compatible chat completions (DashScope compatible-mode), docs/protocols.md §3.1: `data: <json>` frames,
 * text in `delta.content`, thinking in `delta.reasoning_content`, speech as base64 raw PCM16 24 kHz mono
 * in `delta.audio.data`, then a usage chunk with `choices: []`, then `data: [DONE]`. Both the usage chunk
 * and [DONE] must arrive: anything less is a cut stream, never a success.
 */

import { COMPAT_USAGE_KEYS, detailedUsage } from './decode-common.ts';
import { classifyError, truncatedError } from './errors.ts';
import type { SseEvent } from './sse.ts';
import type { Delta, ProtocolStream, StreamContext, StreamSummary } from './stream.ts';
import { Base64Stream, eventJson, isObj, optStr, statusFromComments } from './stream.ts';
import type { Usage } from './types.ts';

export const CHAT_PATH = '/chat/completions';

const PCM_BYTES_PER_SECOND = 24_000 * 2;

/** compat usage -> Usage (docs/protocols.md §4: only non-zero detail keys are present). */
export function chatUsage(u: Record<string, unknown>, ctx: StreamContext, audioSecondsOut = 0): Usage {
  return detailedUsage(u, COMPAT_USAGE_KEYS, ctx, audioSecondsOut);
}

export class ChatStream implements ProtocolStream {
  private readonly audio = new Base64Stream();
  private audioBytes = 0;
  private usage: Record<string, unknown> | undefined;
  private done = false;
  private finishReason: string | null = null;
  private requestId: string | null = null;
  private model: string | null = null;

  constructor(private readonly ctx: StreamContext) {}

  onEvent(ev: SseEvent): Delta[] {
    if (ev.data.trim() === '[DONE]') {
      this.done = true;
      return [];
    }
    const j = eventJson(ev);
    if (!j) return [];
    // An error frame, at stream open (HTTP 400) or after deltas (output inspection, throttling).
    if (j.error !== undefined && j.error !== null) {
      throw classifyError({ body: j, inStream: true, status: statusFromComments(ev.comments) });
    }
    this.requestId ??= optStr(j.id) ?? null;
    this.model ??= optStr(j.model) ?? null;
    if (isObj(j.usage)) this.usage = j.usage;
    const out: Delta[] = [];
    for (const choice of Array.isArray(j.choices) ? j.choices : []) {
      if (!isObj(choice)) continue;
      const delta = isObj(choice.delta) ? choice.delta : {};
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) out.push({ kind: 'reasoning', text: delta.reasoning_content });
      if (typeof delta.content === 'string' && delta.content) out.push({ kind: 'text', text: delta.content });
      if (isObj(delta.audio)) {
        if (typeof delta.audio.data === 'string' && delta.audio.data) {
          const pcm = this.audio.push(delta.audio.data);
          if (pcm.length) {
            this.audioBytes += pcm.length;
            out.push({ kind: 'audio', pcm });
          }
        }
        if (typeof delta.audio.transcript === 'string' && delta.audio.transcript) out.push({ kind: 'transcript', text: delta.audio.transcript });
      }
      if (typeof choice.finish_reason === 'string' && choice.finish_reason) this.finishReason = choice.finish_reason;
    }
    return out;
  }

  finish(): { tail: Delta[]; summary: StreamSummary } {
    if (!this.usage) throw truncatedError('no usage chunk');
    if (!this.done) throw truncatedError('no [DONE]');
    const rest = this.audio.end();
    this.audioBytes += rest.length;
    return {
      tail: rest.length ? [{ kind: 'audio', pcm: rest }] : [],
      summary: {
        usage: chatUsage(this.usage, this.ctx, this.audioBytes / PCM_BYTES_PER_SECOND),
        finishReason: this.finishReason,
        requestId: this.requestId,
        model: this.model,
      },
    };
  }
}
