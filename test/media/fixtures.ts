/** Frozen MediaInfo fixtures for the planner's unit tests (no ffmpeg). */
import type { MediaInfo, Silence } from '../../src/media/types.ts';

/** A long stereo 44.1 kHz mp3, as ffprobe would describe it. */
export function audioInfo(durationS: number, over: Partial<MediaInfo> = {}): MediaInfo {
  return {
    durationS,
    headerDurationS: durationS,
    durationSource: 'header',
    sizeBytes: Math.round(durationS * 16_000),
    container: 'mp3',
    bitrate: 128_000,
    audio: [{ index: 0, codec: 'mp3', sampleRate: 44_100, channels: 2, bitrate: 128_000 }],
    video: [],
    ...over,
  };
}

/** A 720p h264 + aac video with a cover-art stream after it. */
export function videoInfo(durationS: number, over: Partial<MediaInfo> = {}): MediaInfo {
  return {
    durationS,
    headerDurationS: durationS,
    durationSource: 'header',
    sizeBytes: Math.round(durationS * 250_000),
    container: 'mov,mp4,m4a,3gp,3g2,mj2',
    audio: [{ index: 1, codec: 'aac', sampleRate: 48_000, channels: 2 }],
    video: [
      { index: 0, codec: 'h264', width: 1280, height: 720, fps: 30, attachedPic: false },
      { index: 2, codec: 'mjpeg', width: 500, height: 500, fps: 0, attachedPic: true },
    ],
    ...over,
  };
}

/** A pause of `lengthS` every `everyS` seconds, starting at `firstS`. */
export function regularSilences(durationS: number, everyS: number, lengthS: number, firstS = everyS): Silence[] {
  const out: Silence[] = [];
  for (let t = firstS; t + lengthS < durationS; t += everyS) out.push({ startS: t, endS: t + lengthS });
  return out;
}
