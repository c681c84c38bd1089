/**
 * The chunk planner: a PURE function of (MediaInfo, model, task policy, silence map) -> chunks and one
 * encode spec. No ffmpeg, no fs, no clock: everything it needs comes in as arguments.
 *
 * Order of decisions:
 *  1. mode: video only when the task wants it, the source has a real video track and the model takes video;
 *  2. limits: the model's duration/bytes/token ceilings, with base64 or URL transport and the prompt;
 *  3. the longest chunk any limit allows at the cheapest encoding (plan_impossible below the task minimum);
 *  4. the chunk length: the task's target (overridable), shortened only when a limit binds;
 *  5. the encoding: the best rung of a small bitrate ladder that still fits the longest chunk;
 *  6. the cuts: near each target, moved into silence within the search window.
 */
import { base64Ceiling, type ModelSpec } from '../models/catalog.ts';
import type { ChunkPolicy } from '../tasks/catalog.ts';
import { OmniError } from '../util/errors.ts';
import { chooseCuts } from './cutpoints.ts';
import { chunkCountViolation, DURATION_SLACK_S, effectiveLimits, estimateBytes, limitError, secondsForBytes, secondsForTokens } from './limits.ts';
import type { EffectiveLimits, EncodeSpec, MediaInfo, Plan, PlannedChunk, Silence } from './types.ts';

export type PlanPolicy = ChunkPolicy & {
  mode: 'audio' | 'video';
  inputMode: 'base64' | 'url';
  base64MaxChars?: number;
  promptTokens?: number;
  /** plan against the (stricter) thinking-mode input ceiling */
  thinking?: boolean;
  /** refuse (plan_too_many_chunks) a file that would take more requests than this */
  maxChunks?: number;
};

/** mp3 rungs for mono 16 kHz speech: 64 kbps is transparent enough for the model, 16 kbps still intelligible. */
export const AUDIO_LADDER_KBPS = [64, 48, 32, 24, 16] as const;
export const AUDIO_SAMPLE_RATE = 16_000;
/** The model samples video at about 2 frames/s: more frames are bytes it never looks at. */
export const VIDEO_FPS = 2;
export const VIDEO_MAX_SIDE = 640;
export const VIDEO_CRF = 30;
/** A ceiling on the video bitrate, so a busy scene cannot blow a chunk past its byte limit. */
export const VIDEO_MAX_KBPS = 1000;
/** Below this the picture is mush: shorten chunks rather than starve them. */
export const VIDEO_MIN_KBPS = 64;
export const VIDEO_AUDIO_KBPS = 32;
/** Shorter than this there is nothing to send (probe refuses such files with the same code). */
export const MIN_MEDIA_S = 0.1;

const impossible = (msg: string): OmniError => new OmniError('plan_impossible', msg);
const fmt = (s: number): string => `${Math.round(s * 100) / 100} s`;

/** Which track(s) to send: video when asked, present and accepted; otherwise the audio track. */
export function resolveMode(info: MediaInfo, model: ModelSpec, policy: Pick<PlanPolicy, 'mode'>): { mode: 'audio' | 'video'; notes: string[] } {
  const notes: string[] = [];
  let mode = policy.mode;
  if (mode === 'video') {
    const hasVideo = info.video.some((v) => !v.attachedPic);
    if (!hasVideo) {
      notes.push('no video track: sending the audio track only');
      mode = 'audio';
    } else if (!model.inputs.includes('video') || !model.limits.video) {
      notes.push(`${model.id} takes no video: sending the audio track only`);
      mode = 'audio';
    }
  }
  if (mode === 'audio' && info.audio.length === 0) {
    throw new OmniError('media_no_audio', 'the file has no audio track, and this task needs one');
  }
  return { mode, notes };
}

/** Output frame size: no upscaling, longest side at most VIDEO_MAX_SIDE, even dimensions (x264 needs them). */
export function scaledSize(width: number, height: number, maxSide = VIDEO_MAX_SIDE): { width: number; height: number } {
  const f = Math.min(1, maxSide / Math.max(width, height, 1));
  const even = (n: number): number => Math.max(2, Math.round((n * f) / 2) * 2);
  return { width: even(width), height: even(height) };
}

function audioEncode(info: MediaInfo, kbps: number): EncodeSpec {
  return {
    kind: 'audio',
    format: 'mp3',
    audioCodec: 'libmp3lame',
    sampleRate: AUDIO_SAMPLE_RATE,
    channels: 1,
    audioBitrateKbps: kbps,
    audioStream: info.audio[0].index,
  };
}

function videoEncode(info: MediaInfo, videoKbps: number): EncodeSpec {
  const v = info.video.find((s) => !s.attachedPic)!;
  const size = scaledSize(v.width, v.height);
  return {
    kind: 'video',
    format: 'mp4',
    audioCodec: 'aac',
    sampleRate: AUDIO_SAMPLE_RATE,
    channels: 1,
    ...(info.audio.length > 0 && { audioBitrateKbps: VIDEO_AUDIO_KBPS, audioStream: info.audio[0].index }),
    videoStream: v.index,
    video: { codec: 'libx264', fps: VIDEO_FPS, maxWidth: VIDEO_MAX_SIDE, maxHeight: VIDEO_MAX_SIDE, crf: VIDEO_CRF, maxBitrateKbps: videoKbps, ...size },
  };
}

interface Cap {
  s: number;
  why: string;
}

/** The longest chunk each limit allows, at the cheapest encoding this mode has. */
function hardCaps(info: MediaInfo, model: ModelSpec, mode: 'audio' | 'video', limits: EffectiveLimits, policy: PlanPolicy): Cap[] {
  const cheapest = mode === 'audio' ? audioEncode(info, AUDIO_LADDER_KBPS[AUDIO_LADDER_KBPS.length - 1]) : videoEncode(info, VIDEO_MIN_KBPS);
  const transport = policy.inputMode === 'base64' ? `base64 limit of ${policy.base64MaxChars ?? base64Ceiling(model)} chars` : `${limits.maxBytes}-byte limit`;
  const rate = mode === 'audio' ? `${cheapest.audioBitrateKbps} kbps` : `${VIDEO_MIN_KBPS} kbps video`;
  const durationCap = limits.maxSeconds - DURATION_SLACK_S;
  return [
    { s: durationCap, why: `${model.id}'s ${mode} limit of ${limits.maxSeconds} s` },
    {
      s: secondsForTokens(limits, cheapest, model, durationCap),
      why: `${model.id}'s input limit of ${limits.maxInputTokens} tokens (prompt ${limits.promptTokens})`,
    },
    { s: secondsForBytes(limits.maxBytes, cheapest), why: `the ${transport} at ${rate}` },
  ];
}

/** The encoding for chunks up to `lengthS` long: the best rung that fits (compress only as much as needed). */
export function chooseEncode(info: MediaInfo, mode: 'audio' | 'video', limits: EffectiveLimits, lengthS: number): EncodeSpec {
  if (mode === 'audio') {
    for (const kbps of AUDIO_LADDER_KBPS) {
      const e = audioEncode(info, kbps);
      if (estimateBytes(lengthS, e) <= limits.maxBytes) return e;
    }
    return audioEncode(info, AUDIO_LADDER_KBPS[AUDIO_LADDER_KBPS.length - 1]);
  }
  // Video: the highest bitrate cap (up to VIDEO_MAX_KBPS) whose worst case still fits the byte limit.
  let lo = VIDEO_MIN_KBPS;
  let hi = VIDEO_MAX_KBPS;
  if (estimateBytes(lengthS, videoEncode(info, hi)) <= limits.maxBytes) return videoEncode(info, hi);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (estimateBytes(lengthS, videoEncode(info, mid)) <= limits.maxBytes) lo = mid;
    else hi = mid;
  }
  return videoEncode(info, lo);
}

export function planChunks(info: MediaInfo, model: ModelSpec, policy: PlanPolicy, silences: readonly Silence[] = []): Plan {
  const durationS = info.durationS;
  if (!(durationS >= MIN_MEDIA_S)) {
    throw new OmniError('media_too_short', `the media is ${fmt(durationS || 0)} long: nothing to send`);
  }
  if (!(policy.targetS > 0)) throw impossible(`chunk length must be positive (got ${policy.targetS})`);
  const overlapS = Math.max(0, policy.overlapS ?? 0);
  const { mode, notes } = resolveMode(info, model, policy);
  const limits = effectiveLimits(model, mode, policy);
  if (limits.promptTokens >= limits.maxInputTokens) {
    throw impossible(`the prompt alone (${limits.promptTokens} tokens) fills ${model.id}'s input limit of ${limits.maxInputTokens} tokens`);
  }

  const caps = hardCaps(info, model, mode, limits, policy);
  const binding = caps.reduce((a, b) => (b.s < a.s ? b : a));
  const hardS = binding.s;
  const needS = Math.min(Math.max(policy.minChunkS, 1), durationS);
  if (!(hardS >= needS)) {
    throw impossible(`${binding.why} allows at most ${fmt(Math.max(0, hardS))} per request, less than the ${fmt(needS)} minimum chunk`);
  }
  if (overlapS > 0 && overlapS * 2 >= Math.min(policy.targetS, hardS)) {
    throw impossible(`an overlap of ${fmt(overlapS)} needs chunks longer than ${fmt(overlapS * 2)}; the limit is ${fmt(Math.min(policy.targetS, hardS))}`);
  }

  // Chunk lengths below count the overlap: a chunk is its stretch of new audio plus the repeated lead-in.
  const maxChunkS = Math.min(policy.targetS + overlapS + policy.searchWindowS, hardS);
  const targetS = Math.min(policy.targetS, hardS - overlapS);
  let reason = `task target of ${fmt(policy.targetS)} per chunk`;
  if (targetS < policy.targetS) {
    reason = `${binding.why} caps chunks at ${fmt(hardS)}`;
    notes.push(`chunk target ${fmt(policy.targetS)} lowered to ${fmt(targetS)}`);
  }
  if (durationS <= maxChunkS) reason = `the whole file fits one request (${reason})`;
  const encode = chooseEncode(info, mode, limits, Math.min(maxChunkS, durationS));
  if (mode === 'audio' && encode.audioBitrateKbps !== AUDIO_LADDER_KBPS[0]) {
    notes.push(`audio compressed to ${encode.audioBitrateKbps} kbps to fit ${fmt(Math.min(maxChunkS, durationS))} chunks in ${limits.maxBytes} bytes`);
  }

  // Every chunk is at most maxChunkS long: a file needing more chunks than allowed is refused before its cuts are
  // even listed (a header claiming years of media must not make millions of them).
  const tooMany = (n: number) => policy.maxChunks !== undefined && chunkCountViolation(n, { maxChunksPerFile: policy.maxChunks });
  const atLeast = tooMany(Math.ceil(durationS / maxChunkS));
  if (atLeast) throw limitError(atLeast);
  const cuts = chooseCuts(durationS, { targetS, windowS: policy.searchWindowS, minChunkS: policy.minChunkS, maxS: maxChunkS - overlapS }, silences);
  const bounds = [0, ...cuts.map((c) => c.atS), durationS];
  const chunks: PlannedChunk[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const lead = i === 0 ? 0 : Math.min(overlapS, bounds[i]);
    chunks.push({ index: i, startS: bounds[i] - lead, endS: bounds[i + 1], overlapS: lead });
  }
  const exact = tooMany(chunks.length);
  if (exact) throw limitError(exact);
  const missed = cuts.filter((c) => !c.inSilence).length;
  if (missed > 0) notes.push(`${missed} of ${cuts.length} cuts found no silence within ±${fmt(policy.searchWindowS)} and fell on the target`);
  return { mode, chunks, encode, reason, targetS, maxChunkS, overlapS, limits, notes };
}

/** Readable one-line summary of a plan, for logs and the CLI. */
export function describePlan(plan: Plan): string {
  const e = plan.encode;
  const enc =
    e.kind === 'audio'
      ? `${e.format} ${e.sampleRate / 1000} kHz mono ${e.audioBitrateKbps} kbps`
      : `${e.format} ${e.video!.width}x${e.video!.height} ${e.video!.fps} fps <= ${e.video!.maxBitrateKbps} kbps${e.audioStream === undefined ? ', no audio' : `, aac ${e.audioBitrateKbps} kbps`}`;
  return `${plan.chunks.length} ${plan.mode} chunk(s) of <= ${fmt(plan.maxChunkS)} (${plan.reason}); ${enc}`;
}
