/**
 * What one request may carry, and what a chunk of a given length and encoding will cost against it.
 * Pure: the planner uses these to choose lengths and bitrates, the cutter to check measured chunks.
 */
import { base64Ceiling, type ModelSpec } from '../models/catalog.ts';
import { audioTokens, videoTokens } from '../models/tokens.ts';
import { OmniError } from '../util/errors.ts';
import { type DeadlinePolicy, deadlinePolicy, wantedDeadlineMs } from './child-deadline.ts';
import type { EffectiveLimits, EncodeSpec, MediaInfo } from './types.ts';

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
    throw new OmniError('plan_impossible', `${model.id} does not take ${mode} input`);
  }
  const maxInputTokens = policy.thinking && model.limits.maxInputTokensThinking ? model.limits.maxInputTokensThinking : model.limits.maxInputTokens;
  let maxBytes = media.maxBytes;
  let maxBase64Chars = Number.POSITIVE_INFINITY;
  if (policy.inputMode === 'base64') {
    // "the encoded string must stay under N": at most N - 1 characters, the data-URL prefix included.
    maxBase64Chars = (policy.base64MaxChars ?? base64Ceiling(model)) - 1 - DATA_URL_PREFIX_RESERVE;
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

/**
 * Per-file limits: what one stranger's file may make the worker download, decode and pay for. Settings
 * (config/index.ts); these are the defaults and the reasons for them.
 */
export interface FileLimits {
  /** bytes one object may have; downloads abort as soon as they pass it */
  maxDownloadBytes: number;
  /** media seconds one file may hold */
  maxMediaSeconds: number;
  /** width x height of the largest video frame a file may declare */
  maxPixels: number;
  /** width x height x frames a second of a video a task decodes: its decode cost per media second */
  maxPixelsPerSecond: number;
  /** requests one file may be planned into */
  maxChunksPerFile: number;
  /** declared media seconds per byte of file above which the file is a bomb, not a recording */
  maxSecondsPerByte: number;
}

/**
 * 0.1 s per byte = fewer than 10 bytes for each second of media. The leanest real encodings stay far above:
 * codec2 at 700 bit/s is 87 B/s, AMR-NB at 4.75 kbit/s 594 B/s (its DTX silence still 50 B/s in an .amr file),
 * Opus at 6 kbit/s 750 B/s (with DTX and Ogg framing, over 150 B/s), a static H.264 picture at 1 frame/s a few
 * tens of B/s. A 72 KB FLAC of 10 h of digital silence is 0.5 s per byte, a 16 KB one 2.2: they would be planned
 * into hundreds of paid requests for nothing.
 */
export const DEFAULT_FILE_LIMITS: Readonly<FileLimits> = Object.freeze({
  maxDownloadBytes: 10 * 1024 ** 3,
  maxMediaSeconds: 24 * 3600,
  // 8K DCI (8192 x 4320): any real camera; one frame is already 53 MB decoded.
  maxPixels: 8192 * 4320,
  // 4K at 60 frames a second (a phone's best mode): 498 Mpx/s. An 8K frame is admitted up to 14 frames a second.
  maxPixelsPerSecond: 3840 * 2160 * 60,
  // 24 h of 30 s caption chunks is 2,880 requests.
  maxChunksPerFile: 3000,
  maxSecondsPerByte: 0.1,
});

export type FileLimitCode = 'media_too_large' | 'media_too_long' | 'media_too_many_pixels' | 'media_too_costly' | 'plan_too_many_chunks' | 'media_suspicious';

export interface FileLimitViolation {
  code: FileLimitCode;
  message: string;
}

const fmtS = (s: number): string => (s >= 3600 ? `${(s / 3600).toFixed(2)} h` : `${s.toFixed(1)} s`);

/** Before downloading: the object's announced size. */
export function sizeViolation(bytes: number, limits: Pick<FileLimits, 'maxDownloadBytes'>): FileLimitViolation | undefined {
  if (bytes > limits.maxDownloadBytes) {
    return {
      code: 'media_too_large',
      message: `the object has ${bytes} bytes, more than the limit of ${limits.maxDownloadBytes} (OMNIBATCH_MAX_DOWNLOAD_BYTES)`,
    };
  }
  return undefined;
}

/**
 * After probing, before anything decodes the media: the first limit the file breaks, or undefined. The order
 * puts the cheapest lie first: size, frame size (a decoder allocates it), then time per byte (a bomb, whatever
 * its length), then length.
 */
export function mediaViolation(info: Pick<MediaInfo, 'durationS' | 'sizeBytes' | 'video'>, limits: FileLimits): FileLimitViolation | undefined {
  const size = sizeViolation(info.sizeBytes, limits);
  if (size) return size;
  for (const v of info.video) {
    const pixels = v.width * v.height;
    if (pixels > limits.maxPixels) {
      return {
        code: 'media_too_many_pixels',
        message: `a ${v.width}x${v.height} video frame (${pixels} pixels) is larger than the limit of ${limits.maxPixels} (OMNIBATCH_MAX_PIXELS)`,
      };
    }
  }
  if (info.sizeBytes > 0 && info.durationS / info.sizeBytes > limits.maxSecondsPerByte) {
    const bps = info.sizeBytes / info.durationS;
    return {
      code: 'media_suspicious',
      message: `${fmtS(info.durationS)} of media in ${info.sizeBytes} bytes (${bps.toFixed(2)} bytes a second): no real recording is that small; refused as a bomb (OMNIBATCH_MAX_SECONDS_PER_BYTE)`,
    };
  }
  if (info.durationS > limits.maxMediaSeconds) {
    return {
      code: 'media_too_long',
      message: `${fmtS(info.durationS)} of media, longer than the limit of ${fmtS(limits.maxMediaSeconds)} (OMNIBATCH_MAX_MEDIA_SECONDS)`,
    };
  }
  return undefined;
}

/** The frame rate assumed for a video whose header names none (a still-looking stream can still be decoded at 30). */
const UNKNOWN_FPS = 30;

/** Decoded pixels a media second of the file's costliest real video track (attached pictures decode once). */
export function pixelsPerSecond(info: Pick<MediaInfo, 'video'>): number {
  let most = 0;
  for (const v of info.video) {
    if (v.attachedPic) continue;
    const fps = Number.isFinite(v.fps) && v.fps > 0 ? v.fps : UNKNOWN_FPS;
    most = Math.max(most, v.width * v.height * fps);
  }
  return most;
}

/**
 * Before a task decodes the file's video: what its decode would cost. Frame size alone lets through an 8K
 * H.264 of black at 25 frames a second (148 KB for 4 s) whose decode and scale held 1.5 GB and 27 CPU seconds;
 * so the pixels a media second are capped (OMNIBATCH_MAX_PIXELS_PER_SECOND), and a file whose video pass
 * would be given more than the child ceiling (child-deadline.ts: pixels x seconds) is refused now rather
 * than timed out after holding a worker for that long. Audio tasks never decode the pictures: not checked.
 */
export function decodeCostViolation(
  info: Pick<MediaInfo, 'durationS' | 'video'>,
  limits: Pick<FileLimits, 'maxPixelsPerSecond'>,
  policy: DeadlinePolicy = deadlinePolicy(),
): FileLimitViolation | undefined {
  const rate = pixelsPerSecond(info);
  if (rate === 0) return undefined;
  const mpx = (n: number): string => `${(n / 1e6).toFixed(0)} Mpx`;
  if (rate > limits.maxPixelsPerSecond) {
    return {
      code: 'media_too_costly',
      message: `the video decodes ${mpx(rate)} a second (width x height x fps), more than the limit of ${mpx(limits.maxPixelsPerSecond)} (OMNIBATCH_MAX_PIXELS_PER_SECOND)`,
    };
  }
  const want = wantedDeadlineMs('encode_video', info.durationS, policy, rate);
  if (want > policy.ceilingMs) {
    return {
      code: 'media_too_costly',
      message: `${fmtS(info.durationS)} of video at ${mpx(rate)} a second needs ~${fmtS(want / 1000)} of decoding, more than one file may take (${fmtS(policy.ceilingMs / 1000)}, OMNIBATCH_CHILD_TIMEOUT_CEILING_MS)`,
    };
  }
  return undefined;
}

/**
 * A decode that ran out of the child's address space (child-argv.ts, RLIMIT_AS): ffmpeg reports the failed
 * allocation and may still exit 0 with frames missing, so any of these fails the pass (ffmpeg.ts).
 */
export function memoryRefusal(stderr: string): boolean {
  return /get_buffer\(\) failed|malloc of size \d+ failed|Cannot allocate memory|std::bad_alloc|Out of memory/i.test(stderr);
}

/** After planning: too many requests for one file. */
export function chunkCountViolation(chunks: number, limits: Pick<FileLimits, 'maxChunksPerFile'>): FileLimitViolation | undefined {
  if (chunks > limits.maxChunksPerFile) {
    return {
      code: 'plan_too_many_chunks',
      message: `the file would take ${chunks} requests, more than the limit of ${limits.maxChunksPerFile} (OMNIBATCH_MAX_CHUNKS)`,
    };
  }
  return undefined;
}

/**
 * The frame a decoder refused because of `-max_pixels` (allow-list.ts mediaInputArgs), from ffmpeg's stderr
 * (`Picture size 16000x16000 exceeds specified max pixel count 35389440`), or undefined when it refused none.
 */
export function pixelRefusal(stderr: string): string | undefined {
  return /Picture size (\d+x\d+) exceeds specified max pixel count/.exec(stderr)?.[1];
}

/** A violation as the permanent coded error that fails its file. */
export function limitError(v: FileLimitViolation): OmniError {
  return new OmniError(v.code, v.message);
}

/** Throws the first per-file limit the probed media breaks. */
export function assertMediaLimits(info: Pick<MediaInfo, 'durationS' | 'sizeBytes' | 'video'>, limits: FileLimits): void {
  const v = mediaViolation(info, limits);
  if (v) throw limitError(v);
}

/** The per-file limits of a config (the settings have the same names). */
export function fileLimitsOf(cfg: FileLimits): FileLimits {
  return {
    maxDownloadBytes: cfg.maxDownloadBytes,
    maxMediaSeconds: cfg.maxMediaSeconds,
    maxPixels: cfg.maxPixels,
    maxPixelsPerSecond: cfg.maxPixelsPerSecond,
    maxChunksPerFile: cfg.maxChunksPerFile,
    maxSecondsPerByte: cfg.maxSecondsPerByte,
  };
}
