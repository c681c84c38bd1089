/**
 * Executes a plan with as few ffmpeg passes as possible:
 *  1. ONE encode pass over the source into a single compressed file (mono 16 kHz mp3, or low-fps mp4 with
 *     keyframes forced at every cut), optionally running silencedetect on the same decoded samples;
 *  2. ONE stream-copy pass of that file through the segment muxer with explicit `-segment_times` (no decode;
 *     a few ms per hour). Its segment list records where every chunk really starts and ends.
 * Then every chunk is measured (times from the segment list, bytes from disk), and a chunk still over a
 * limit is split again from the encoded file. All temp files live in a per-call directory, removed on success
 * and failure; ffmpeg runs with that directory as cwd, so output names are fixed, relative and safe.
 */
import { copyFile, mkdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ModelSpec } from '../models/catalog.ts';
import { withTempDir } from '../storage/temp.ts';
import { OmniError } from '../util/errors.ts';
import { type Logger, silentLogger } from '../util/logger.ts';
import { demuxerOfEncoded, mediaInputArgs, probeInputArgs } from './allow-list.ts';
import { childDeadlineMs, deadlinePolicy } from './child-deadline.ts';
import { chooseCuts } from './cutpoints.ts';
import { encodeArgs, type SplitBatch, splitArgs, splitBatches } from './encode-args.ts';
import { locateFfmpeg, runBinary, runFfmpeg } from './ffmpeg.ts';
import { readPriming } from './lame-tag.ts';
import { base64Chars, chunkTokens, limitViolations, pixelsPerSecond } from './limits.ts';
import { walkMp3 } from './mp3-frames.ts';
import { inputArg, lastOutTime } from './probe.ts';
import { SilenceCollector, silenceFilter } from './silence.ts';
import type { CutChunk, EncodeSpec, MediaInfo, Plan, Silence, VideoStream } from './types.ts';

export interface CutOptions {
  log?: Logger;
  signal?: AbortSignal;
  /** where the per-call temp directory goes (default OMNIBATCH_TMP or the OS temp dir) */
  tmpDir?: string;
  /** checks input tokens of measured chunks too (durations are planned within them already) */
  model?: ModelSpec;
  /** silences on the source timeline, used when a chunk must be split again */
  silences?: readonly Silence[];
  /** the source's demuxer as the probe named it (MediaInfo.container): every pass over the source forces it */
  inputFormat?: string;
  /** the source's length, to scale each pass's deadline (deadline.ts) */
  sourceS?: number;
  /** the decoders' frame-size cap on every pass that decodes the source (OMNIBATCH_MAX_PIXELS) */
  maxPixels?: number;
  /** cut times per split run (tests shrink it; default MAX_TIMES_PER_ARG) */
  maxTimesPerRun?: number;
  /** the source's video tracks (probe): a video pass's deadline and decoder follow the one it reads */
  sourceVideo?: readonly VideoStream[];
}

/** The source, compressed once: the expensive pass. Times on its own timeline map to the source by offsetS/delayS. */
export interface Encoded {
  file: string;
  encode: EncodeSpec;
  /** where the encoded file starts on the source's timeline */
  offsetS: number;
  /** encoder priming at the start of the file (mp3: 1105 samples), not source audio */
  delayS: number;
  /** decodable length of the encoded file (its samples when counted, else where its timestamps end) */
  durationS: number;
  /** where the output's timestamps end (ffmpeg's out_time, priming added): past durationS when the source's jump */
  timelineS: number;
  /** the file's length counted from the samples it holds (mp3 frames, priming included) */
  samplesS?: number;
  silences?: Silence[];
}

/** A piece cut and measured in the temp dir, on the source's timeline. */
export interface Piece {
  file: string;
  startS: number;
  endS: number;
  durationS: number;
  overlapS: number;
  bytes: number;
  base64Chars: number;
}

let encodeSeq = 0;
/** Timestamps and counted samples of one encode this close agree (an mp3's end padding is under 0.1 s). */
const SAMPLES_AGREE_S = 0.25;
const TAIL_S = 0.25;

export async function encodeWhole(
  file: string,
  encode: EncodeSpec,
  dir: string,
  opts: CutOptions & {
    range?: { startS: number; endS: number };
    /** video: source times at which chunks will be split */
    keyframesS?: readonly number[];
    detectSilence?: { noiseDb?: number; minSilenceS?: number };
    /** stop after this many seconds of output: no more is ever planned (OMNIBATCH_MAX_MEDIA_SECONDS + 1) */
    maxS?: number;
  } = {},
): Promise<Encoded> {
  const log = opts.log ?? silentLogger;
  const offsetS = opts.range?.startS ?? 0;
  const out = `enc-${++encodeSeq}.${encode.format}`;
  const collector = opts.detectSilence ? new SilenceCollector() : undefined;
  const sourceVideo = encode.kind === 'video' ? opts.sourceVideo?.find((v) => v.index === encode.videoStream) : undefined;
  const args = [
    '-v',
    collector ? 'info' : 'error',
    '-nostats',
    ...encodeArgs(inputArg(file), encode, {
      range: opts.range,
      keyframesS: opts.keyframesS?.map((s) => s - offsetS).filter((s) => s > 0),
      silenceFilter: opts.detectSilence && silenceFilter(opts.detectSilence.noiseDb, opts.detectSilence.minSilenceS),
      inputFormat: opts.inputFormat,
      maxPixels: opts.maxPixels,
      sourceVideo,
    }),
    ...(opts.maxS !== undefined ? ['-t', String(opts.maxS)] : []),
    '-f',
    encode.format,
    '-y',
    out,
    '-progress',
    'pipe:1',
  ];
  const mediaS = opts.range ? opts.range.endS - opts.range.startS : opts.sourceS;
  const timeoutMs = childDeadlineMs(
    encode.kind === 'video' ? 'encode_video' : 'encode_audio',
    mediaS,
    deadlinePolicy(),
    sourceVideo && pixelsPerSecond({ video: [sourceVideo] }),
  );
  const { stdout } = await runFfmpeg(args, { log, signal: opts.signal, cwd: dir, timeoutMs, onStderr: collector && ((t) => collector.push(t)) });
  // mp3 keeps the encoder's priming in the file and declares it in its LAME tag; mp4 video starts at 0.
  const delayS = encode.kind === 'audio' ? await primingS(path.join(dir, out), encode.sampleRate, opts) : 0;
  // -progress reports the decodable output length; the file's own timeline adds the priming.
  const timelineS = lastOutTime(stdout) + delayS;
  const samplesS = encode.format === 'mp3' ? await framesS(path.join(dir, out)) : undefined;
  // The file's own timeline is its samples (mp3 timestamps are frame counts): a source whose timestamps skip
  // (chained Ogg links, a jump) or stall (a muxer that wrote none) ends elsewhere. Within a frame or two of
  // each other, the timestamps are the finer figure (the frames also hold the encoder's end padding).
  const durationS = samplesS !== undefined && Math.abs(timelineS - samplesS) > SAMPLES_AGREE_S ? samplesS : timelineS;
  const silences = collector?.finish(offsetS + durationS).map((s) => ({ startS: s.startS + offsetS, endS: s.endS + offsetS }));
  log.debug({ out, delayS, durationS, silences: silences?.length }, 'encoded');
  return {
    file: path.join(dir, out),
    encode,
    offsetS,
    delayS,
    durationS,
    timelineS,
    ...(samplesS !== undefined && { samplesS }),
    ...(silences && { silences }),
  };
}

/** Our mp3 encodes up to this size are counted frame by frame (16 kHz mono at 64 kbps: 8.7 h). */
const COUNT_MAX_BYTES = 256 * 1024 * 1024;

/** Seconds of samples an encoded mp3 holds, by its frames (mp3-frames.ts); undefined when too large to read. */
async function framesS(file: string): Promise<number | undefined> {
  if ((await stat(file)).size > COUNT_MAX_BYTES) return undefined;
  return walkMp3(await readFile(file))?.seconds;
}

/** Seconds of priming at the start of an encoded mp3: from its LAME tag, else from ffprobe's start_time. */
async function primingS(file: string, sampleRate: number, opts: CutOptions): Promise<number> {
  const samples = await readPriming(file);
  if (samples !== undefined) return samples / sampleRate;
  const { stdout } = await runBinary(
    locateFfmpeg(opts.log).ffprobe,
    ['-v', 'error', '-select_streams', '0', '-show_entries', 'stream=start_time', '-of', 'csv=p=0', ...probeInputArgs(`file:${file}`, 'mp3')],
    { log: opts.log, signal: opts.signal, timeoutMs: childDeadlineMs('probe', undefined, deadlinePolicy()) },
  );
  return Math.max(0, Number(stdout.trim()) || 0);
}

interface Row {
  name: string;
  start: number;
  end: number;
}

/** Index of the sorted time within eps of s, or -1 (a binary search: a plan may hold tens of thousands). */
export function nearIndex(sorted: readonly number[], s: number, eps: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < s - eps) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && Math.abs(sorted[lo] - s) < eps ? lo : -1;
}

/**
 * The rows of a batched split as one list, as if one run had written them: each batch's real pieces in order;
 * the stretches it read only to reach its first cut (or past its last) are deleted.
 */
async function mergedRows(dir: string, base: string, batches: readonly SplitBatch[]): Promise<Row[]> {
  const all: Row[] = [];
  for (const [k, b] of batches.entries()) {
    const rows = parseSegmentList(await readFile(path.join(dir, `${base}-b${k}.csv`), 'utf8'));
    if (rows.length !== b.times.length + 1) {
      throw new OmniError('ffmpeg_failed', `segment muxer wrote ${rows.length} segments in batch ${k}, expected ${b.times.length + 1}`);
    }
    all.push(...rows.slice(b.keep[0], b.keep[1] + 1));
    await Promise.all(rows.filter((_, i) => i < b.keep[0] || i > b.keep[1]).map((r) => unlink(path.join(dir, r.name)).catch(() => undefined)));
  }
  return all;
}

/** The segment list has microsecond precision; keep sums free of float noise. */
const us = (s: number): number => Math.round(s * 1e6) / 1e6;

function parseSegmentList(csv: string): Row[] {
  return csv
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const parts = l.split(',');
      const end = Number(parts.pop());
      const start = Number(parts.pop());
      return { name: parts.join(',').replace(/^"|"$/g, ''), start, end };
    });
}

/**
 * Splits an encoded file into pieces given on the source's timeline, by stream copy in ONE ffmpeg process.
 * Pieces that overlap (chunk overlap) cannot come out of one segment muxer, so overlapping neighbours go to
 * two muxers fed by the same read: even pieces to one, odd to the other, the gaps between them discarded.
 */
export async function splitEncoded(
  enc: Encoded,
  pieces: readonly { startS: number; endS: number; overlapS?: number }[],
  dir: string,
  opts: CutOptions = {},
): Promise<Piece[]> {
  const log = opts.log ?? silentLogger;
  const eps = 1e-3;
  const toEnc = (s: number): number => (s - enc.offsetS <= eps ? 0 : s - enc.offsetS + enc.delayS);
  const overlapping = pieces.some((p, i) => i > 0 && p.startS < pieces[i - 1].endS - eps);
  const groups = overlapping ? [0, 1] : [0];
  const tag = `split-${++encodeSeq}`;
  const input = mediaInputArgs(`file:${path.basename(enc.file)}`, demuxerOfEncoded(enc.encode.format));
  const plans = groups.map((g) => {
    const mine = pieces.map((p, i) => ({ p, i })).filter(({ i }) => !overlapping || i % 2 === g);
    const times = [...new Set(mine.flatMap(({ p }) => [toEnc(p.startS), toEnc(p.endS)]).map((s) => Number(s.toFixed(6))))]
      // A piece ending within a quarter second of the file's end ends AT the end: its plan was made on a
      // duration that differs from the encoded one by the codec's padding, and a split there finds no packet.
      .filter((s) => s > eps && s < enc.durationS - TAIL_S)
      .sort((a, b) => a - b);
    return { g, mine, times, batches: splitBatches(times, opts.maxTimesPerRun) };
  });
  const ext = enc.encode.format;
  const run = { log, signal: opts.signal, cwd: dir, timeoutMs: childDeadlineMs('copy', enc.durationS, deadlinePolicy()) };
  if (plans.every((p) => p.batches.length === 1)) {
    // The usual case: every group's muxer in ONE process, fed by one read of the file.
    const args = ['-v', 'error', '-nostats', ...input];
    for (const { g, times } of plans) args.push(...splitArgs(enc.encode, times, `${tag}-${g}-%05d.${ext}`, `${tag}-${g}.csv`));
    await runFfmpeg(args, run);
  } else {
    // Too many cuts for one argument: one run per batch (encode-args.ts splitBatches), rows merged below.
    for (const { g, batches } of plans) {
      for (const [k, b] of batches.entries()) {
        const seek = [...(b.fromS !== undefined ? ['-ss', b.fromS.toFixed(6)] : []), ...(b.toS !== undefined ? ['-to', b.toS.toFixed(6)] : [])];
        await runFfmpeg(
          [
            '-v',
            'error',
            '-nostats',
            '-copyts',
            ...seek,
            ...input,
            ...splitArgs(enc.encode, b.times, `${tag}-${g}-b${k}-%05d.${ext}`, `${tag}-${g}-b${k}.csv`),
          ],
          run,
        );
      }
    }
  }

  const out: Piece[] = new Array(pieces.length);
  for (const { g, mine, times, batches } of plans) {
    const rows =
      batches.length === 1 ? parseSegmentList(await readFile(path.join(dir, `${tag}-${g}.csv`), 'utf8')) : await mergedRows(dir, `${tag}-${g}`, batches);
    if (rows.length !== times.length + 1) {
      throw new OmniError('ffmpeg_failed', `segment muxer wrote ${rows.length} segments, expected ${times.length + 1}`, {
        details: { times: times.length, rows: rows.length },
      });
    }
    const used = new Set<number>();
    for (const { p, i } of mine) {
      const s = toEnc(p.startS);
      const r = s <= eps ? 0 : nearIndex(times, s, eps) + 1;
      if (r < 0 || (s > eps && r === 0)) throw new OmniError('ffmpeg_failed', `no segment starts at ${s.toFixed(3)} s`);
      const row = rows[r];
      used.add(r);
      const file = path.join(dir, row.name);
      const bytes = (await stat(file)).size;
      const startS = us(Math.max(enc.offsetS, enc.offsetS + row.start - enc.delayS));
      out[i] = {
        file,
        startS,
        endS: us(enc.offsetS + row.end - enc.delayS),
        durationS: us(row.end - row.start),
        overlapS: 0,
        bytes,
        base64Chars: base64Chars(bytes),
      };
    }
    // The stretches between one muxer's pieces belong to the other muxer's pieces: not needed here.
    await Promise.all(rows.map((row, r) => (used.has(r) ? undefined : unlink(path.join(dir, row.name)).catch(() => undefined))));
  }
  return relink(out);
}

/** Overlap of each piece with the one before, from the measured times (float noise below a microsecond is none). */
function relink(pieces: Piece[]): Piece[] {
  for (let i = 0; i < pieces.length; i++) {
    const o = i === 0 ? 0 : pieces[i - 1].endS - pieces[i].startS;
    pieces[i].overlapS = o > 1e-6 ? us(o) : 0;
  }
  return pieces;
}

/** How many pieces a measured chunk must become to fit every limit, with 10% to spare. */
function piecesNeeded(p: Piece, plan: Plan, model?: ModelSpec): number {
  const l = plan.limits;
  const ratios = [p.durationS / l.maxSeconds, p.bytes / l.maxBytes, p.base64Chars / l.maxBase64Chars];
  if (model) ratios.push((chunkTokens(p.durationS, plan.encode, model, l.promptTokens) - l.promptTokens) / Math.max(1, l.maxInputTokens - l.promptTokens));
  return Math.max(2, Math.ceil(Math.max(...ratios) * 1.1));
}

/**
 * Re-plans chunks that measured over a limit (an encoder overshooting its bitrate, a planner estimate off):
 * each is cut again into smaller pieces, at silences where there are some, from the encoded file (audio:
 * stream copy) or from the source (video: its keyframes must be where the new cuts are). Three rounds at most.
 */
export async function enforceLimits(source: string, enc: Encoded, plan: Plan, pieces: Piece[], dir: string, opts: CutOptions = {}): Promise<Piece[]> {
  const log = opts.log ?? silentLogger;
  const violations = (p: Piece): string[] => limitViolations(p, plan.limits, plan.encode, opts.model);
  for (let round = 0; round < 3; round++) {
    const bad = pieces.map((p, i) => ({ p, i })).filter(({ p }) => violations(p).length > 0);
    if (bad.length === 0) return pieces;
    log.info({ round, chunks: bad.map(({ i, p }) => ({ i, why: violations(p) })) }, 're-planning chunks over a limit');
    const next: Piece[][] = pieces.map((p) => [p]);
    const subs = bad.map(({ p, i }) => {
      const len = p.endS - p.startS;
      const n = piecesNeeded(p, plan, opts.model);
      const inside = (opts.silences ?? [])
        .filter((s) => s.endS > p.startS && s.startS < p.endS)
        .map((s) => ({ startS: s.startS - p.startS, endS: s.endS - p.startS }));
      const cuts = chooseCuts(len, { targetS: len / n, windowS: len / n / 4, minChunkS: Math.min(0.5, len / n / 2), maxS: (len / n) * 1.25 }, inside);
      const bounds = [p.startS, ...cuts.map((c) => p.startS + c.atS), p.endS];
      return { p, i, bounds, sub: bounds.slice(0, -1).map((s, k) => ({ startS: s, endS: bounds[k + 1], overlapS: k === 0 ? p.overlapS : 0 })) };
    });
    if (plan.encode.kind === 'audio') {
      // All the new pieces come out of the encoded file in one more copy pass.
      const all = await splitEncoded(
        enc,
        subs.flatMap((s) => s.sub),
        dir,
        opts,
      );
      let k = 0;
      for (const s of subs) {
        next[s.i] = all.slice(k, k + s.sub.length);
        k += s.sub.length;
      }
    } else {
      // Video can only be copy-cut at keyframes: encode just that stretch again, with keyframes at the new cuts.
      for (const s of subs) {
        const part = await encodeWhole(source, plan.encode, dir, { ...opts, range: { startS: s.p.startS, endS: s.p.endS }, keyframesS: s.bounds });
        next[s.i] = await splitEncoded(part, s.sub, dir, opts);
      }
    }
    await Promise.all(subs.map((s) => unlink(s.p.file).catch(() => undefined)));
    pieces = relink(next.flat());
  }
  const still = pieces.map((p, i) => ({ i, why: violations(p) })).filter((x) => x.why.length);
  if (still.length === 0) return pieces;
  throw new OmniError('plan_impossible', `chunk ${still[0].i} is still over a limit after re-planning: ${still[0].why.join('; ')}`);
}

/** Moves finished pieces into the caller's directory as chunk-0000.<ext>, in timeline order. */
export async function deliver(pieces: readonly Piece[], format: string, outDir: string): Promise<CutChunk[]> {
  await mkdir(outDir, { recursive: true });
  const out: CutChunk[] = [];
  for (const [index, p] of pieces.entries()) {
    const file = path.join(outDir, `chunk-${String(index).padStart(4, '0')}.${format}`);
    await rename(p.file, file).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EXDEV') throw e;
      await copyFile(p.file, file);
      await rm(p.file, { force: true });
    });
    out.push({ index, file, startS: p.startS, durationS: p.durationS, endS: p.endS, overlapS: p.overlapS, bytes: p.bytes, base64Chars: p.base64Chars, format });
  }
  return out;
}

/** Executes a plan on a source: one encode pass, one copy split, measure, re-plan what is over a limit. */
export async function cutChunks(file: string, info: MediaInfo, plan: Plan, outDir: string, opts: CutOptions = {}): Promise<CutChunk[]> {
  opts = { ...opts, inputFormat: opts.inputFormat ?? info.container, sourceS: opts.sourceS ?? info.durationS, sourceVideo: opts.sourceVideo ?? info.video };
  return withTempDir(
    'cut',
    async (dir) => {
      const first = plan.chunks[0];
      const last = plan.chunks[plan.chunks.length - 1];
      const whole = first.startS <= 0 && last.endS >= info.durationS - 1e-3;
      const keyframesS = plan.encode.kind === 'video' ? plan.chunks.flatMap((c) => [c.startS, c.endS]) : undefined;
      const enc = await encodeWhole(file, plan.encode, dir, { ...opts, ...(!whole && { range: { startS: first.startS, endS: last.endS } }), keyframesS });
      let pieces = await splitEncoded(enc, plan.chunks, dir, opts);
      pieces = await enforceLimits(file, enc, plan, pieces, dir, opts);
      return deliver(pieces, plan.encode.format, outDir);
    },
    { base: opts.tmpDir },
  );
}
