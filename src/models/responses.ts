/**
 * DMXAPI-style `/v1/responses` (docs/protocols.md §3.2): `event: <name>` + `data: <json>` frames. Text in
 * `response.output_text.delta`, the spoken answer as base64 in the `output_audio` parts of every
 * `response.output_item.done`, joined in order as seed 002 joins them (one RIFF WAV or raw PCM: sniffed
 * once at the start), usage in `response.completed`, which is the
 * final event (a trailing `data: [DONE]` may follow and is ignored). Without `response.completed` (or
 * `response.incomplete`) the stream is cut. Event names not listed are ignored, as OpenAI clients do.
 */

import { detailedUsage, IO_USAGE_KEYS } from './decode-common.ts';
import { classifyError, truncatedError } from './errors.ts';
import type { SseEvent } from './sse.ts';
import type { Delta, ProtocolStream, StreamContext, StreamSummary } from './stream.ts';
import { Base64Stream, eventJson, isObj, num, optStr, RiffSniffer, statusFromComments } from './stream.ts';
import type { Usage } from './types.ts';

export const RESPONSES_PATH = '/responses';

/** The whole answer's audio sits in one event: a larger event ceiling than the other protocols (~40 min of PCM). */
export const RESPONSES_MAX_EVENT_CHARS = 256 * 1024 * 1024;

/** base64 characters decoded at a time (a multiple of 4): bounds the transient PCM buffer. */
const SLICE = 1024 * 1024;

/**
 * responses usage -> Usage. DMXAPI reports no modality split (docs/protocols.md §3.2); split fields are used
 * when present (input_tokens_details.audio_tokens, ...), otherwise normalizeUsage's estimate applies.
 */
export function responsesUsage(u: Record<string, unknown>, ctx: StreamContext, audioSecondsOut = 0): Usage {
  return detailedUsage(u, IO_USAGE_KEYS, ctx, audioSecondsOut);
}

const REASONING_EVENTS = new Set(['response.reasoning_text.delta', 'response.reasoning_summary_text.delta', 'response.reasoning.delta']);
const AUDIO_DELTA_EVENTS = new Set(['response.output_audio.delta', 'response.audio.delta']);

export class ResponsesStream implements ProtocolStream {
  private readonly sniffer = new RiffSniffer();
  private streamedAudio: Base64Stream | undefined;
  /** the parts of all output_item.done events are one base64 string, cut anywhere: one decoder */
  private itemAudio: Base64Stream | undefined;
  private audioSeen = false;
  private pcmBytes = 0;
  private bytesPerSecond = 24_000 * 2;
  private usage: Record<string, unknown> | undefined;
  private completed = false;
  private finishReason: string | null = null;
  private requestId: string | null = null;
  private model: string | null = null;
  private doneText = '';

  constructor(private readonly ctx: StreamContext) {}

  onEvent(ev: SseEvent): Iterable<Delta> {
    if (ev.data.trim() === '[DONE]') return [];
    const j = eventJson(ev);
    if (!j) return [];
    const name = ev.event ?? optStr(j.type) ?? '';
    if (name === 'error' || name === 'response.failed' || (name === '' && j.error !== undefined && j.error !== null)) {
      throw classifyError({ body: j, inStream: true, status: statusFromComments(ev.comments) ?? (num(j.status) || undefined) });
    }
    const response = isObj(j.response) ? j.response : undefined;
    if (response) {
      this.requestId ??= optStr(response.id) ?? null;
      this.model ??= optStr(response.model) ?? null;
    }
    switch (name) {
      case 'response.output_text.delta':
        return typeof j.delta === 'string' && j.delta ? [{ kind: 'text', text: j.delta }] : [];
      case 'response.output_text.done':
        if (typeof j.text === 'string') this.doneText += j.text;
        return [];
      case 'response.output_item.done':
        return this.audioParts(isObj(j.item) ? j.item : {});
      case 'response.completed':
      case 'response.incomplete': {
        this.completed = true;
        if (response && isObj(response.usage)) this.usage = response.usage;
        const incomplete = response && isObj(response.incomplete_details) ? optStr(response.incomplete_details.reason) : undefined;
        this.finishReason = name === 'response.completed' ? 'stop' : incomplete === 'max_output_tokens' ? 'length' : (incomplete ?? 'incomplete');
        // Audio only in the final output (never in an output_item.done): take it from there.
        if (!this.audioSeen && response && Array.isArray(response.output)) {
          return (function* (self: ResponsesStream, items: unknown[]) {
            for (const item of items) if (isObj(item)) yield* self.audioParts(item);
          })(this, response.output);
        }
        return [];
      }
      default:
        if (REASONING_EVENTS.has(name) && typeof j.delta === 'string' && j.delta) return [{ kind: 'reasoning', text: j.delta }];
        if (AUDIO_DELTA_EVENTS.has(name) && typeof j.delta === 'string' && j.delta) {
          this.audioSeen = true;
          this.streamedAudio ??= new Base64Stream();
          return this.track(this.sniffer.push(this.streamedAudio.push(j.delta)));
        }
        return [];
    }
  }

  private *audioParts(item: Record<string, unknown>): Generator<Delta> {
    for (const part of Array.isArray(item.content) ? item.content : []) {
      if (!isObj(part) || !isObj(part.audio) || typeof part.audio.data !== 'string' || !part.audio.data) continue;
      if (part.type !== undefined && part.type !== 'output_audio' && part.type !== 'audio') continue;
      // Audio already streamed as deltas: the parts would repeat it.
      if (this.streamedAudio) continue;
      this.audioSeen = true;
      const b64 = part.audio.data;
      this.itemAudio ??= new Base64Stream();
      for (let i = 0; i < b64.length; i += SLICE) yield* this.track(this.sniffer.push(this.itemAudio.push(b64.slice(i, i + SLICE))));
    }
  }

  private track(deltas: Delta[]): Delta[] {
    for (const d of deltas) {
      if (d.kind === 'audio') this.pcmBytes += d.pcm.length;
      if (d.kind === 'audio_format') this.bytesPerSecond = d.format.sampleRate * d.format.channels * (d.format.bitsPerSample / 8);
    }
    return deltas;
  }

  finish(): { tail: Delta[]; summary: StreamSummary } {
    if (!this.completed) throw truncatedError('no response.completed');
    const rest = (this.streamedAudio ?? this.itemAudio)?.end();
    const tail = this.track([...(rest ? this.sniffer.push(rest) : []), ...this.sniffer.end()]);
    const usage = this.usage ?? {};
    return {
      tail,
      summary: {
        usage: responsesUsage(usage, this.ctx, this.pcmBytes / this.bytesPerSecond),
        finishReason: this.finishReason,
        requestId: this.requestId,
        model: this.model,
        fallbackText: this.doneText || undefined,
      },
    };
  }
}
