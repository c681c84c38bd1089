import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { probeMedia } from '../../src/media/probe.ts';
import type { MediaInfo } from '../../src/media/types.ts';
import { OmniError } from '../../src/util/errors.ts';
import { early, limiter } from '../helpers/limit.ts';
import { type CorpusFile, corpus } from '../helpers/paths.ts';

type Verdict = { ok: number; within?: number; source?: 'header' | 'measured'; check?: (i: MediaInfo) => void } | { error: string };

/**
 * One row per file of ../shared/media (checked when it sits beside the checkout): the decodable duration from SOURCES.md (its "(decoded)" column), or the
 * error code. `source` pins whether the header was trusted (the cheap path) or the duration had to be measured.
 */
const EXPECTED: Record<string, Verdict> = {
  'whisper__jfk.flac': { ok: 11.0, source: 'header' },
  'chatterbox__linda_johnson_02.mp3': { ok: 71.66, source: 'header' },
  'wenet__librispeech-1995-1837-0001.wav': { ok: 8.73, source: 'header' },
  'fasterwhisper__stereo_diarization.wav': { ok: 5.0, source: 'header', check: (i) => expect(i.audio[0].channels).toBe(2) },
  'fp__c_8kmp316.wav': { ok: 13.68, source: 'measured', check: (i) => expect(i.audio[0].codec).toBe('mp3') },
  'funasr__0.wav': { ok: 70.47, source: 'header' },
  'funasr__VAD_30s_mono.wav': { ok: 30.82, source: 'header' },
  'wenet__aishell-BAC009S0724W0121.wav': { ok: 4.28, source: 'header' },
  'funasr__asr_example.mp3': { ok: 5.54 },
  'funasr__sample.wav': { ok: 6.0, source: 'header' },
  'fasterwhisper__multilingual.mp3': { ok: 59.9 },
  'sb__common_voice_fr_17299458.wav': { ok: 3.62, source: 'header' },
  'pydub__bach.ogg': { ok: 3.05, check: (i) => expect(i.audio[0].codec).toBe('flac') },
  // The header says 4.8 s; laced ALAC frames carry no timestamps, so it is measured: 5.79 s decode.
  'mm__alac-in-matroska-short.mka': { ok: 5.79, source: 'measured', check: (i) => expect(i.audio[0].sampleRate).toBe(41_000) },
  'fp__gs-16b-2c-44100hz.aac': { ok: 15.85, source: 'measured' },
  'pydub__test-192khz-32bit.flac': { ok: 6.95, check: (i) => expect(i.audio[0].sampleRate).toBe(192_000) },
  'fp__c_39064__alienbomb__atmo-truck.wav': { ok: 3.69, source: 'header' },
  'pra__running_tap.wav': { ok: 61.15, source: 'header' },
  'mm__silence-2s-16000 [no-tags].CBR-128.mp3': { ok: 2.0 },
  'pydub__test1_empty.wav': { error: 'media_empty' },
  'fp__d_6_Channel_ID.wav': { ok: 5.83, source: 'header', check: (i) => expect(i.audio[0].channels).toBe(6) },
  'pydub__format_test.m4a': { ok: 9.65 },
  // AMR's header duration is a bitrate guess (36.44 s): measured.
  'mm__sample.amr': { ok: 35.3, source: 'measured', check: (i) => expect(i.audio[0].codec).toBe('amr_nb') },
  'pydub__creative_common.mp4': { ok: 2.26, check: (i) => expect(i.video[0]).toMatchObject({ codec: 'h264', width: 640, height: 480, attachedPic: false }) },
  'fp__bmff.mp4': { ok: 30.0 },
  // The Matroska cover-art attachment is listed but flagged, after the real track.
  'mm__big-buck-bunny_trailer-short.vp8.webm': {
    ok: 7.14,
    check: (i) =>
      expect(i.video.map((v) => [v.codec, v.attachedPic])).toEqual([
        ['vp8', false],
        ['mjpeg', true],
      ]),
  },
  // Header 3.4 s; the first audio track ends at 2.0 s.
  'mm__matroska-test-w1-test5-short.mkv': { ok: 2.01, source: 'measured', check: (i) => expect(i.audio).toHaveLength(2) },
  'fluentff__IMG_0034.MOV': { ok: 2.67 },
  'fp__standard.mp4': { ok: 9.36, check: (i) => expect(i.audio).toHaveLength(0) },
  'filetype__fixture.3gp': { ok: 5.57, check: (i) => expect(i.audio[0].codec).toBe('amr_nb') },
  "fluentff__te[s]t_ video ' _ .flv": { ok: 1.83, check: (i) => expect([i.audio.length, i.video.length]).toEqual([0, 1]) },
  'mm__corrupt.mkv': { error: 'media_unreadable' },
  'fp__invalid.flac': { error: 'media_unreadable' },
  // Truncated: the header claims 1132 s, 100 KiB hold 1.7 s.
  'filetype__fixture2.mkv': { ok: 1.7, source: 'measured', check: (i) => expect(i.headerDurationS).toBeCloseTo(1132.05, 1) },
  'pydub__wrong_extension.aac': { ok: 9.65, check: (i) => expect(i.container).toMatch(/mp4/) },
  // WebM from a browser: no duration at all in the header.
  'mm__no-duration.webm': { ok: 25.49, source: 'measured', check: (i) => expect(i.headerDurationS).toBeUndefined() },
};

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof OmniError ? e.code : `not an OmniError: ${String(e)}`;
  }
  return undefined;
}

/** Checks beyond the duration for the built-in files (test/helpers/media-catalog.ts), by name. */
const BUILTIN_CHECKS: Record<string, (i: MediaInfo) => void> = {
  'jfk-inaugural.flac': (i) => expect(i.audio[0]).toMatchObject({ codec: 'flac', sampleRate: 44_100, channels: 2 }),
  'mm__sample.amr': (i) => expect(i.audio[0].codec).toBe('amr_nb'),
  'filetype__fixture2.mkv': (i) => expect(i.headerDurationS).toBeCloseTo(1132.05, 1),
  'fp__c_8kmp316.wav': (i) => expect(i.audio[0].codec).toBe('mp3'),
  'mm__alac-in-matroska-short.mka': (i) => expect(i.audio[0]).toMatchObject({ codec: 'alac', sampleRate: 41_000 }),
  'video-2.27s-640x480.mp4': (i) => {
    expect(i.video[0]).toMatchObject({ codec: 'h264', width: 640, height: 480, attachedPic: false });
    expect(i.audio[0]).toMatchObject({ codec: 'aac', sampleRate: 48_000, channels: 2 });
  },
  'video-only-9.4s.mp4': (i) => expect(i.audio).toHaveLength(0),
  "te[s]t_ video ' _ no audio.flv": (i) => expect([i.audio.length, i.video.length]).toEqual([0, 1]),
  'no-duration-opus.webm': (i) => expect(i.headerDurationS).toBeUndefined(),
  'speech-6ch-48k.wav': (i) => expect(i.audio[0].channels).toBe(6),
  'speech-192k-24bit.flac': (i) => expect(i.audio[0].sampleRate).toBe(192_000),
  'flac-in-ogg.ogg': (i) => expect([i.container, i.audio[0].codec]).toEqual(['ogg', 'flac']),
  'm4a-named-as.aac': (i) => expect(i.container).toMatch(/mp4/),
  'video-h263-aac.3gp': (i) => expect(i.video[0].codec).toBe('h263'),
  'video-two-audio-subtitles-cover.mkv': (i) => {
    expect(i.audio).toHaveLength(2);
    // The Matroska cover-art attachment is listed but flagged, after the real track.
    expect(i.video.map((v) => [v.codec, v.attachedPic])).toEqual([
      ['h264', false],
      ['mjpeg', true],
    ]);
  },
  'mp3-with-cover.mp3': (i) => expect(i.video.map((v) => v.attachedPic)).toEqual([true]),
  'truncated-half.mp3': (i) => expect(i.headerDurationS).toBeGreaterThan(7.9),
};

/** What a file must probe as: the built-ins' from their catalogue truth, ../shared/media's from EXPECTED. */
function verdictOf(f: CorpusFile): Verdict | undefined {
  if (f.origin === 'shared') return EXPECTED[f.name];
  const t = f.truth!;
  if ('fails' in t) return { error: t.fails };
  return { ok: t.seconds, within: t.within, source: t.measured ? 'measured' : undefined, check: BUILTIN_CHECKS[f.name] };
}

describe('probeMedia on every built-in test file, and on ../shared/media when it is there', () => {
  const files = corpus();
  /**
   * Every file's probe (its MediaInfo, or the error it threw), started in beforeAll two at a time (two ffprobe or
   * ffmpeg children) in the tests' order; each test checks its own.
   */
  const probes = new Map<string, Promise<{ info?: MediaInfo; error?: unknown }>>();
  beforeAll(() => {
    const run = limiter(2);
    for (const f of files)
      probes.set(
        f.key,
        early(
          run(() =>
            probeMedia(f.file).then(
              (info) => ({ info }),
              (error: unknown) => ({ error }),
            ),
          ),
        ),
      );
  });

  it('has an expected verdict for every file, and covers every container family', () => {
    expect(files.filter((f) => !verdictOf(f)).map((f) => f.key)).toEqual([]);
    const exts = new Set(files.filter((f) => f.origin !== 'shared').map((f) => path.extname(f.name).toLowerCase()));
    for (const ext of ['.wav', '.mp3', '.flac', '.ogg', '.aac', '.m4a', '.mp4', '.mov', '.mkv', '.mka', '.webm', '.amr', '.3gp', '.flv'])
      expect(exts, ext).toContain(ext);
  });

  it.each(files.map((f) => [f.key, f] as const))('%s', async (_key, f) => {
    const want = verdictOf(f)!;
    const got = await probes.get(f.key)!;
    if ('error' in want) {
      expect(await codeOf(got.info ? Promise.resolve(got.info) : Promise.reject(got.error))).toBe(want.error);
      return;
    }
    if (got.error) throw got.error;
    const info = got.info!;
    // Decoded durations are ffmpeg's, to 0.01 s; headers we trust may add the codec's padding.
    expect(Math.abs(info.durationS - want.ok)).toBeLessThanOrEqual(want.within ?? Math.max(0.15, want.ok * 0.02));
    if (want.source) expect(info.durationSource).toBe(want.source);
    expect(info.sizeBytes).toBeGreaterThan(0);
    want.check?.(info);
  });
});

describe('probeMedia edge cases', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibatch-probe-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('0-byte file -> media_empty; missing file or directory -> media_unreadable', async () => {
    const empty = path.join(dir, 'empty.mp3');
    writeFileSync(empty, '');
    expect(await codeOf(probeMedia(empty))).toBe('media_empty');
    expect(await codeOf(probeMedia(path.join(dir, 'nope.wav')))).toBe('media_unreadable');
    expect(await codeOf(probeMedia(dir))).toBe('media_unreadable');
  });

  it('text that is not media -> media_unreadable, with the reason and no stack', async () => {
    const txt = path.join(dir, 'notes.mp3');
    writeFileSync(txt, 'hello, this is not audio at all\n'.repeat(50));
    const err = await probeMedia(txt).catch((e: unknown) => e as OmniError);
    expect(err).toBeInstanceOf(OmniError);
    expect((err as OmniError).code).toBe('media_unreadable');
    expect((err as OmniError).message).not.toMatch(/\n/);
  });

  it('under 0.1 s of audio -> media_too_short', async () => {
    const short = path.join(dir, 'short.wav');
    await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=440:r=16000:d=0.05', '-y', short]);
    expect(await codeOf(probeMedia(short))).toBe('media_too_short');
  });

  it('a name with quotes, brackets, spaces, a colon and unicode', async () => {
    const name = path.join(dir, `-a:b 'c' "d" [e] (f) é 音 😀.wav`);
    await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=440:r=16000:d=1.5', '-y', `file:${name}`]);
    const info = await probeMedia(name);
    expect(info.durationS).toBeCloseTo(1.5, 2);
  });
});
