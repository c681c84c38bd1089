/**
 * What the three protocol decoders share: the deltas they emit, the summary they end with, a base64
 * decoder that survives arbitrary chunk boundaries, and the rule that turns a provider's usage block
 * (split by modality or not) into our normalized Usage. All pure.
 */

import { OmniError } from '../util/errors.ts';
import type { SseEvent } from './sse.ts';
import { textTokens } from './tokens.ts';
import type { MediaKind, Usage } from './types.ts';
import { parseWavHeader, type WavFormat } from './wav.ts';

export type Delta =
  | { kind: 'text'; text: string }
  | { kind: 'reasoning'; text: string }
  /** `delta.audio.transcript`: the spoken text, used only when no `content` text came */
  | { kind: 'transcript'; text: string }
  /** the PCM format, when the stream says (a RIFF header); otherwise the model's 24 kHz mono PCM16 */
  | { kind: 'audio_format'; format: WavFormat }
  | { kind: 'audio'; pcm: Buffer };

export interface StreamSummary {
  usage: Usage;
  finishReason: string | null;
  requestId: string | null;
  model: string | null;
  /** text the protocol delivered whole (responses `output_text.done`), used when no deltas came */
  fallbackText?: string;
}

/** What a decoder needs to know about the request it answers (for usage without a modality split). */
export interface StreamContext {
  model: string;
  mediaKind?: MediaKind;
  /** prompt + system text, to estimate the text share of an unsplit input count */
  promptText: string;
  /** output audio tokens per second (12.5 for qwen3) */
  audioTokensPerSecond: number;
  /** the media's length, seconds, when known (a video's audio track is billed as audio tokens) */
  mediaSeconds?: number;
  /** a video's sound track (default true) */
  mediaHasAudio?: boolean;
}

export interface ProtocolStream {
  /**
   * One SSE event -> deltas; throws a classified OmniError for an error frame. Iterable rather than an
   * array so a large event (a whole audio answer) is decoded piece by piece as the consumer writes it.
   */
  onEvent(ev: SseEvent): Iterable<Delta>;
  /** The body ended: the last deltas and the summary, or stream_truncated when the final event never came. */
  finish(): { tail: Delta[]; summary: StreamSummary };
}

type Json = Record<string, unknown>;
export const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
export const optStr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * An event's JSON. A frame cut by the end of input (`partial`) that does not parse is dropped (the
 * protocol then reports the missing final event); a complete frame that does not parse is an error.
 */
export function eventJson(ev: SseEvent): Json | undefined {
  try {
    const v = JSON.parse(ev.data) as unknown;
    return isObj(v) ? v : undefined;
  } catch {
    if (ev.partial) return undefined;
    throw new OmniError('service_unknown', `malformed stream event: ${ev.data.slice(0, 120)}`);
  }
}

/**
 * Base64 arriving in pieces: each piece is decoded as it comes, carrying the 0-3 characters of an
 * unfinished 4-character quantum to the next piece, so neither the whole string nor a misaligned
 * decode ever happens. A padded piece ends its quantum (independently encoded deltas stay correct).
 */
export class Base64Stream {
  private carry = '';

  push(piece: string): Buffer {
    let s = this.carry + (/\s/.test(piece) ? piece.replace(/\s+/g, '') : piece);
    this.carry = '';
    if (s.endsWith('=')) return Buffer.from(s, 'base64');
    const whole = s.length - (s.length % 4);
    if (whole < s.length) {
      this.carry = s.slice(whole);
      s = s.slice(0, whole);
    }
    return s.length ? Buffer.from(s, 'base64') : Buffer.alloc(0);
  }

  /** Whatever is left (an unpadded final quantum of 2-3 characters still holds 1-2 bytes). */
  end(): Buffer {
    const s = this.carry;
    this.carry = '';
    return s.length >= 2 ? Buffer.from(s, 'base64') : Buffer.alloc(0);
  }
}

export interface RawUsage {
  inputTotal?: number;
  input: Partial<Usage['input']>;
  outputTotal?: number;
  output: Partial<Usage['output']>;
}

/**
 * Provider usage -> Usage, with one rule for what the provider did not split:
 * - input: the modality counts given are kept. A remainder (total minus the given counts) goes to `text`
 *   when any count was given (compat omits zero keys; the remainder is the prompt). When no split was
 *   given at all (DMXAPI responses), the request's own text is estimated with the text-token rule; a
 *   video's sound track is audio (ceil(max(1, s) x rate), billed separately from the picture: 000:705,
 *   001:642); the rest is the request's media modality; without media, everything is text.
 * - output: counts given are kept; an unsplit remainder becomes `audio` up to the audio the stream
 *   actually delivered (seconds x tokens/s) and `text` for the rest.
 * A split made here across more than one kind is marked `inferred`. Totals are the sums of the parts.
 */
export function normalizeUsage(raw: RawUsage, ctx: StreamContext, audioSecondsOut = 0): Usage {
  let inferred = false;
  const input = { text: num(raw.input.text), audio: num(raw.input.audio), image: num(raw.input.image), video: num(raw.input.video) };
  const given = input.text + input.audio + input.image + input.video;
  const inRest = Math.max(0, num(raw.inputTotal) - given);
  if (inRest > 0) {
    if (given > 0 || !ctx.mediaKind) input.text += inRest;
    else {
      inferred = true;
      const text = Math.min(inRest, textTokens(ctx.promptText));
      const track =
        ctx.mediaKind === 'video' && ctx.mediaHasAudio !== false && ctx.mediaSeconds !== undefined
          ? Math.min(inRest - text, Math.ceil(Math.max(1, ctx.mediaSeconds) * ctx.audioTokensPerSecond))
          : 0;
      input.text += text;
      input.audio += track;
      input[ctx.mediaKind] += inRest - text - track;
    }
  }
  const output = { text: num(raw.output.text), audio: num(raw.output.audio), reasoning: num(raw.output.reasoning) };
  const outRest = Math.max(0, num(raw.outputTotal) - (output.text + output.audio + output.reasoning));
  if (outRest > 0) {
    const audio = output.audio === 0 && audioSecondsOut > 0 ? Math.min(outRest, Math.ceil(audioSecondsOut * ctx.audioTokensPerSecond)) : 0;
    if (audio > 0) inferred = true;
    output.audio += audio;
    output.text += outRest - audio;
  }
  return {
    input,
    output,
    inputTotal: input.text + input.audio + input.image + input.video,
    outputTotal: output.text + output.audio + output.reasoning,
    ...(inferred && { inferred: true as const }),
  };
}

/** `:HTTP_STATUS/429` comment lines (native gateway) -> 429. */
export function statusFromComments(comments: readonly string[]): number | undefined {
  for (const c of comments) {
    const m = /^HTTP_STATUS\/(\d{3})$/.exec(c.trim());
    if (m) return Number(m[1]);
  }
  return undefined;
}

/**
 * Audio bytes that may or may not start with a RIFF/WAVE header (DMXAPI does not say which it sends):
 * the first bytes are sniffed; a header sets the format and is stripped, raw PCM passes through.
 */
export class RiffSniffer {
  private head: Buffer[] = [];
  private headBytes = 0;
  private decided = false;

  push(bytes: Buffer): Delta[] {
    if (this.decided) return bytes.length ? [{ kind: 'audio', pcm: bytes }] : [];
    this.head.push(bytes);
    this.headBytes += bytes.length;
    if (this.headBytes < 12) return [];
    const buf = Buffer.concat(this.head);
    this.head = [];
    if (buf.toString('ascii', 0, 4) !== 'RIFF') return this.decide(buf);
    const h = parseWavHeader(buf);
    if (!h) {
      // The header is not complete yet; headers larger than this are not WAV files we can read.
      if (buf.length < 64 * 1024) {
        this.head = [buf];
        return [];
      }
      return this.decide(buf);
    }
    this.decided = true;
    return [{ kind: 'audio_format', format: h.format }, ...(buf.length > h.dataOffset ? [{ kind: 'audio' as const, pcm: buf.subarray(h.dataOffset) }] : [])];
  }

  end(): Delta[] {
    if (this.decided || this.headBytes === 0) return [];
    return this.decide(Buffer.concat(this.head));
  }

  private decide(buf: Buffer): Delta[] {
    this.decided = true;
    this.head = [];
    return buf.length ? [{ kind: 'audio', pcm: buf }] : [];
  }
}
