/**
 * What the real service refuses, as pure checks. `checkRequest` runs before any media is fetched;
 * `checkMeasured` once the media has been measured and the input billed.
 */
import { completeList, type ModelSpec, type VoiceList } from '../models/catalog.ts';
import { apiErrors } from './errors.ts';
import type { ApiError, Billed, Measured, ParsedRequest } from './types.ts';

const modality = (k: string): string => (k === 'frames' ? 'video' : k);

/**
 * 001:186,216 "非思考模式下当前支持两种:["text","audio"]、["text"],思考模式仅支持:["text"]", and 001:219
 * "思考模式下不支持设置audio参数": any other `modalities`, or an `audio` parameter in thinking mode, is refused.
 */
function checkOutputs(req: ParsedRequest): ApiError | undefined {
  if (req.modalities !== undefined) {
    const m = req.modalities;
    const valid = Array.isArray(m) && (m.length === 1 ? m[0] === 'text' : m.length === 2 && m[0] === 'text' && m[1] === 'audio');
    if (!valid) return apiErrors.invalidParameter(`modalities must be ["text"] or ["text","audio"], got ${JSON.stringify(m)}.`);
  }
  if (req.thinking && req.audioParam) return apiErrors.algoInvalid('The audio parameter is not supported in thinking mode.');
  return undefined;
}

/** @param voices the voice list of the name as sent (the catalogue's), to refuse a voice the model does not have */
export function checkRequest(req: ParsedRequest, spec: ModelSpec, voices?: VoiceList): ApiError | undefined {
  if (spec.streamOnly && !req.stream) return apiErrors.streamOnly();
  const outputs = checkOutputs(req);
  if (outputs) return outputs;
  const users = req.messages.filter((m) => m.role === 'user');
  if (users.length === 0) return apiErrors.invalidParameter('At least one user message is required.');
  for (const m of req.messages) {
    if (m.role !== 'user' && m.media.length > 0) return apiErrors.invalidParameter(`The ${m.role} message may contain text only.`);
    const kinds = new Set(m.media.map((p) => modality(p.kind)));
    if (kinds.size > 1 && !spec.mixedMedia)
      return apiErrors.invalidParameter(`Only one non-text modality is allowed per user message, got: ${[...kinds].join(', ')}.`);
  }
  const all = req.messages.flatMap((m) => m.media);
  // One audio file and one video per request, except where any combination is allowed (002:52).
  if (!spec.mixedMedia) {
    if (all.filter((p) => p.kind === 'audio').length > 1) return apiErrors.invalidParameter('Only one audio file is allowed per request.');
    if (all.filter((p) => p.kind === 'video' || p.kind === 'frames').length > 1) return apiErrors.invalidParameter('Only one video is allowed per request.');
  }
  for (const p of all) {
    if (!spec.inputs.includes(modality(p.kind) as never)) return apiErrors.invalidParameter(`The model ${spec.id} does not accept ${modality(p.kind)} input.`);
  }
  if (!spec.acceptsPrompt) {
    // The captioner: audio only, single turn, no prompt at all.
    if (req.messages.length > 1) return apiErrors.invalidParameter(`The model ${spec.id} accepts a single user turn only.`);
    if (req.messages.some((m) => m.texts.length > 0)) return apiErrors.invalidParameter(`The model ${spec.id} does not accept text input: send audio only.`);
    if (all.length !== 1 || all[0].kind !== 'audio') return apiErrors.invalidParameter(`The model ${spec.id} requires exactly one audio input.`);
  }
  if (req.thinking && !spec.supportsThinking) return apiErrors.algoInvalid(`The model ${spec.id} does not support enable_thinking.`);
  if (req.audioOut) {
    if (!spec.outputs.includes('audio')) return apiErrors.algoInvalid(`The model ${spec.id} does not support audio output.`);
    if (req.thinking) return apiErrors.algoInvalid('Audio output is not supported in thinking mode: set modalities to ["text"].');
    // 001:190 / 000:1004: "只支持设定为"wav"".
    if (req.audioOut.format !== undefined && req.audioOut.format !== 'wav')
      return apiErrors.algoInvalid(`Audio format ${req.audioOut.format} is not supported: only "wav".`);
    if (req.audioOut.voice !== undefined && voices && completeList(voices) && !voices.names.includes(req.audioOut.voice)) {
      return apiErrors.algoInvalid(`Voice ${req.audioOut.voice} is not supported by ${req.model}.`);
    }
    // Per seed: turbo (001:186) and qwen3.5-omni-plus (002:46,87) refuse it; qwen3-omni-flash accepts it (001:1432).
    if (spec.noSystemWithAudio && req.messages.some((m) => m.role === 'system')) {
      return apiErrors.algoInvalid('A system message is not supported when audio output is requested.');
    }
  }
  return undefined;
}

/** 001:286 / 004:159 "图片的宽度和高度均应大于10像素,宽高比不应超过200:1或1:200". */
const IMAGE_MIN_SIDE_PX = 10;
const IMAGE_MAX_ASPECT = 200;

function checkImage(m: Measured): ApiError | undefined {
  if (m.width <= IMAGE_MIN_SIDE_PX || m.height <= IMAGE_MIN_SIDE_PX)
    return apiErrors.invalidParameter(`The image width and height must both be larger than ${IMAGE_MIN_SIDE_PX} pixels, got ${m.width}x${m.height}.`);
  if (Math.max(m.width / m.height, m.height / m.width) > IMAGE_MAX_ASPECT)
    return apiErrors.invalidParameter(`The image aspect ratio must not exceed ${IMAGE_MAX_ASPECT}:1, got ${m.width}x${m.height}.`);
  return undefined;
}

/** @param maxInputTokens a stricter ceiling than the model's (tests of the overflow path) */
export function checkMeasured(
  media: readonly Measured[],
  billed: Billed,
  req: ParsedRequest,
  spec: ModelSpec,
  maxInputTokens = Infinity,
): ApiError | undefined {
  for (const m of media) {
    if (m.kind === 'audio') {
      const lim = spec.limits.audio;
      if (lim && m.durationS > lim.maxSeconds) return apiErrors.invalidParameter(`The audio duration exceeds the limit of ${lim.maxSeconds} seconds.`);
      if (lim && m.bytes > lim.maxBytes) return apiErrors.invalidParameter(`The audio file size exceeds the limit of ${lim.maxBytes} bytes.`);
    } else if (m.kind === 'video') {
      const lim = spec.limits.video;
      if (lim && m.frames !== undefined && (m.frames < lim.minFrames || m.frames > lim.maxFrames)) {
        return apiErrors.invalidParameter(`The number of video frames must be between ${lim.minFrames} and ${lim.maxFrames}.`);
      }
      if (lim && m.frames === undefined && m.durationS > lim.maxSeconds)
        return apiErrors.invalidParameter(`The video duration exceeds the limit of ${lim.maxSeconds} seconds.`);
      if (lim && m.bytes > lim.maxBytes) return apiErrors.invalidParameter(`The video file size exceeds the limit of ${lim.maxBytes} bytes.`);
    } else if (spec.limits.imageMaxBytes !== undefined && m.bytes > spec.limits.imageMaxBytes) {
      return apiErrors.invalidParameter(`The image size exceeds the limit of ${spec.limits.imageMaxBytes} bytes.`);
    } else {
      const bad = checkImage(m);
      if (bad) return bad;
    }
  }
  const max = Math.min(maxInputTokens, req.thinking ? (spec.limits.maxInputTokensThinking ?? spec.limits.maxInputTokens) : spec.limits.maxInputTokens);
  const input = billed.input.text + billed.input.audio + billed.input.image + billed.input.video;
  if (input > max) return apiErrors.inputLength(max);
  return undefined;
}
