/**
 * ffmpeg argument arrays from an EncodeSpec: pure, so the exact commands are testable and the bench can
 * run the same encoding as one bare command. Arrays, never a shell string: hostile names stay data.
 */
import { OmniError } from '../util/errors.ts';
import { mediaInputArgs } from './allow-list.ts';
import type { EncodeSpec } from './types.ts';

/**
 * At most this many times in one argument. Linux refuses any single argument over 128 KiB (MAX_ARG_STRLEN:
 * E2BIG at exec); a time is at most 17 characters ("999999999.000000,"), so 2,000 stay under 34 KiB.
 */
export const MAX_TIMES_PER_ARG = 2000;
/** The longest list of forced keyframes one encode takes (video plans; each chunk needs two). */
export const MAX_KEYFRAME_ARG_CHARS = 64 * 1024;

export interface EncodeArgOptions {
  /** a stretch of the source, in seconds (input-side seek: exact when transcoding) */
  range?: { startS: number; endS: number };
  /** video: force a keyframe at these output times, so a stream copy can split there */
  keyframesS?: readonly number[];
  /** run silencedetect on the very samples being encoded (one decode of the source for both) */
  silenceFilter?: string;
  /** the demuxer the probe named (allow-list.ts): the source is read with it and nothing else */
  inputFormat?: string;
  /** the decoders' frame-size cap (OMNIBATCH_MAX_PIXELS): allow-list.ts mediaInputArgs */
  maxPixels?: number;
  /** the source's video track this encode reads (codec and size): its decoder may work at a reduced size */
  sourceVideo?: { codec: string; width: number; height: number };
}

/**
 * Decoders that can decode at 1/2, 1/4 or 1/8 of the frame size (`-lowres`): a picture scaled down to the
 * model's few hundred pixels anyway costs a quarter to a sixty-fourth of the memory and time. H.264, HEVC,
 * VP9 and AV1 cannot (ffmpeg ignores the option for them); for those the thread limit below is what holds.
 */
const LOWRES_CODECS = new Set([
  'mjpeg',
  'mpeg1video',
  'mpeg2video',
  'mpeg4',
  'h263',
  'h263p',
  'msmpeg4v1',
  'msmpeg4v2',
  'msmpeg4v3',
  'wmv1',
  'wmv2',
  'jpeg2000',
]);

/**
 * The `-lowres` factor (0-3) that still leaves the decoded picture at least as large as the output: the
 * largest k with size / 2^k >= the scaled size. PURE.
 */
export function lowresFactor(src: { codec: string; width: number; height: number }, maxWidth: number, maxHeight: number): number {
  if (!LOWRES_CODECS.has(src.codec) || src.width <= 0 || src.height <= 0) return 0;
  const shrink = Math.min(1, maxWidth / src.width, maxHeight / src.height);
  return Math.max(0, Math.min(3, Math.floor(Math.log2(1 / shrink))));
}

const t = (s: number): string => s.toFixed(6);

/** Everything from the input's seek options to the codec options, without the output. */
export function encodeArgs(input: string, e: EncodeSpec, o: EncodeArgOptions = {}): string[] {
  const args: string[] = [];
  if (o.range) args.push('-ss', t(o.range.startS), '-to', t(o.range.endS));
  // One decoder thread: frame threading keeps a picture per thread (8K: 53 MB each; 2 cores made 1.5 GB of a
  // 148 KB file). The stream-info decode at open takes it too. Measured in BENCHMARKS.md ("hostile").
  args.push('-threads', '1');
  const lowres = e.kind === 'video' && o.sourceVideo ? lowresFactor(o.sourceVideo, e.video!.maxWidth, e.video!.maxHeight) : 0;
  if (lowres) args.push('-lowres', String(lowres));
  args.push(...mediaInputArgs(input, o.inputFormat, o.maxPixels));
  // No container metadata, chapters or attachments reach a chunk: tags are the uploader's text, not the media.
  args.push('-map_metadata', '-1', '-map_chapters', '-1');
  // Downmix and resample in one aformat: the auto-inserted resampler knows every layout (5.1, unknown 6ch).
  const audioChain = [`aformat=sample_rates=${e.sampleRate}:channel_layouts=${e.channels === 1 ? 'mono' : 'stereo'}`];
  if (o.silenceFilter) audioChain.push(o.silenceFilter);
  if (e.kind === 'audio') {
    args.push('-map', `0:${e.audioStream}`, '-vn', '-sn', '-dn', '-af', audioChain.join(','), '-c:a', e.audioCodec, '-b:a', `${e.audioBitrateKbps}k`);
    return args;
  }
  const v = e.video!;
  args.push('-map', `0:${e.videoStream}`);
  if (e.audioStream !== undefined) args.push('-map', `0:${e.audioStream}`);
  args.push(
    '-sn',
    '-dn',
    '-filter_threads',
    '1',
    // The model samples ~2 frames/s: drop the rest first, then shrink (no upscaling; rotation-aware via iw/ih).
    '-vf',
    `fps=${v.fps},scale=w='min(${v.maxWidth},iw)':h='min(${v.maxHeight},ih)':force_original_aspect_ratio=decrease:force_divisible_by=2`,
    // No B-frames: at 2 frames/s they save little, and decode order = display order keeps copy-cuts exact.
    '-c:v',
    v.codec,
    '-preset',
    'veryfast',
    '-crf',
    String(v.crf),
    '-bf',
    '0',
    '-pix_fmt',
    'yuv420p',
    // A few hundred pixels at 2 frames a second: one encoder thread keeps up, and holds one lookahead.
    '-threads',
    '1',
  );
  if (v.maxBitrateKbps) args.push('-maxrate', `${v.maxBitrateKbps}k`, '-bufsize', `${v.maxBitrateKbps * 2}k`);
  if (o.keyframesS?.length) args.push('-force_key_frames', keyframeArg(o.keyframesS));
  if (e.audioStream !== undefined) args.push('-af', audioChain.join(','), '-c:a', e.audioCodec, '-b:a', `${e.audioBitrateKbps}k`);
  else args.push('-an');
  return args;
}

/** The forced keyframes as one bounded argument; a plan past the bound is refused, never an E2BIG at exec. */
export function keyframeArg(times: readonly number[]): string {
  const arg = times.map(t).join(',');
  if (arg.length > MAX_KEYFRAME_ARG_CHARS) {
    throw new OmniError('media_too_many_cuts', `a video plan with ${times.length} cut points is more than one encode can take`);
  }
  return arg;
}

/**
 * One stream-copy split of an encoded file, as ffmpeg runs: each takes at most MAX_TIMES_PER_ARG cut times.
 * A single batch is the usual case. Past it, batch k reads only its stretch of the file (input seek, stream
 * copy, original timestamps kept with -copyts so the segment list stays on the file's timeline) and cuts at
 * its own times plus the next batch's first one, so its last real segment ends exactly there; the stretch
 * before its first time and after its last belongs to the neighbours and is discarded.
 */
export interface SplitBatch {
  /** the cut times this run uses */
  times: number[];
  /** input seek (absent for the first batch) */
  fromS?: number;
  /** input end (absent for the last batch) */
  toS?: number;
  /** rows of this run's segment list that are real pieces: [first, last] inclusive */
  keep: [number, number];
}

/** Seconds read before a batch's first cut and after its last: any seek lands on a packet before the cut. */
export const BATCH_MARGIN_S = 10;

export function splitBatches(times: readonly number[], max = MAX_TIMES_PER_ARG): SplitBatch[] {
  if (times.length <= max) return [{ times: [...times], keep: [0, times.length] }];
  const out: SplitBatch[] = [];
  // Each batch but the last repeats the next one's first time: max - 1 new times per batch.
  const step = max - 1;
  for (let i = 0; i < times.length; i += step) {
    const first = i === 0;
    const last = i + step >= times.length;
    const mine = times.slice(i, last ? times.length : i + step + 1);
    out.push({
      times: mine,
      ...(!first && { fromS: Math.max(0, mine[0] - BATCH_MARGIN_S) }),
      ...(!last && { toS: mine[mine.length - 1] + BATCH_MARGIN_S }),
      // rows: [before first time, between times..., after last time]
      keep: [first ? 0 : 1, last ? mine.length : mine.length - 1],
    });
    if (last) break;
  }
  return out;
}

/** Stream-copy split of an encoded file at `times` (its own timeline) with the segment muxer; names stay relative. */
export function splitArgs(e: EncodeSpec, times: readonly number[], pattern: string, list: string): string[] {
  return ['-map', '0', '-c', 'copy', ...segmentArgs(e, times, pattern, list)];
}

/** The segment muxer's output options: explicit cut times, a CSV list of what it wrote (start/end of each). */
export function segmentArgs(e: EncodeSpec, times: readonly number[], pattern: string, list: string): string[] {
  const args = ['-f', 'segment', '-segment_list', list, '-segment_list_type', 'csv'];
  // No cut: one segment (the muxer's default would be one every 2 s).
  if (times.length > MAX_TIMES_PER_ARG) throw new OmniError('internal', `${times.length} cut times in one argument: use splitBatches`);
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
