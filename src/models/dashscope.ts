/**
 * DashScope native multimodal-generation (docs/protocols.md §3.3): `id:N` / `event:result` / `:HTTP_STATUS/200`
 * / `data:{json}` frames, no space after the colons, no [DONE]. With `incremental_output: true` every
 * event carries only the new text. `finish_reason` is the *string* "null" until the last event says
 * "stop" (or "length"): that event is the only proof the answer is complete. Usage is cumulative on
 * every event, so the last one wins. Errors: `event:error` with `:HTTP_STATUS/429` and
 * `{"code","message","request_id"}`, at stream open or mid-stream.
 */

import { detailedUsage, IO_USAGE_KEYS } from './decode-common.ts';
import { classifyError, truncatedError } from './errors.ts';
import type { SseEvent } from './sse.ts';
import type { Delta, ProtocolStream, StreamContext, StreamSummary } from './stream.ts';
import { Base64Stream, eventJson, isObj, optStr, RiffSniffer, statusFromComments } from './stream.ts';
import type { Usage } from './types.ts';

export const DASHSCOPE_PATH = '/services/aigc/multimodal-generation/generation';

/**
 * native usage -> Usage: input_tokens_details / output_tokens_details, plus the legacy top-level
 * audio_tokens / image_tokens / video_tokens of the qwen-audio and qwen-vl examples (input counts).
 */
export function dashscopeUsage(u: Record<string, unknown>, ctx: StreamContext, audioSecondsOut = 0): Usage {
  return detailedUsage(u, { ...IO_USAGE_KEYS, legacyTopLevel: true }, ctx, audioSecondsOut);
}

const isFinal = (reason: unknown): reason is string => typeof reason === 'string' && reason !== '' && reason !== 'null';

export class DashscopeStream implements ProtocolStream {
  private readonly audio = new Base64Stream();
  private readonly sniffer = new RiffSniffer();
  private pcmBytes = 0;
  private usage: Record<string, unknown> | undefined;
  private finishReason: string | null = null;
  private requestId: string | null = null;
  private model: string | null = null;

  constructor(private readonly ctx: StreamContext) {}

  onEvent(ev: SseEvent): Iterable<Delta> {
    const j = eventJson(ev);
    if (!j) return [];
    const status = statusFromComments(ev.comments);
    const output = isObj(j.output) ? j.output : undefined;
    if (ev.event === 'error' || (status !== undefined && status >= 400) || (!output && typeof j.code === 'string' && j.code !== '')) {
      throw classifyError({ body: j, inStream: true, status });
    }
    this.requestId ??= optStr(j.request_id) ?? null;
    this.model ??= optStr(j.model) ?? null;
    if (isObj(j.usage)) this.usage = j.usage;
    if (!output) return [];
    const out: Delta[] = [];
    // Older text-generation shape: output.text (+ output.finish_reason).
    if (typeof output.text === 'string' && output.text) out.push({ kind: 'text', text: output.text });
    if (isFinal(output.finish_reason)) this.finishReason = output.finish_reason;
    if (isObj(output.audio) && typeof output.audio.data === 'string') out.push(...this.audioDeltas(output.audio.data));
    for (const choice of Array.isArray(output.choices) ? output.choices : []) {
      if (!isObj(choice)) continue;
      const message = isObj(choice.message) ? choice.message : {};
      if (typeof message.reasoning_content === 'string' && message.reasoning_content) out.push({ kind: 'reasoning', text: message.reasoning_content });
      const content = message.content;
      if (typeof content === 'string' && content) out.push({ kind: 'text', text: content });
      for (const part of Array.isArray(content) ? content : []) {
        if (!isObj(part)) continue;
        if (typeof part.text === 'string' && part.text) out.push({ kind: 'text', text: part.text });
        if (isObj(part.audio) && typeof part.audio.data === 'string') out.push(...this.audioDeltas(part.audio.data));
      }
      if (isFinal(choice.finish_reason)) this.finishReason = choice.finish_reason;
    }
    return out;
  }

  private audioDeltas(b64: string): Delta[] {
    const deltas = this.sniffer.push(this.audio.push(b64));
    for (const d of deltas) if (d.kind === 'audio') this.pcmBytes += d.pcm.length;
    return deltas;
  }

  finish(): { tail: Delta[]; summary: StreamSummary } {
    if (this.finishReason === null) throw truncatedError('no event with a finish_reason');
    const tail = [...this.sniffer.push(this.audio.end()), ...this.sniffer.end()];
    for (const d of tail) if (d.kind === 'audio') this.pcmBytes += d.pcm.length;
    return {
      tail,
      summary: {
        usage: dashscopeUsage(this.usage ?? {}, this.ctx, this.pcmBytes / (24_000 * 2)),
        finishReason: this.finishReason,
        requestId: this.requestId,
        model: this.model,
      },
    };
  }
}
