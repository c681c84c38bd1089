/**
 * ffmpeg argument arrays from an EncodeSpec: pure, so the exact commands are testable and the bench can
 * run the same encoding as one bare command. Arrays, never a shell string: hostile names stay data.
 */
import type { EncodeSpec } from './types.ts';

export interface EncodeArgOptions {
  /** a stretch of the source, in seconds (input-side seek: exact when transcoding) */
  range?: { startS: number; endS: number };
  /** video: force a keyframe at these output times, so a stream copy can split there */
  keyframesS?: readonly number[];
  /** run silencedetect on the very samples being encoded (one decode of the source for both) */
  silenceFilter?: string;
}

const t = (s: number): string => s.toFixed(6);

/** Everything from the input's seek options to the codec options, without the output. */
export function encodeArgs(input: string, e: EncodeSpec, o: EncodeArgOptions = {}): string[] {
  const args: string[] = [];
  if (o.range) args.push('-ss', t(o.range.startS), '-to', t(o.range.endS));
  args.push('-i', input);
  // Downmix and resample in one aformat: the auto-inserted resampler knows every layout (5.1, unknown 6ch).
  const audioChain = [`aformat=sample_rates=${e.sampleRate}:channel_layouts=${e.channels === 1 ? 'mono' : 'stereo'}`];
  if (o.silenceFilter) audioChain.push(o.silenceFilter);
  if (e.kind === 'audio') {
    args.push('-map', `0:${e.audioStream}`, '-vn', '-sn', '-dn', '-af', audioChain.join(','),
      '-c:a', e.audioCodec, '-b:a', `${e.audioBitrateKbps}k`);
    return args;
  }
  const v = e.video!;
  args.push('-map', `0:${e.videoStream}`);
  if (e.audioStream !== undefined) args.push('-map', `0:${e.audioStream}`);
  args.push('-sn', '-dn',
    // The model samples ~2 frames/s: drop the rest first, then shrink (no upscaling; rotation-aware via iw/ih).
    '-vf', `fps=${v.fps},scale=w='min(${v.maxWidth},iw)':h='min(${v.maxHeight},ih)':force_original_aspect_ratio=decrease:force_divisible_by=2`,
    // No B-frames: at 2 frames/s they save little, and decode order = display order keeps copy-cuts exact.
    '-c:v', v.codec, '-preset', 'veryfast', '-crf', String(v.crf), '-bf', '0', '-pix_fmt', 'yuv420p');
  if (v.maxBitrateKbps) args.push('-maxrate', `${v.maxBitrateKbps}k`, '-bufsize', `${v.maxBitrateKbps * 2}k`);
  if (o.keyframesS?.length) args.push('-force_key_frames', o.keyframesS.map(t).join(','));
  if (e.audioStream !== undefined) args.push('-af', audioChain.join(','), '-c:a', e.audioCodec, '-b:a', `${e.audioBitrateKbps}k`);
  else args.push('-an');
  return args;
}

/** Stream-copy split of an encoded file at `times` (its own timeline) with the segment muxer; names stay relative. */
export function splitArgs(e: EncodeSpec, times: readonly number[], pattern: string, list: string): string[] {
  return ['-map', '0', '-c', 'copy', ...segmentArgs(e, times, pattern, list)];
}

/** The segment muxer's output options: explicit cut times, a CSV list of what it wrote (start/end of each). */
export function segmentArgs(e: EncodeSpec, times: readonly number[], pattern: string, list: string): string[] {
  const args = ['-f', 'segment', '-segment_list', list, '-segment_list_type', 'csv'];
  // No cut: one segment (the muxer's default would be one every 2 s).
  if (times.length) args.push('-segment_times', times.map(t).join(','));
  else args.push('-segment_time', '1000000000');
  if (e.kind === 'audio') {
    // Without a Xing/LAME tag a decoder plays every frame of a chunk: with it, each chunk would drop the
    // encoder's priming length (69 ms) of real audio at its start, and offsets would drift chunk by chunk.
    args.push('-segment_format_options', 'write_xing=0');
  } else {
    // AAC priming gives the first audio packets negative timestamps; shifting them to zero (the default) would
    // shift the segment list's times off the video's by 64 ms. Each segment restarts at zero anyway.
    args.push('-reset_timestamps', '1', '-avoid_negative_ts', 'disabled');
  }
  args.push(pattern);
  return args;
}
