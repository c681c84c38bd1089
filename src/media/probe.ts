/**
 * ffprobe -> our own MediaInfo, with a decodable duration we can plan on.
 *
 * Duration heuristic (cheap in the common case, honest in the odd ones):
 *  1. Read the header (one ffprobe). No audio or video stream -> media_unreadable; probe failure -> media_unreadable.
 *  2. Trust a PCM track's header when the file holds that many bytes (ffprobe derives it from the data size).
 *     Trust any other header's duration only when it passes two checks:
 *     - ffprobe did not warn "Estimating duration from bitrate" (raw AAC/AMR/MP3: a guess from the first frames);
 *     - the track we will send really ends there: the same ffprobe call seeks far past the end and reads the
 *       last packets (no decoding); their end must be within max(0.1 s, 0.5%) of the claim. A truncated upload
 *       (header: 19 min, data: 1.7 s) or a lying header fails this at once.
 *  3. Otherwise (no duration, a guess, or a mismatch) measure: one ffmpeg pass decoding that audio track to
 *     the null muxer (sample-exact), or for a video-only file a listing of its packets (no costly video decode).
 *     0 s decodable -> media_empty; under 0.1 s -> media_too_short.
 * Every pass reads the local file alone, through the allow-list (allow-list.ts): a playlist, a list of files or
 * any other container that is not media in itself is refused (media_unsupported_container) before it opens
 * anything; each pass has a deadline (deadline.ts; media_timeout). URLs are refused: nothing here fetches.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { OmniError } from '../util/errors.ts';
import { type Logger, silentLogger } from '../util/logger.ts';
import { checkContainer, mediaInputArgs, probeInputArgs, refusedFormat, unsupportedContainer } from './allow-list.ts';
import { childDeadlineMs, deadlinePolicy } from './child-deadline.ts';
import { locateFfmpeg, runBinary, runFfmpeg } from './ffmpeg.ts';
import { bytesBoundS, claimOutrunsBytes, oggLinks, timelineOutruns, timelineRefusal } from './measured.ts';
import { agreesWithFrames, walkMp3 } from './mp3-frames.ts';
import type { AudioStream, MediaInfo, VideoStream } from './types.ts';

export const MIN_DECODABLE_S = 0.1;
/** mp3 (and Ogg) files up to this size are read whole to count frames (links); 64 MiB is ~4.6 h at 32 kbps. */
const WALK_MAX_BYTES = 64 * 1024 * 1024;
const still = new Set(['mjpeg', 'png', 'bmp', 'webp', 'gif', 'tiff']);

export interface ProbeOptions {
  log?: Logger;
  signal?: AbortSignal;
}
/** measureDuration: the demuxer the probe named, and the media length to scale its deadline by */
export interface MeasureOptions extends ProbeOptions {
  format?: string;
  mediaS?: number;
  /** audio: count the samples decoded instead of following the timestamps (a timeline suspected of jumps) */
  sampleClock?: boolean;
}

/** The caller's logger at most at debug level: commands are logged, failures become coded errors instead of warnings. */
function quiet(log: Logger | undefined): Logger {
  if (!log?.isLevelEnabled('debug')) return silentLogger;
  return log;
}

const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);

/**
 * The argument ffmpeg/ffprobe get for an input: `file:` + absolute path, so names like `a:b.mp3` or `-x.wav`
 * stay files. A URL is refused: media is always read from a local copy (estimate downloads a bounded range).
 */
export function inputArg(input: string): string {
  if (isUrl(input)) throw new OmniError('media_unreadable', 'media is read from local files only, never from a URL');
  return `file:${path.resolve(input)}`;
}

/** A whitelist refusal or a deadline is the verdict; anything else ffprobe/ffmpeg says becomes media_unreadable. */
function verdict<T>(e: unknown, fallback: () => T): T {
  if (e instanceof OmniError && e.code !== 'media_unreadable' && e.code !== 'ffmpeg_failed') throw e;
  const refused = e instanceof OmniError ? refusedFormat(String(e.details?.stderr ?? '')) : undefined;
  if (refused) throw unsupportedContainer(refused);
  return fallback();
}

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
};
const rate = (v: unknown): number => {
  if (typeof v !== 'string') return 0;
  const [a, b] = v.split('/').map(Number);
  return b ? a / b : Number.isFinite(a) ? a : 0;
};

type Json = Record<string, unknown>;

/** Tags a muxer or encoder writes about itself; any other is the uploader's text (as-is.ts refuses to send it). */
const TECHNICAL_TAGS = new Set([
  'encoder',
  'major_brand',
  'minor_version',
  'compatible_brands',
  'handler_name',
  'vendor_id',
  'creation_time',
  'language',
  'duration',
]);

function hasUserTags(o: Json): boolean {
  const tags = (o.tags ?? {}) as Json;
  return Object.keys(tags).some((k) => !TECHNICAL_TAGS.has(k.toLowerCase()));
}

/** Pure: ffprobe's JSON -> MediaInfo (durationS = the header's claim, 0 when none). */
export function parseProbe(json: Json, sizeBytes: number): MediaInfo {
  const format = (json.format ?? {}) as Json;
  const streams = (json.streams ?? []) as Json[];
  const audio: AudioStream[] = [];
  const video: VideoStream[] = [];
  for (const s of streams) {
    const index = Number(s.index);
    if (s.codec_type === 'audio') {
      audio.push({
        index,
        codec: String(s.codec_name ?? 'unknown'),
        sampleRate: num(s.sample_rate) ?? 0,
        channels: num(s.channels) ?? 0,
        ...(num(s.bit_rate) !== undefined && { bitrate: num(s.bit_rate) }),
      });
    } else if (s.codec_type === 'video') {
      const disp = (s.disposition ?? {}) as Json;
      const codec = String(s.codec_name ?? 'unknown');
      // Matroska attachments (cover art) are not flagged attached_pic, but have no frame rate.
      const attachedPic = disp.attached_pic === 1 || (still.has(codec) && rate(s.avg_frame_rate) === 0);
      video.push({ index, codec, width: num(s.width) ?? 0, height: num(s.height) ?? 0, fps: rate(s.avg_frame_rate) || rate(s.r_frame_rate), attachedPic });
    }
  }
  video.sort((a, b) => Number(a.attachedPic) - Number(b.attachedPic));
  const tagged = [format, ...streams].some(hasUserTags);
  let header = num(format.duration);
  if (header === undefined) {
    const ds = streams.map((s) => num(s.duration)).filter((d): d is number => d !== undefined);
    if (ds.length) header = Math.max(...ds);
  }
  return {
    durationS: header ?? 0,
    ...(header !== undefined && { headerDurationS: header }),
    durationSource: 'header',
    sizeBytes: num(format.size) ?? sizeBytes,
    container: String(format.format_name ?? 'unknown'),
    ...(num(format.bit_rate) !== undefined && { bitrate: num(format.bit_rate) }),
    audio,
    video,
    ...(tagged && { tagged }),
  };
}

/** The track whose length we plan on: the first audio track, else the first real video track. */
function primaryStream(info: MediaInfo): { index: number; kind: 'audio' | 'video' } {
  if (info.audio.length) return { index: info.audio[0].index, kind: 'audio' };
  return { index: info.video[0].index, kind: 'video' };
}

/**
 * Where the track's last packets end (the probe read them after a seek far past the end). Undefined when that
 * cannot be told: no packets of that track, or packets without timestamps (laced Matroska frames).
 */
export function tailEnd(packets: readonly Json[], streamIndex: number): number | undefined {
  let end: number | undefined;
  for (const p of packets) {
    if (Number(p.stream_index) !== streamIndex) continue;
    const pts = num(p.pts_time);
    if (pts === undefined) return undefined;
    const e = pts + (num(p.duration_time) ?? 0);
    if (end === undefined || e > end) end = e;
  }
  return end;
}

/**
 * Decodable seconds of one track. Audio: decoded to the null muxer (sample-exact, and cheap). Video: its packets
 * listed without decoding (a video decode would cost as much as the encode), the latest pts + duration.
 */
export async function measureDuration(arg: string, streamIndex: number, kind: 'audio' | 'video', opts: MeasureOptions = {}): Promise<number> {
  const unreadable = (e: unknown): never =>
    verdict(e, () => {
      throw new OmniError('media_unreadable', `the media could not be decoded: ${(e as Error).message}`, { cause: e });
    });
  const run = { log: quiet(opts.log), signal: opts.signal, timeoutMs: childDeadlineMs('decode', opts.mediaS, deadlinePolicy()) };
  if (kind === 'video') {
    const { stdout } = await runBinary(
      locateFfmpeg(opts.log).ffprobe,
      [
        '-v',
        'error',
        '-select_streams',
        String(streamIndex),
        '-show_entries',
        'packet=stream_index,pts_time,dts_time,duration_time',
        '-of',
        'json',
        ...probeInputArgs(arg, opts.format),
      ],
      { ...run, code: 'media_unreadable' },
    ).catch(unreadable);
    // A raw elementary stream (MPEG-2 video) has decode times only: they are the frames' times there.
    const packets = (((JSON.parse(stdout) as Json).packets ?? []) as Json[]).map((p) => (p.pts_time === undefined ? { ...p, pts_time: p.dts_time } : p));
    return (
      tailEnd(
        packets.filter((p) => num(p.pts_time) !== undefined),
        streamIndex,
      ) ?? 0
    );
  }
  const { stdout } = await runFfmpeg(
    // sampleClock (asetpts=N/SR): the output's clock is the samples decoded, whatever the source's timestamps say.
    [
      '-v',
      'error',
      '-nostats',
      ...mediaInputArgs(arg, opts.format),
      '-map',
      `0:${streamIndex}`,
      ...(opts.sampleClock ? ['-af', 'asetpts=N/SR/TB'] : []),
      '-f',
      'null',
      '-',
      '-progress',
      'pipe:1',
    ],
    run,
  ).catch(unreadable);
  return lastOutTime(stdout);
}

/** PCM durations are bytes / byte rate: exact whenever the bytes are really there (ffprobe caps them at the file size). */
function pcmConsistent(info: MediaInfo, header: number): boolean {
  const a = info.audio[0];
  if (!a?.codec.startsWith('pcm_') || !a.bitrate || !info.sizeBytes) return false;
  return (header * a.bitrate) / 8 <= info.sizeBytes + 4096;
}

/** The final `out_time_us` of ffmpeg's -progress output, in seconds. */
export function lastOutTime(progress: string): number {
  let us = 0;
  for (const m of progress.matchAll(/^out_time_us=(-?\d+)/gm)) us = Number(m[1]);
  return Math.max(0, us / 1e6);
}

// -skip_frame:v all: ffprobe reads frame sizes from the headers instead of decoding a frame (a 16000x16000 H.264
// frame cost ffprobe 660 MB; skipped, 55 MB), so the pixel limit is checked before anything decodes a picture.
const SHOW = ['-print_format', 'json', '-show_format', '-show_streams', '-skip_frame:v', 'all'];
/** Packets read after seeking this far: the demuxer lands on the last ones (no decoding, a few KB read). */
const TAIL_ARGS = ['-show_entries', 'packet=stream_index,pts_time,duration_time', '-read_intervals', '99999999%'];

/** One ffprobe for header and last packets; when seeking fails, the header alone. */
async function ffprobeHeader(arg: string, opts: ProbeOptions): Promise<{ json: Json; stderr: string }> {
  // A failure here is a verdict on the file (media_unreadable), not an operational warning: keep it out of the warn log.
  const probe = (extra: string[]) =>
    runBinary(locateFfmpeg(opts.log).ffprobe, ['-v', 'warning', ...SHOW, ...extra, ...probeInputArgs(arg)], {
      log: quiet(opts.log),
      signal: opts.signal,
      code: 'media_unreadable',
      timeoutMs: childDeadlineMs('probe', undefined, deadlinePolicy()),
    });
  // A refusal or a deadline is final: only a failed tail seek is worth a second, header-only probe.
  const { stdout, stderr } = await probe(TAIL_ARGS)
    .catch((e: unknown) => verdict(e, () => probe([])))
    .catch((e: unknown) => {
      if (!(e instanceof OmniError)) throw e;
      verdict(e, () => undefined);
      // ffprobe's last line names the input (a long path) and then the reason: keep the reason.
      const last =
        String(e.details?.stderr ?? '')
          .trim()
          .split('\n')
          .pop() ?? '';
      const reason = last.slice(last.lastIndexOf(': ') + 2) || e.message;
      throw new OmniError('media_unreadable', `not readable as audio or video: ${reason}`, { cause: e });
    });
  return { json: JSON.parse(stdout) as Json, stderr };
}

/**
 * Buffers kept for the whole-file reads below (the frame walk, the Ogg link count): a fresh Buffer of the file's
 * size each time made V8 collect its whole heap about once a file (estimate over fifty 12-MB mp3s: 3-6 s of a
 * 20-s process in the collector). At most SPARE_COUNT, each at most SPARE_MAX_BYTES: larger reads are not kept.
 */
const spares: Buffer[] = [];
const SPARE_COUNT = 2;
const SPARE_MAX_BYTES = 16 * 1024 * 1024;

/** `use` (synchronous) over the file's first `size` bytes (fewer if it is shorter now), read into a reused buffer. */
export async function withBytes<T>(file: string, size: number, use: (bytes: Buffer) => T): Promise<T> {
  const at = spares.findIndex((b) => b.length >= size);
  const buf = at >= 0 ? spares.splice(at, 1)[0] : Buffer.allocUnsafe(size <= SPARE_MAX_BYTES ? Math.min(SPARE_MAX_BYTES, Math.max(size, 1024 * 1024)) : size);
  try {
    const fh = await open(file, 'r');
    let n = 0;
    try {
      while (n < size) {
        const { bytesRead } = await fh.read(buf, n, size - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return use(buf.subarray(0, n));
  } finally {
    if (buf.length <= SPARE_MAX_BYTES && spares.length < SPARE_COUNT) spares.push(buf);
  }
}

export async function probeMedia(input: string, opts: ProbeOptions = {}): Promise<MediaInfo> {
  const log = opts.log ?? silentLogger;
  // A URL is refused before anything (inputArg throws): media is only ever read from a local copy.
  const arg = inputArg(input);
  const st = await stat(input).catch((e: NodeJS.ErrnoException) => {
    throw new OmniError('media_unreadable', e.code === 'ENOENT' ? 'no such file' : `cannot read the file (${e.code ?? e.message})`, { cause: e });
  });
  if (!st.isFile()) throw new OmniError('media_unreadable', 'not a regular file');
  if (st.size === 0) throw new OmniError('media_empty', 'the file is empty (0 bytes)');
  const size = st.size;
  const { json, stderr } = await ffprobeHeader(arg, { log, signal: opts.signal });
  const info = parseProbe(json, size);
  // Defence in depth: the whitelist already refused anything else at open.
  checkContainer(info.container);
  if (info.audio.length === 0 && info.video.length === 0) {
    throw new OmniError('media_unreadable', 'the file has no audio or video stream');
  }
  const primary = primaryStream(info);
  const header = info.headerDurationS;
  const end = tailEnd((json.packets ?? []) as Json[], primary.index);
  let why: string | undefined;
  /** where the timestamps really end, when the samples must be shown to fill it */
  let timelineS: number | undefined;
  // An mp3's frames are its length (mp3-frames.ts): counted without decoding, they settle any claim at once.
  const frames = info.container === 'mp3' && info.audio.length === 1 && size <= WALK_MAX_BYTES ? await withBytes(input, size, walkMp3) : undefined;
  if (frames && frames.frames > 0) {
    // Frames that disagree with the claim (a cut-short upload, a forged tag): the decoder has the last word.
    if (header === undefined || !agreesWithFrames(header, frames))
      why = `header claims ${header?.toFixed(2) ?? 'no length'}, its frames hold ${frames.seconds.toFixed(2)} s`;
  } else if (header === undefined || header <= 0) why = 'no duration in the header';
  else if (primary.kind === 'audio' && pcmConsistent(info, header)) why = undefined;
  else if (/Estimating duration from bitrate/i.test(stderr)) why = 'header duration is estimated from the bitrate';
  else if (end === undefined) why = 'the end of the track cannot be read from its last packets';
  else if (Math.abs(end - header) > Math.max(0.1, header * 0.005))
    why = `header claims ${header.toFixed(2)} s, the ${primary.kind} track ends at ${end.toFixed(2)} s`;
  else if (claimOutrunsBytes(info)) {
    // The last packets do end there: the timestamps jump (a 20-h gap over 10 s of samples). Decoding counts them.
    why = `header claims ${header.toFixed(2)} s, its bytes hold at most ${bytesBoundS(info)?.toFixed(2)} s at the stream's bitrate`;
    timelineS = end;
  } else if (info.container === 'ogg' && size <= WALK_MAX_BYTES && (await withBytes(input, size, oggLinks)) > info.audio.length + info.video.length)
    why = 'a chained Ogg file: the header states the last link only';
  if (why) {
    // The length is what is in doubt: scale the deadline by the claim, or by the bytes at a low real bitrate (16 kbps).
    const mediaS = Math.max(header ?? 0, size / 2000);
    const measured = await measureDuration(arg, primary.index, primary.kind, {
      log,
      signal: opts.signal,
      format: info.container,
      mediaS,
      sampleClock: timelineS !== undefined,
    });
    log.debug({ input, why, header, measured }, 'duration measured');
    info.durationS = measured;
    info.durationSource = 'measured';
    if (timelineS !== undefined && timelineOutruns(timelineS, measured)) throw timelineRefusal(timelineS, measured);
  }
  if (info.durationS <= 0) throw new OmniError('media_empty', 'the file holds no decodable audio or video');
  if (info.durationS < MIN_DECODABLE_S) {
    throw new OmniError('media_too_short', `only ${info.durationS.toFixed(3)} s decodable (minimum ${MIN_DECODABLE_S} s)`);
  }
  return info;
}

/** The lowest bitrate of real media (AMR-NB's lowest mode is 4.75 kbps): bytes / this is an upper bound on its length. */
export const MIN_MEDIA_BPS = 4000;

/**
 * The facts of a file of which only part is on disk (estimate's bounded ranged download: its head and tail in a
 * sparse file of the real size). One header probe through the allow-list; the header's claim is taken as it
 * is (the run measures for real). No claim: the length is bounded by the size at MIN_MEDIA_BPS (`bounded`).
 */
export async function probePartial(file: string, opts: ProbeOptions = {}): Promise<{ info: MediaInfo; bounded: boolean }> {
  const st = await stat(file);
  const { json } = await ffprobeHeader(inputArg(file), { log: opts.log ?? silentLogger, signal: opts.signal });
  const info = parseProbe(json, st.size);
  checkContainer(info.container);
  if (info.audio.length === 0 && info.video.length === 0) {
    throw new OmniError('media_unreadable', 'the file has no audio or video stream');
  }
  const header = info.headerDurationS;
  // A claim its bytes cannot hold at its own bitrate (probeMedia decodes such a file): price the bound.
  const bound = claimOutrunsBytes(info) ? bytesBoundS(info) : undefined;
  if (bound !== undefined) return { info: { ...info, durationS: bound }, bounded: true };
  if (header !== undefined && header > 0) return { info, bounded: false };
  return { info: { ...info, durationS: (st.size * 8) / MIN_MEDIA_BPS }, bounded: true };
}
