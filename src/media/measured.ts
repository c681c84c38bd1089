/**
 * The length a file is planned, limited and billed on, once its first full decode (the encode pass, which also
 * runs silencedetect) has measured it. PURE: figures in, a verdict out.
 *
 * Why: the probe reads what a file claims, and a claim can be anything: 400 chained Ogg links probe as the
 * last link's 0.2 s and decode to 3 h 21 min; a Matroska whose timestamps jump 20 h claims 72,010 s over 10 s
 * of samples; a cut-short mp3 claims 72 s over 12.5 s (issue 22). The per-file limits (limits.ts) were checked
 * against the claim; here they are checked again against what was decoded, and a timeline the samples do not
 * fill is refused as the lie it is. Whatever passes is planned on the decoded length, and the chunks sent are
 * our own encode of it, so what the service bills is what was decoded.
 */
import { type FileLimits, limitError, mediaViolation } from './limits.ts';
import type { MediaInfo } from './types.ts';

/**
 * Timeline seconds the decoded samples may fall short of before the timeline is a lie: an mp3 encode's end
 * padding and a last frame are under 0.1 s; decoders that drop a damaged packet lose a frame or two. Measured
 * on the test media: every honest file is within 0.2 s.
 */
export const GAP_TOLERANCE_S = 1;
export const GAP_TOLERANCE_RATIO = 0.02;

export interface DecodedFacts {
  /** what the probe said (claimed or measured) */
  probed: Pick<MediaInfo, 'durationS' | 'headerDurationS' | 'durationSource' | 'sizeBytes' | 'video'>;
  /** where the decoded output ends on the source's timeline (ffmpeg's out_time, from the frames' timestamps) */
  timelineS: number;
  /** seconds of samples the output really holds (its frames counted), when they could be counted */
  samplesS?: number;
  /** the encode stopped at this many seconds (OMNIBATCH_MAX_MEDIA_SECONDS + 1): there is more */
  boundS?: number;
  limits: FileLimits;
}

export type DecodedVerdict = { kind: 'plan'; durationS: number; changed: boolean } | { kind: 'refuse'; error: ReturnType<typeof limitError> };

const fmt = (s: number): string => (s >= 3600 ? `${(s / 3600).toFixed(2)} h` : `${s.toFixed(1)} s`);

export function decideDecoded(f: DecodedFacts): DecodedVerdict {
  const refuse = (code: 'media_suspicious' | 'media_too_long', message: string): DecodedVerdict => ({ kind: 'refuse', error: limitError({ code, message }) });
  if (f.boundS !== undefined && f.timelineS >= f.boundS - 0.5) {
    return refuse(
      'media_too_long',
      `decoding passed ${fmt(f.limits.maxMediaSeconds)} (OMNIBATCH_MAX_MEDIA_SECONDS) although the header claimed ${fmt(f.probed.headerDurationS ?? f.probed.durationS)}: stopped there`,
    );
  }
  if (f.samplesS !== undefined && timelineOutruns(f.timelineS, f.samplesS)) return { kind: 'refuse', error: timelineRefusal(f.timelineS, f.samplesS) };
  // Timestamps that stall short of the samples (a muxer that wrote none): the samples are what is sent.
  const durationS = f.samplesS !== undefined && f.samplesS - f.timelineS > GAP_TOLERANCE_S ? f.samplesS : f.timelineS;
  const v = mediaViolation({ durationS, sizeBytes: f.probed.sizeBytes, video: f.probed.video }, f.limits);
  if (v) return { kind: 'refuse', error: limitError({ code: v.code, message: `decoded: ${v.message}` }) };
  return { kind: 'plan', durationS, changed: Math.abs(durationS - f.probed.durationS) > 0.1 };
}

/**
 * The most seconds an audio-only file's bytes can hold at its audio stream's stated bitrate (exact for PCM,
 * the nominal rate for others), or undefined when no bitrate is stated or pictures share the bytes.
 */
export function bytesBoundS(info: Pick<MediaInfo, 'sizeBytes' | 'audio' | 'video'>): number | undefined {
  const bitrate = info.audio[0]?.bitrate;
  if (info.video.length > 0 || info.audio.length !== 1 || !bitrate || bitrate <= 0) return undefined;
  return (info.sizeBytes * 8) / bitrate;
}

/** Times its bytes' worth a claim may be before it is doubted (VBR around a nominal rate stays far within). */
export const CLAIM_OVER_BYTES = 3;

/** True when the header claims far more than the file's bytes can hold at its own bitrate (a timeline that jumps). */
export function claimOutrunsBytes(info: Pick<MediaInfo, 'sizeBytes' | 'audio' | 'video' | 'headerDurationS'>): boolean {
  const bound = bytesBoundS(info);
  return bound !== undefined && info.headerDurationS !== undefined && info.headerDurationS > CLAIM_OVER_BYTES * bound + 1;
}

/** True when a timeline (timestamps) runs past the decoded samples by more than an honest file's slack. */
export function timelineOutruns(timelineS: number, samplesS: number): boolean {
  return timelineS - samplesS > Math.max(GAP_TOLERANCE_S, samplesS * GAP_TOLERANCE_RATIO);
}

/** The refusal of a file whose timestamps span far more than its samples. */
export function timelineRefusal(timelineS: number, samplesS: number): ReturnType<typeof limitError> {
  return limitError({
    code: 'media_suspicious',
    message: `the timestamps span ${fmt(timelineS)} but the audio holds ${fmt(samplesS)} of samples: a timeline with gaps this large is refused rather than planned or billed`,
  });
}

/**
 * Links of a chained Ogg file (streams begun one after another: each first page has the BOS flag). Each link's
 * granule positions restart, so the header's length is the last link's: only decoding tells the whole. PURE.
 */
export function oggLinks(buf: Buffer): number {
  let links = 0;
  for (let at = buf.indexOf('OggS'); at >= 0 && at + 6 <= buf.length; at = buf.indexOf('OggS', at + 4)) {
    if (buf[at + 4] === 0 && (buf[at + 5] & 0x02) !== 0) links++;
  }
  return links;
}
