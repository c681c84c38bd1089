/**
 * What one request may carry, and what a chunk of a given length and encoding will cost against it.
 * Pure: the planner uses these to choose lengths and bitrates, the cutter to check measured chunks.
 */
import type { ModelSpec } from '../models/catalog.ts';
import { audioTokens, videoTokens } from '../models/tokens.ts';
import { OmniError } from '../util/errors.ts';
import type { EffectiveLimits, EncodeSpec } from './types.ts';

/** Room kept for the `data:audio/mp3;base64,` prefix: the documented ceiling is on the whole string. */
export const DATA_URL_PREFIX_RESERVE = 64;
/** Planned chunks stay this far under the model's duration ceiling: a cut lands on a codec frame, not a sample. */
export const DURATION_SLACK_S = 0.5;
/** Extra seconds a cut chunk may carry beyond its plan: one mp3 frame at each end plus the encoder's priming. */
const AUDIO_FRAME_SLACK_S = 0.15;
/** ID3 tag and frame padding of an mp3 chunk. */
const MP3_OVERHEAD_BYTES = 1024;
/** MP4 boxes and index grow with length; 3% plus a fixed header covers it at these low bitrates. */
const MP4_OVERHEAD_RATIO = 1.03;
const MP4_OVERHEAD_BYTES = 16 * 1024;
/** x264's VBV buffer (bufsize = 2 x maxrate) lets a chunk exceed maxrate x seconds by up to two seconds' worth. */
const VBV_SLACK_S = 2;

export function base64Chars(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

export interface LimitPolicy {
  inputMode: 'base64' | 'url';
  base64MaxChars?: number;
  promptTokens?: number;
  thinking?: boolean;
}

/** The model's ceilings for one request in this mode, combined with how the media travels (base64 or URL). */
export function effectiveLimits(model: ModelSpec, mode: 'audio' | 'video', policy: LimitPolicy): EffectiveLimits {
  const media = mode === 'audio' ? model.limits.audio : model.limits.video;
  if (!media || !model.inputs.includes(mode)) {
    throw new OmniError('plan_impossible', `${model.id} does not take ${mode} input`, { retryable: false });
  }
  const maxInputTokens = policy.thinking && model.limits.maxInputTokensThinking ? model.limits.maxInputTokensThinking : model.limits.maxInputTokens;
  let maxBytes = media.maxBytes;
  let maxBase64Chars = Number.POSITIVE_INFINITY;
  if (policy.inputMode === 'base64') {
    // "the encoded string must stay under N": at most N - 1 characters, the data-URL prefix included.
    maxBase64Chars = (policy.base64MaxChars ?? model.limits.base64MaxChars) - 1 - DATA_URL_PREFIX_RESERVE;
    maxBytes = Math.min(maxBytes, Math.floor(maxBase64Chars / 4) * 3);
  } else {
    maxBytes = Math.min(maxBytes, model.limits.urlMaxBytes);
  }
  return { maxSeconds: media.maxSeconds, maxBytes, maxBase64Chars, maxInputTokens, promptTokens: policy.promptTokens ?? 0 };
}

/** An upper bound on the bytes of a chunk of this length in this encoding. */
export function estimateBytes(seconds: number, encode: EncodeSpec): number {
  const audioKbps = encode.audioStream === undefined ? 0 : (encode.audioBitrateKbps ?? 0);
  if (encode.kind === 'audio') return Math.ceil((seconds + AUDIO_FRAME_SLACK_S) * audioKbps * 125) + MP3_OVERHEAD_BYTES;
  const videoKbps = encode.video?.maxBitrateKbps ?? 0;
  const payload = ((seconds + VBV_SLACK_S) * videoKbps + (seconds + AUDIO_FRAME_SLACK_S) * audioKbps) * 125;
  return Math.ceil(payload * MP4_OVERHEAD_RATIO) + MP4_OVERHEAD_BYTES;
}

/** The longest chunk whose estimated bytes stay within maxBytes at these bitrates (inverse of estimateBytes). */
export function secondsForBytes(maxBytes: number, encode: EncodeSpec): number {
  const audioKbps = encode.audioStream === undefined ? 0 : (encode.audioBitrateKbps ?? 0);
  if (encode.kind === 'audio') return (maxBytes - MP3_OVERHEAD_BYTES) / (audioKbps * 125) - AUDIO_FRAME_SLACK_S;
  const videoKbps = encode.video?.maxBitrateKbps ?? 0;
  const payload = (maxBytes - MP4_OVERHEAD_BYTES) / MP4_OVERHEAD_RATIO / 125;
  return (payload - VBV_SLACK_S * videoKbps - AUDIO_FRAME_SLACK_S * audioKbps) / (videoKbps + audioKbps);
}

/** Input tokens of one request carrying `seconds` of this encoding (prompt included). */
export function chunkTokens(seconds: number, encode: EncodeSpec, model: ModelSpec, promptTokens: number): number {
  let tokens = promptTokens;
  if (encode.audioStream !== undefined) tokens += audioTokens(seconds, model.tokens);
  if (encode.kind === 'video' && encode.video && model.limits.video) {
    const v = model.limits.video;
    tokens += videoTokens(seconds, encode.video.width, encode.video.height, model.tokens, v.minFrames, v.maxFrames);
  }
  return tokens;
}

/** The longest chunk (whole seconds are enough here) whose input tokens fit. Tokens grow with length, so bisect. */
export function secondsForTokens(limits: EffectiveLimits, encode: EncodeSpec, model: ModelSpec, upToS: number): number {
  const fits = (s: number): boolean => chunkTokens(s, encode, model, limits.promptTokens) <= limits.maxInputTokens;
  if (fits(upToS)) return upToS;
  let lo = 0;
  let hi = upToS;
  while (hi - lo > 0.01) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Every limit a measured chunk breaks, as readable reasons; empty when it fits. Tokens only when the model is given. */
export function limitViolations(chunk: { durationS: number; bytes: number }, limits: EffectiveLimits, encode: EncodeSpec, model?: ModelSpec): string[] {
  const out: string[] = [];
  if (chunk.durationS > limits.maxSeconds) out.push(`duration ${chunk.durationS.toFixed(2)} s > ${limits.maxSeconds} s`);
  if (chunk.bytes > limits.maxBytes) out.push(`${chunk.bytes} bytes > ${limits.maxBytes}`);
  const b64 = base64Chars(chunk.bytes);
  if (b64 > limits.maxBase64Chars) out.push(`base64 ${b64} chars > ${limits.maxBase64Chars}`);
  if (model) {
    const tokens = chunkTokens(chunk.durationS, encode, model, limits.promptTokens);
    if (tokens > limits.maxInputTokens) out.push(`${tokens} input tokens > ${limits.maxInputTokens}`);
  }
  return out;
}
