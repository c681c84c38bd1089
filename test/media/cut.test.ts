/**
 * The cutter on real ffmpeg and generated media: every chunk measured on disk against the limits, durations
 * adding up to the source, cuts in the silences, offsets that are the real cut points.
 *
 * Every prepare/cut of this file (and the making of its two generated sources) is a job started in the top-level
 * beforeAll, two at a time (two ffmpeg children on the 2-core machine), in the order the tests check them; each job measures its own chunks on disk and
 * lists its own temp base, and the tests assert on what it found.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cutChunks } from '../../src/media/cut.ts';
import { ffprobeJson, runFfmpeg } from '../../src/media/ffmpeg.ts';
import { base64Chars } from '../../src/media/limits.ts';
import { planChunks } from '../../src/media/plan.ts';
import { taskPolicy } from '../../src/media/policy.ts';
import { type PreparedChunks, prepareChunks } from '../../src/media/prepare.ts';
import { probeMedia } from '../../src/media/probe.ts';
import { detectSilences } from '../../src/media/silence.ts';
import type { CutChunk, Plan, Silence } from '../../src/media/types.ts';
import { MODELS, type ModelSpec } from '../../src/models/catalog.ts';
import type { OmniError } from '../../src/util/errors.ts';
import { early, limiter } from '../helpers/limit.ts';
import { media, SHARED_MEDIA } from '../helpers/paths.ts';
import { gapsOf, noiseWithGaps, videoWithGaps } from './generate.ts';

const captioner = MODELS['qwen3-omni-30b-a3b-captioner'];
const flash = MODELS['qwen3-omni-flash'];
const turbo = MODELS['qwen-omni-turbo'];

const root = mkdtempSync(path.join(os.tmpdir(), 'omnibatch-cut-test-'));
let nTmp = 0;
/** A job's own base for its per-call temp dirs: it must be empty whenever that job's call is not running. */
const newTmpBase = (): string => {
  const dir = path.join(root, `tmp-${++nTmp}`);
  mkdirSync(dir);
  return dir;
};
// Five minutes: a dozen caption chunks, several overlapping ones and a re-plan of five into more than ten.
const LONG_S = 300;
const LONG_GAPS = { everyS: 7, lengthS: 0.6 };
const long = path.join(root, 'long.wav');
const video = path.join(root, 'video.mp4');
const VIDEO_GAPS = { everyS: 9, lengthS: 0.8 };
let n = 0;
const out = (): string => path.join(root, `out-${++n}`);

/** At most two jobs at a time; each is awaited by the test that checks it. */
const run = limiter(2);
const job = <T>(task: () => Promise<T>): Promise<T> => early(run(task));
/** A job that is to fail: its error (undefined when it did not). */
const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

async function streamsOf(file: string): Promise<{ duration: number; streams: Record<string, unknown>[] }> {
  const j = await ffprobeJson(file);
  return { duration: Number((j.format as Record<string, unknown>).duration), streams: j.streams as Record<string, unknown>[] };
}

/** One chunk file as ffprobe and the filesystem see it. */
interface OnDisk {
  duration: number;
  bytes: number;
  streams: Record<string, unknown>[];
}

/** Every chunk measured on disk, one after the other (the job calling it holds one of the two slots). */
async function measure(chunks: CutChunk[]): Promise<OnDisk[]> {
  const got: OnDisk[] = [];
  for (const c of chunks) got.push({ ...(await streamsOf(c.file)), bytes: statSync(c.file).size });
  return got;
}

/** Every chunk measured on disk: within the plan's limits, and its record true to the file. */
function expectChunksFit(chunks: CutChunk[], disk: OnDisk[], plan: Plan): void {
  expect(disk).toHaveLength(chunks.length);
  chunks.forEach((c, i) => {
    const { duration, bytes } = disk[i];
    expect(bytes).toBe(c.bytes);
    expect(c.base64Chars).toBe(base64Chars(bytes));
    expect(Math.abs(duration - c.durationS)).toBeLessThan(0.06);
    expect(duration).toBeLessThanOrEqual(plan.limits.maxSeconds);
    expect(bytes).toBeLessThanOrEqual(plan.limits.maxBytes);
    expect(base64Chars(bytes)).toBeLessThanOrEqual(plan.limits.maxBase64Chars);
  });
}

function expectContiguous(chunks: CutChunk[], sourceS: number, tol = 0.5): void {
  expect(chunks[0].startS).toBe(0);
  for (let i = 1; i < chunks.length; i++) expect(chunks[i].startS).toBeCloseTo(chunks[i - 1].endS - chunks[i].overlapS, 6);
  expect(Math.abs(chunks[chunks.length - 1].endS - sourceS)).toBeLessThan(tol);
}

/** Where the noise first resumes inside a chunk file (the end of its leading silence). */
async function firstSoundS(file: string): Promise<number> {
  const { stderr } = await runFfmpeg(['-v', 'info', '-nostats', '-i', `file:${file}`, '-af', 'silencedetect=noise=-40dB:duration=0.05', '-f', 'null', '-']);
  return Number(/silence_end: ([\d.]+)/.exec(stderr)?.[1] ?? Number.NaN);
}

/** A prepare in a temp base of its own, with every chunk measured on disk and what it left in that base. */
interface Prepared extends PreparedChunks {
  disk: OnDisk[];
  leftInTmp: string[];
}
async function prepareMeasured(file: string, model: ModelSpec, policy: ReturnType<typeof taskPolicy>): Promise<Prepared> {
  const tmpDir = newTmpBase();
  const res = await prepareChunks(file, model, policy, { outDir: out(), tmpDir });
  return { ...res, disk: await measure(res.chunks), leftInTmp: readdirSync(tmpDir) };
}

const oddCases: [string, number][] = [
  ['speech-6ch-48k.wav', 4], // 6 channels -> mono
  ['speech-192k-24bit.flac', 3], // 192 kHz -> 16 kHz
  ['mm__sample.amr', 35.3], // AMR-NB, header duration a guess
  ['video-h263-aac.3gp', 4], // 3GP: H.263 + AAC, audio task
  ['no-duration-opus.webm', 12.5], // no duration in the header
  ['filetype__fixture2.mkv', 1.7], // truncated: header says 1132 s
  ['mm__alac-in-matroska-short.mka', 5.79], // laced ALAC, 41 000 Hz, header 4.8 s
];
const sharedCases: [string, number][] = SHARED_MEDIA
  ? [
      ['fp__d_6_Channel_ID.wav', 5.83],
      ['pydub__test-192khz-32bit.flac', 6.95],
      ['filetype__fixture.3gp', 5.57], // H.263 + AMR
      ['mm__no-duration.webm', 25.49],
    ]
  : [];
const oddFile = (name: string): string => (sharedCases.some(([n]) => n === name) ? path.join(SHARED_MEDIA!, name) : media(name));

/** Every temp base a job used: all must be empty once the jobs are done. */
const tmpBases = (): string[] =>
  readdirSync(root)
    .filter((d) => d.startsWith('tmp-'))
    .map((d) => path.join(root, d));

// The jobs, in the order their tests come (started in beforeAll, once the generated sources exist).
let caption: Promise<Prepared & { soundAt: Map<number, number> }>;
let steady: Promise<Prepared>;
let overlap: Promise<Prepared>;
let replan: Promise<{ silences: Silence[]; plan: Plan; tight: Plan; chunks: CutChunk[]; disk: OnDisk[]; leftInTmp: string[] }>;
let broken: Promise<{ err: unknown; leftInTmp: string[] }>;
let hostileNames: Promise<{ chunks: CutChunk[]; delivered: string[] }>;
let videoFlash: Promise<Prepared>;
let videoTurbo: Promise<Prepared>;
let videoAudio: Promise<Prepared>;
const odd = new Map<string, Promise<{ chunks: CutChunk[]; first: OnDisk }>>();
let silenceOnly: Promise<Prepared>;
let noAudio: Promise<{ err: unknown; streams: Record<string, unknown>[] }>;
let corrupt: Promise<{ codes: unknown[]; leftInTmp: string[] }>;

beforeAll(() => {
  // The two generated sources are the first jobs; a job that reads one waits for it (already running).
  const longMade = job(() => noiseWithGaps(long, { seconds: LONG_S, rate: 22_050, channels: 2, gaps: LONG_GAPS }));
  const videoMade = job(() => videoWithGaps(video, { seconds: 200, gaps: VIDEO_GAPS }));
  const onLong = <T>(task: () => Promise<T>): Promise<T> => job(() => longMade.then(task));
  const onVideo = <T>(task: () => Promise<T>): Promise<T> => job(() => videoMade.then(task));

  caption = onLong(async () => {
    const res = await prepareMeasured(long, captioner, taskPolicy('caption', captioner));
    const soundAt = new Map<number, number>();
    for (const i of [1, 7, res.chunks.length - 1]) soundAt.set(i, await firstSoundS(res.chunks[i].file));
    return { ...res, soundAt };
  });
  steady = job(async () => {
    const f = path.join(root, 'steady.wav');
    await noiseWithGaps(f, { seconds: 130 });
    return prepareMeasured(f, captioner, taskPolicy('caption', captioner));
  });
  overlap = onLong(() => prepareMeasured(long, flash, taskPolicy('transcribe', flash, { chunkSeconds: 100, overlapSeconds: 2 })));
  replan = onLong(async () => {
    const tmpDir = newTmpBase();
    const info = await probeMedia(long);
    const silences = await detectSilences(long, { durationS: info.durationS });
    const plan = planChunks(info, captioner, taskPolicy('caption', captioner, { chunkSeconds: 60 }), silences);
    // As if the encoder overshot its estimate: chunks of ~60 s at 64 kbps are ~480 KB; allow 200 KB.
    const tight: Plan = { ...plan, limits: { ...plan.limits, maxBytes: 200_000 } };
    const chunks = await cutChunks(long, info, tight, out(), { tmpDir, silences, model: captioner });
    return { silences, plan, tight, chunks, disk: await measure(chunks), leftInTmp: readdirSync(tmpDir) };
  });
  broken = onLong(async () => {
    const tmpDir = newTmpBase();
    const info = await probeMedia(long);
    const plan = planChunks(info, captioner, taskPolicy('caption', captioner));
    const bad: Plan = { ...plan, encode: { ...plan.encode, audioStream: 7 } };
    const err = await failure(cutChunks(long, info, bad, out(), { tmpDir }));
    return { err, leftInTmp: readdirSync(tmpDir) };
  });
  hostileNames = job(async () => {
    const dir = path.join(root, `in 'q' "dq" [b] %d é 音`);
    mkdirSync(dir);
    const f = path.join(dir, `-x:y 'a' [1] (2) 😀 %03d.wav`);
    await noiseWithGaps(path.join(root, 'plain.wav'), { seconds: 70, gaps: { everyS: 6, lengthS: 0.5 } });
    copyFileSync(path.join(root, 'plain.wav'), f);
    const dest = path.join(root, `out %05d 'x' [y]`);
    const { chunks } = await prepareChunks(f, captioner, taskPolicy('caption', captioner), { outDir: dest, tmpDir: newTmpBase() });
    return { chunks, delivered: readdirSync(dest).sort() };
  });
  videoFlash = onVideo(() => prepareMeasured(video, flash, taskPolicy('describe', flash)));
  videoTurbo = onVideo(() => prepareMeasured(video, turbo, taskPolicy('moderate', turbo)));
  videoAudio = onVideo(() => prepareMeasured(video, flash, taskPolicy('transcribe', flash)));
  for (const [name] of [...oddCases, ...sharedCases]) {
    odd.set(
      name,
      job(async () => {
        const { chunks } = await prepareChunks(oddFile(name), captioner, taskPolicy('caption', captioner), { outDir: out(), tmpDir: newTmpBase() });
        return { chunks, first: { ...(await streamsOf(chunks[0].file)), bytes: statSync(chunks[0].file).size } };
      }),
    );
  }
  silenceOnly = job(() => prepareMeasured(media('mm__silence-2s-16000 [no-tags].CBR-128.mp3'), flash, taskPolicy('transcribe', flash)));
  noAudio = job(async () => {
    const flv = media("fluentff__te[s]t_ video ' _ .flv");
    const err = await failure(prepareChunks(flv, captioner, taskPolicy('caption', captioner), { outDir: out(), tmpDir: newTmpBase() }));
    const { chunks } = await prepareChunks(flv, flash, taskPolicy('describe', flash), { outDir: out(), tmpDir: newTmpBase() });
    return { err, streams: (await streamsOf(chunks[0].file)).streams };
  });
  corrupt = job(async () => {
    const tmpDir = newTmpBase();
    const codes: unknown[] = [];
    for (const name of ['mm__corrupt.mkv', 'pydub__test1_empty.wav'])
      codes.push(((await failure(prepareChunks(media(name), captioner, taskPolicy('caption', captioner), { outDir: out(), tmpDir }))) as OmniError)?.code);
    return { codes, leftInTmp: readdirSync(tmpDir) };
  });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('audio: captioner chunks of five minutes of gapped stereo noise', () => {
  it('writes mono 16 kHz mp3 chunks within every limit, measured on disk', async () => {
    const { plan, chunks, disk } = await caption;
    expect(plan.encode).toMatchObject({ format: 'mp3', sampleRate: 16_000, channels: 1, audioBitrateKbps: 64 });
    // 300 s in chunks of at most 35.2 s and, cut in the gaps near each 30-s target, at least 25 s.
    expect(chunks.length).toBeGreaterThanOrEqual(9);
    expect(chunks.length).toBeLessThanOrEqual(12);
    expectChunksFit(chunks, disk, plan);
    expect(disk[3].streams[0]).toMatchObject({ codec_name: 'mp3', sample_rate: '16000', channels: 1 });
    for (const c of chunks.slice(0, -1)) expect(c.durationS).toBeLessThanOrEqual(35.2);
  });

  it('chunk durations add up to the source duration (no overlap)', async () => {
    const { chunks } = await caption;
    const sum = chunks.reduce((a, c) => a + c.durationS, 0);
    expect(Math.abs(sum - LONG_S)).toBeLessThan(0.5);
    expectContiguous(chunks, LONG_S);
  });

  it('cuts inside the silences near each target', async () => {
    const gaps = gapsOf(LONG_S, LONG_GAPS);
    for (const c of (await caption).chunks.slice(1)) {
      // One mp3 frame (36 ms) of slack: a copy-cut lands on a frame boundary.
      expect(gaps.some((g) => c.startS > g.startS - 0.04 && c.startS < g.endS + 0.04)).toBe(true);
    }
  });

  it('offsets are the real cut points: sound resumes in each chunk where the source says', async () => {
    const { chunks, soundAt } = await caption;
    expect([...soundAt.keys()]).toEqual([1, 7, chunks.length - 1]);
    for (const [i, t] of soundAt) {
      const c = chunks[i];
      const gap = gapsOf(LONG_S, LONG_GAPS).find((g) => c.startS >= g.startS - 0.04 && c.startS <= g.endS + 0.04)!;
      expect(Math.abs(c.startS + t - gap.endS)).toBeLessThan(0.06);
    }
  });

  it('leaves no temp directory behind', async () => {
    expect((await caption).leftInTmp).toEqual([]);
  });
});

describe('audio: placement, overlap and re-planning', () => {
  it('falls back to the targets when there is no silence to cut in', async () => {
    const { chunks, plan } = await steady;
    expect(plan.notes.join(' ')).toMatch(/4 of 4 cuts found no silence/);
    const starts = chunks.map((c) => c.startS);
    for (const [i, want] of [0, 30, 60, 90, 120].entries()) expect(Math.abs(starts[i] - want)).toBeLessThan(0.04);
    expect(chunks).toHaveLength(5);
  });

  it('overlapping transcript chunks repeat the asked seconds and cover the source', async () => {
    const { chunks, plan, disk } = await overlap;
    // 300 s in chunks of about 100 s, each after the first repeating the 2 s before it: three or more.
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expectChunksFit(chunks, disk, plan);
    for (const c of chunks.slice(1)) expect(Math.abs(c.overlapS - 2)).toBeLessThan(0.04);
    for (const c of chunks.slice(1)) expect(Math.abs(c.durationS - (c.endS - c.startS))).toBeLessThan(0.001);
    expectContiguous(chunks, LONG_S);
    const fresh = chunks.reduce((a, c) => a + c.durationS - c.overlapS, 0);
    expect(Math.abs(fresh - LONG_S)).toBeLessThan(0.5);
  });

  it('detectSilences finds the generated gaps; cutChunks re-plans chunks measured over a limit', async () => {
    const { silences, plan, tight, chunks, disk, leftInTmp } = await replan;
    const gaps = gapsOf(LONG_S, LONG_GAPS);
    expect(silences).toHaveLength(gaps.length);
    silences.forEach((s, i) => {
      expect(Math.abs(s.startS - gaps[i].startS)).toBeLessThan(0.03);
      expect(Math.abs(s.endS - gaps[i].endS)).toBeLessThan(0.03);
    });
    expect(chunks.length).toBeGreaterThan(plan.chunks.length * 2);
    expectChunksFit(chunks, disk, tight);
    expectContiguous(chunks, LONG_S);
    expect(Math.abs(chunks.reduce((a, c) => a + c.durationS, 0) - LONG_S)).toBeLessThan(0.5);
    expect(leftInTmp).toEqual([]);
  });

  it('removes its temp directory when ffmpeg fails', async () => {
    const { err, leftInTmp } = await broken;
    expect((err as OmniError).code).toBe('ffmpeg_failed');
    expect(leftInTmp).toEqual([]);
  });

  it('works with hostile file and directory names (quotes, brackets, %d, colon, unicode)', async () => {
    const { chunks, delivered } = await hostileNames;
    expect(chunks.length).toBe(3);
    expect(delivered).toEqual(['chunk-0000.mp3', 'chunk-0001.mp3', 'chunk-0002.mp3']);
    expectContiguous(chunks, 70);
  });
});

describe('video: a 200-second clip', () => {
  it('qwen3-omni-flash: chunks <= 150 s, 2 fps, <= 640 px, small, cut in a silence', async () => {
    const { plan, chunks, disk } = await videoFlash;
    expect(plan.mode).toBe('video');
    expect(chunks).toHaveLength(2);
    expectChunksFit(chunks, disk, plan);
    chunks.forEach((c, i) => {
      expect(c.durationS).toBeLessThanOrEqual(150);
      expect(c.bytes).toBeLessThan(3 * 1024 * 1024);
      const { streams } = disk[i];
      expect(streams.map((s) => s.codec_name)).toEqual(['h264', 'aac']);
      expect(streams[0]).toMatchObject({ width: 320, height: 240, avg_frame_rate: '2/1' });
      expect(streams[1]).toMatchObject({ channels: 1, sample_rate: '16000' });
    });
    const cut = chunks[1].startS;
    // Video cuts land on a frame (every 0.5 s at 2 fps) in or right next to a gap.
    expect(gapsOf(200, VIDEO_GAPS).some((g) => cut >= g.startS - 0.5 && cut <= g.endS + 0.5)).toBe(true);
    expect(Math.abs(cut - 120)).toBeLessThanOrEqual(10.5);
    expect(Math.abs(chunks.reduce((a, c) => a + c.durationS, 0) - 200)).toBeLessThan(0.6);
    expectContiguous(chunks, 200, 0.6);
  });

  it('qwen-omni-turbo: chunks <= 40 s', async () => {
    const { plan, chunks, disk } = await videoTurbo;
    expect(plan.mode).toBe('video');
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    expectChunksFit(chunks, disk, plan);
    for (const c of chunks) expect(c.durationS).toBeLessThanOrEqual(40);
    expectContiguous(chunks, 200, 0.6);
  });

  it('an audio task on a video takes the audio track only', async () => {
    const { plan, chunks, disk, leftInTmp } = await videoAudio;
    expect(plan.mode).toBe('audio');
    expect(chunks).toHaveLength(1);
    expect(disk[0].streams.map((s) => s.codec_type)).toEqual(['audio']);
    expect(leftInTmp).toEqual([]);
  });
});

describe("odd files (built-in, and ../shared/media's originals when it is there)", () => {
  it.each([...oddCases, ...sharedCases])('%s -> mono 16 kHz mp3 covering %f s', async (name, seconds) => {
    const { chunks, first } = await odd.get(name)!;
    const total = chunks.reduce((a, c) => a + c.durationS, 0);
    expect(Math.abs(total - seconds)).toBeLessThan(Math.max(0.2, seconds * 0.02));
    expect(first.streams[0]).toMatchObject({ codec_name: 'mp3', sample_rate: '16000', channels: 1 });
  });

  it('a silence-only file is planned and cut like any audio (the model decides what it hears)', async () => {
    const { chunks, plan, disk } = await silenceOnly;
    expect(plan.mode).toBe('audio');
    expect(chunks).toHaveLength(1);
    expect(Math.abs(chunks[0].durationS - 2.0)).toBeLessThan(0.15);
    expect(disk[0].streams[0].codec_type).toBe('audio');
  });

  it('a video without audio: media_no_audio for an audio task, picture only for a video task', async () => {
    const { err, streams } = await noAudio;
    expect((err as OmniError).code).toBe('media_no_audio');
    expect(streams.map((s) => s.codec_name)).toEqual(['h264']);
  });

  it('corrupt and empty files fail with their codes', async () => {
    const { codes, leftInTmp } = await corrupt;
    expect(codes).toEqual(['media_unreadable', 'media_empty']);
    expect(leftInTmp).toEqual([]);
  });

  it('every job is done and left nothing in its temp base', async () => {
    await Promise.allSettled([
      caption,
      steady,
      overlap,
      replan,
      broken,
      hostileNames,
      videoFlash,
      videoTurbo,
      videoAudio,
      ...odd.values(),
      silenceOnly,
      noAudio,
      corrupt,
    ]);
    const bases = tmpBases();
    expect(bases.length).toBeGreaterThan(10);
    for (const b of bases) expect(readdirSync(b), b).toEqual([]);
  });
});
