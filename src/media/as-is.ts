/**
 * "Fits as-is": a source the model can take exactly as it is stored needs no ffmpeg pass at all. PURE.
 *
 * Why: most files of a bulk run (call recordings, voice notes, podcast clips) are short mp3 or small WAV
 * files that fit one request. Re-encoding them costs an encode, a priming read and a split per file, about
 * 150 ms of CPU on this project's 2-core machines (bench/scenarios/saturation.ts), for nothing: the model
 * bills audio by the second, not by the byte, and the file already fits every limit.
 *
 * Conditions, all of them:
 *  - audio mode, exactly one audio stream and no video stream at all (not even cover art: it would travel too);
 *  - a container/codec pair every audio model documents (mp3; 16-bit PCM WAV);
 *  - at most AS_IS_MAX_KBPS: beyond that (CD-quality WAV) compressing is cheaper than uploading;
 *  - the plan for it is ONE chunk (the whole file within the task's chunk length);
 *  - its bytes and base64 length within the plan's limits (tokens follow from the duration: planned already);
 *  - what its header declares is what it holds (declaredAgrees): a cut-short or forged file is re-encoded, so
 *    the bytes sent carry the decoded length (issue 22: such files were billed up to 5,000x their audio);
 *  - no tags beyond the encoder's own: a title or comment is the uploader's text, and it would reach the model.
 */
import type { ModelSpec } from '../models/catalog.ts';
import { base64Chars } from './limits.ts';
import { MP3_AGREE_RATIO, MP3_AGREE_S } from './mp3-frames.ts';
import { type PlanPolicy, planChunks, resolveMode } from './plan.ts';
import type { MediaInfo, Plan } from './types.ts';

/** container (ffprobe format_name) -> the codec it must carry -> the chunk's format name */
const AS_IS: Readonly<Record<string, { codec: string; format: string }>> = {
  mp3: { codec: 'mp3', format: 'mp3' },
  wav: { codec: 'pcm_s16le', format: 'wav' },
};
/** 16 kHz mono 16-bit PCM is 256 kbps; any mp3 is at most 320. */
export const AS_IS_MAX_KBPS = 320;

/** The plan that sends the source unchanged, or undefined when it must be encoded. */
export function asIsPlan(info: MediaInfo, model: ModelSpec, policy: PlanPolicy): Plan | undefined {
  if (resolveMode(info, model, policy).mode !== 'audio') return undefined;
  if (info.video.length > 0 || info.audio.length !== 1 || info.tagged) return undefined;
  const rule = AS_IS[info.container];
  const audio = info.audio[0];
  if (!rule || audio.codec !== rule.codec) return undefined;
  // The service bills what the header claims: the file goes unchanged only when that is what it holds.
  if (!declaredAgrees(info)) return undefined;
  const kbps = (info.sizeBytes * 8) / Math.max(info.durationS, 1e-3) / 1000;
  if (!(kbps <= AS_IS_MAX_KBPS)) return undefined;
  const plan = planChunks(info, model, policy);
  if (plan.chunks.length !== 1) return undefined;
  if (info.sizeBytes > plan.limits.maxBytes || base64Chars(info.sizeBytes) > plan.limits.maxBase64Chars) return undefined;
  return {
    ...plan,
    encode: {
      kind: 'audio',
      format: rule.format,
      audioCodec: audio.codec,
      sampleRate: audio.sampleRate,
      channels: audio.channels,
      audioBitrateKbps: Math.round(kbps),
      audioStream: audio.index,
    },
    reason: `the file fits one request as it is (${rule.format}, ${Math.round(kbps)} kbps): sent unchanged`,
    notes: [...plan.notes, 'no re-encode: the source is already in a format the model takes'],
  };
}

/** Declared and decoded lengths this close are the same audio (the mp3 frame tolerance, mp3-frames.ts). */
export const AGREE_S = MP3_AGREE_S;
export const AGREE_RATIO = MP3_AGREE_RATIO;

/**
 * True when the header's length (what a reader of the file, and the service's bill, will take) is the length
 * we measured or trusted. A header read without measuring (durationSource 'header') was checked against the
 * file's bytes or its last packets (probe.ts, sniff.ts) already. PURE.
 */
export function declaredAgrees(info: Pick<MediaInfo, 'durationS' | 'headerDurationS' | 'durationSource'>): boolean {
  if (info.headerDurationS === undefined) return false;
  if (info.durationSource !== 'measured') return true;
  return Math.abs(info.headerDurationS - info.durationS) <= Math.max(AGREE_S, info.durationS * AGREE_RATIO);
}
