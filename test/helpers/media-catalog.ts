/**
 * The test media every clone has, with what is known of each file: real recordings already in the repository
 * (demo/media), a few real-world oddities vendored in test/fixtures/media (see its SOURCES.md), and files made
 * at test time with ffmpeg and espeak-ng into a cache under the OS temp dir (made once, reused by every worker).
 * ../shared/media, the team's larger corpus, is not needed here: test/helpers/paths.ts adds it as an extra.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateFfmpeg } from '../../src/media/ffmpeg.ts';

const HERE = fileURLToPath(import.meta.url);
const REPO_ROOT = path.resolve(path.dirname(HERE), '../..');
export const VENDORED_MEDIA = path.join(REPO_ROOT, 'test/fixtures/media');
const DEMO_MEDIA = path.join(REPO_ROOT, 'demo/media');
/**
 * Keyed by this file's text (editing a recipe makes a fresh cache, never a stale file) and by the ffmpeg that
 * makes the fixtures: the same recipe through another build makes another
 * file (the npm-shipped ffmpeg 4's AAC padding made the 2.27-s clip 2.29 s, and a cache it filled outlived the
 * system ffmpeg installed after it).
 */
const FFMPEG_BUILD = `${locateFfmpeg().ffmpeg}\n${spawnSync(locateFfmpeg().ffmpeg, ['-version'], { encoding: 'utf8', timeout: 10_000 }).stdout?.split('\n')[0] ?? ''}`;
export const GENERATED_MEDIA = path.join(
  os.tmpdir(),
  `omnibatch-test-media-${createHash('sha256').update(readFileSync(HERE)).update(FFMPEG_BUILD).digest('hex').slice(0, 12)}`,
);

export type Truth =
  /**
   * decodable seconds (what ffmpeg decodes), to max(0.15 s, 2 %) unless `within` says otherwise; `measured`: the
   * header cannot be trusted for it, so the probe must decode
   */
  | { seconds: number; measured?: boolean; within?: number }
  /** no reader can use it: the code every probe must fail with */
  | { fails: 'media_unreadable' | 'media_empty' };

export interface Fixture {
  name: string;
  origin: 'demo' | 'vendored' | 'generated';
  covers: string;
  truth: Truth;
  /** a video without sound: an audio task fails it with media_no_audio */
  noAudio?: true;
  /** the ../shared/media files this one stands in for in media(name): same container, codecs and the properties tests assert */
  standsFor?: string[];
  /** makes the file at `out` (generated ones only) */
  make?: (out: string, work: string) => void;
}

const FFMPEG_DEADLINE_MS = 120_000;

function ff(args: string[]): void {
  const r = spawnSync(locateFfmpeg().ffmpeg, ['-v', 'error', '-nostdin', ...args], { timeout: FFMPEG_DEADLINE_MS, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`test media: ffmpeg ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`);
}

const TEXT: Record<string, string> = {
  en:
    'The quick brown fox jumps over the lazy dog. Seven engineers measure every token they send to a distant model. ' +
    'Nothing drifts across a million requests on a quiet night in the archive.',
  fr: "Le vent du nord souffle sur la ville. Les enfants rentrent de l'école et la boulangerie ferme ses portes.",
};

/**
 * ffmpeg input args for speech: espeak-ng's voice looped (its sentence pauses give the cutter silences), or,
 * where espeak-ng is not installed, pink noise gated into pauses, which the pipeline treats the same way.
 */
function speech(work: string, lang: 'en' | 'fr'): string[] {
  const wav = path.join(work, `espeak-${lang}.wav`);
  if (!existsSync(wav)) {
    const tmp = path.join(work, `.${process.pid}-${randomBytes(4).toString('hex')}.wav`);
    const r = spawnSync('espeak-ng', ['-v', lang, '-s', '165', '-w', tmp, TEXT[lang]], { timeout: 60_000, stdio: 'ignore' });
    if (r.status === 0) renameSync(tmp, wav);
    else {
      rmSync(tmp, { force: true });
      return ['-f', 'lavfi', '-i', "anoisesrc=r=22050:a=0.3:c=pink,volume='if(lt(mod(t,3.1),0.5),0,1)':eval=frame"];
    }
  }
  return ['-stream_loop', '-1', '-i', `file:${wav}`];
}

const audio = (seconds: number, rate: number, channels: number, codec: string[]): string[] => [
  '-t',
  String(seconds),
  '-ar',
  String(rate),
  '-ac',
  String(channels),
  ...codec,
];
const testsrc = (size: string, fps: number, seconds: number): string[] => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}:duration=${seconds}`];
const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '30', '-pix_fmt', 'yuv420p'];
const out = (f: string): string[] => ['-y', `file:${f}`];

/** A 44-byte PCM WAV header over `dataBytes` of 16 kHz mono 16-bit data (which may not all be there). */
function wavHeader(dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(16_000, 24);
  h.writeUInt32LE(32_000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

const demo = (name: string, seconds: number, standsFor: string, covers: string): Fixture => ({
  name,
  origin: 'demo',
  covers,
  truth: { seconds },
  standsFor: [standsFor],
});
const vendored = (name: string, truth: Truth, covers: string): Fixture => ({ name, origin: 'vendored', covers, truth, standsFor: [name] });

/** What a generated row may add: its truth when not simply its length, the ../shared names it stands for, no audio. */
type Extra = Partial<Pick<Fixture, 'truth' | 'standsFor' | 'noAudio'>>;
const generated = (name: string, covers: string, seconds: number, make: Fixture['make'], extra: Extra = {}): Fixture => ({
  name,
  origin: 'generated',
  covers,
  truth: { seconds },
  ...extra,
  make,
});

const PCM = ['-c:a', 'pcm_s16le'];
/** Speech (speech()) cut to `seconds` at `rate` Hz and `channels`, then `codec`: the audio codec's args and any muxer's. */
const spoken = (name: string, covers: string, [seconds, rate, channels]: number[], codec: string[], extra: Extra & { lang?: 'en' | 'fr' } = {}): Fixture => {
  const { lang = 'en', ...rest } = extra;
  return generated(name, covers, seconds, (f, w) => ff([...speech(w, lang), ...audio(seconds, rate, channels, codec), ...out(f)]), rest);
};
/** A test pattern of `size` at `fps` with speech, cut to `seconds`, then `codecs`: the video and audio codecs' args and any muxer's. */
const talking = (name: string, covers: string, [size, fps, seconds]: [string, number, number], codecs: string[], extra: Extra = {}): Fixture =>
  generated(
    name,
    covers,
    seconds,
    (f, w) => ff([...testsrc(size, fps, seconds), ...speech(w, 'en'), '-map', '0:v', '-map', '1:a', '-t', String(seconds), ...codecs, ...out(f)]),
    extra,
  );
/** A 320x240 test pattern at 25 fps in H.264 with no audio stream, then any muxer's args. */
const silentVideo = (name: string, covers: string, seconds: number, muxer: string[], extra: Extra = {}): Fixture =>
  generated(name, covers, seconds, (f) => ff([...testsrc('320x240', 25, seconds), ...H264, ...muxer, ...out(f)]), { noAudio: true, ...extra });

export const FIXTURES: readonly Fixture[] = [
  demo('jfk-inaugural.flac', 11.0, 'whisper__jfk.flac', 'speech-en, FLAC 44.1 kHz stereo (real recording)'),
  demo('librispeech-1995-1837-0001.wav', 8.73, 'wenet__librispeech-1995-1837-0001.wav', 'speech-en, WAV 16 kHz (real recording)'),
  demo('aishell-BAC009S0724W0121.wav', 4.28, 'wenet__aishell-BAC009S0724W0121.wav', 'speech-zh, WAV 16 kHz (real recording)'),

  vendored('mm__sample.amr', { seconds: 35.3, measured: true }, 'AMR-NB (no encoder in ffmpeg builds): header duration a bitrate guess'),
  vendored('mm__corrupt.mkv', { fails: 'media_unreadable' }, 'crafted broken EBML header (CVE-2022-36313 sample)'),
  vendored('filetype__fixture2.mkv', { seconds: 1.7, measured: true }, 'truncated download: header claims 1132 s, 100 KiB hold 1.7 s'),
  vendored('fp__c_8kmp316.wav', { seconds: 13.68, measured: true }, 'MP3 inside a WAV (RIFF) container, 8 kHz'),
  vendored('mm__alac-in-matroska-short.mka', { seconds: 5.79, measured: true }, 'laced ALAC in Matroska at 41 000 Hz: header 4.8 s, decodes 5.79 s'),

  // Stand-ins for ../shared/media files: spoken audio [seconds, Hz, channels] and videos [size, fps, seconds].
  spoken('speech-en-6s-16k.wav', 'speech, WAV 16 kHz mono', [6, 16_000, 1], PCM, { standsFor: ['funasr__sample.wav'] }),
  spoken('speech-en-70.47s-16k.wav', 'speech over two minutes of chunks, WAV 16 kHz', [70.47, 16_000, 1], PCM, { standsFor: ['funasr__0.wav'] }),
  spoken('speech-fr-3.62s-16k.wav', 'speech-fr, WAV 16 kHz', [3.62, 16_000, 1], PCM, { lang: 'fr', standsFor: ['sb__common_voice_fr_17299458.wav'] }),
  spoken('speech-en-71.7s-32k.mp3', 'speech, 72 s mp3 32 kHz mono (three caption chunks)', [71.7, 32_000, 1], ['-c:a', 'libmp3lame', '-b:a', '48k'], {
    standsFor: ['chatterbox__linda_johnson_02.mp3'],
  }),
  generated(
    'near-silence-2s [no-tags].CBR-128.mp3',
    'near-silence (-48 dBFS), CBR mp3 without tags, spaces and brackets in the name',
    2.0,
    (f) =>
      ff([
        ...['-f', 'lavfi', '-i', 'anoisesrc=r=16000:a=0.004:c=white:d=2'],
        ...audio(2, 16_000, 2, ['-c:a', 'libmp3lame', '-b:a', '128k']),
        ...['-id3v2_version', '0', '-write_id3v1', '0', '-map_metadata', '-1'],
        ...out(f),
      ]),
    { standsFor: ['mm__silence-2s-16000 [no-tags].CBR-128.mp3'] },
  ),
  generated('header-only.wav', 'a 44-byte WAV: header, no samples', 0, (f) => writeFileSync(f, wavHeader(0)), {
    truth: { fails: 'media_empty' },
    standsFor: ['pydub__test1_empty.wav'],
  }),
  generated('magic-only.flac', 'five bytes: the FLAC magic and a newline', 0, (f) => writeFileSync(f, 'fLaC\n'), {
    truth: { fails: 'media_unreadable' },
    standsFor: ['fp__invalid.flac'],
  }),
  talking(
    'video-2.27s-640x480.mp4',
    'mp4 h264 640x480 + AAC 48 kHz stereo, 2.27 s',
    ['640x480', 30, 2.27],
    [...H264, '-ar', '48000', '-ac', '2', '-c:a', 'aac', '-b:a', '96k'],
    {
      standsFor: ['pydub__creative_common.mp4'],
    },
  ),
  talking(
    'video-30s-160x90.mp4',
    'mp4 h264 160x90 + AAC 22.05 kHz stereo, 30 s',
    ['160x90', 15, 30],
    [...H264, '-ar', '22050', '-ac', '2', '-c:a', 'aac', '-b:a', '48k'],
    {
      standsFor: ['fp__bmff.mp4'],
    },
  ),
  silentVideo('video-only-9.4s.mp4', 'mp4 h264 with no audio stream', 9.4, [], { standsFor: ['fp__standard.mp4'] }),
  silentVideo("te[s]t_ video ' _ no audio.flv", 'flv h264 without audio; brackets, quote and spaces in the name', 1.8, ['-f', 'flv'], {
    standsFor: ["fluentff__te[s]t_ video ' _ .flv"],
  }),
  spoken(
    'no-duration-opus.webm',
    'WebM/Opus written live: no duration in the header (as browsers record)',
    [12.5, 48_000, 1],
    ['-c:a', 'libopus', '-b:a', '32k', '-live', '1', '-f', 'webm'],
    {
      truth: { seconds: 12.5, measured: true },
      standsFor: ['mm__no-duration.webm'],
    },
  ),

  // Breadth: every container and codec family the pipeline claims to take, and lying headers.
  generated('tone-stereo-44k.wav', 'tone, WAV 44.1 kHz stereo', 5, (f) =>
    ff(['-f', 'lavfi', '-i', 'sine=f=440:r=44100:d=5', ...audio(5, 44_100, 2, PCM), ...out(f)]),
  ),
  spoken('speech-6ch-48k.wav', 'six-channel (5.1) PCM WAV, 48 kHz', [4, 48_000, 6], PCM),
  spoken('speech-192k-24bit.flac', 'FLAC 192 kHz / 24-bit stereo', [3, 192_000, 2], ['-c:a', 'flac', '-sample_fmt', 's32']),
  spoken('flac-in-ogg.ogg', 'FLAC in Ogg (unusual pair)', [3.5, 44_100, 1], ['-c:a', 'flac', '-f', 'ogg']),
  spoken('speech-vorbis.ogg', 'Vorbis in Ogg', [4, 44_100, 2], ['-c:a', 'libvorbis', '-q:a', '2']),
  spoken('speech-adts.aac', 'raw ADTS AAC, no container (duration only by decoding)', [8, 44_100, 2], ['-c:a', 'aac', '-b:a', '96k', '-f', 'adts'], {
    truth: { seconds: 8, measured: true },
  }),
  spoken('speech-aac.m4a', 'm4a / AAC 44.1 kHz mono', [6, 44_100, 1], ['-c:a', 'aac', '-b:a', '64k']),
  spoken('m4a-named-as.aac', 'wrong extension: an MP4/M4A container named .aac', [5, 44_100, 1], ['-c:a', 'aac', '-b:a', '64k', '-f', 'ipod']),
  talking('video-h264-aac.mov', 'QuickTime mov, h264 + AAC', ['320x240', 25, 3], [...H264, '-ar', '44100', '-c:a', 'aac']),
  talking('video-h263-aac.3gp', '3GP phone clip, H.263 + AAC', ['176x144', 15, 4], ['-c:v', 'h263', '-ar', '16000', '-ac', '1', '-c:a', 'aac', '-b:a', '24k']),
  talking('video-h264-aac.flv', 'flv h264 + AAC', ['320x240', 25, 3], [...H264, '-ar', '44100', '-c:a', 'aac']),
  talking(
    'video-vp8-vorbis.webm',
    'WebM VP8 + Vorbis',
    ['320x240', 15, 3],
    [...['-c:v', 'libvpx', '-b:v', '200k', '-deadline', 'realtime'], ...['-ar', '44100', '-ac', '1', '-c:a', 'libvorbis'], ...['-f', 'webm']],
  ),
  {
    name: 'video-two-audio-subtitles-cover.mkv',
    origin: 'generated',
    truth: { seconds: 3 },
    covers: 'Matroska h264 + two AAC tracks (48 kHz stereo, 22.05 kHz mono) + SubRip + a cover-art attachment (listed as an attached picture)',
    make: (f, w) => {
      const srt = path.join(w, `.${process.pid}-subs.srt`);
      const jpg = path.join(w, `.${process.pid}-cover.jpg`);
      writeFileSync(srt, '1\n00:00:00,500 --> 00:00:02,000\nHello.\n');
      ff(['-f', 'lavfi', '-i', 'color=red:size=64x64:d=1', '-frames:v', '1', ...out(jpg)]);
      ff([
        ...testsrc('320x240', 25, 3),
        ...speech(w, 'en'),
        '-f',
        'lavfi',
        '-i',
        'sine=f=300:r=22050:d=3',
        '-i',
        `file:${srt}`,
        '-map',
        '0:v',
        '-map',
        '1:a',
        '-map',
        '2:a',
        '-map',
        '3:s',
        '-t',
        '3',
        ...H264,
        '-c:a',
        'aac',
        '-ar:a:0',
        '48000',
        '-ac:a:0',
        '2',
        '-c:s',
        'srt',
        '-attach',
        jpg,
        '-metadata:s:t',
        'mimetype=image/jpeg',
        '-metadata:s:t',
        'filename=cover.jpg',
        ...out(f),
      ]);
      rmSync(srt, { force: true });
      rmSync(jpg, { force: true });
    },
  },
  {
    name: 'mp3-with-cover.mp3',
    origin: 'generated',
    covers: 'mp3 with a PNG cover picture and ID3 tags',
    truth: { seconds: 3 },
    make: (f, w) =>
      ff([
        ...speech(w, 'en'),
        '-f',
        'lavfi',
        '-i',
        'color=blue:size=64x64:d=1',
        '-map',
        '0:a',
        '-map',
        '1:v',
        '-t',
        '3',
        '-ar',
        '22050',
        '-ac',
        '1',
        '-c:a',
        'libmp3lame',
        '-c:v',
        'png',
        '-frames:v',
        '1',
        '-disposition:v',
        'attached_pic',
        '-metadata',
        'title=cover test',
        ...out(f),
      ]),
  },
  {
    name: 'truncated-half.mp3',
    origin: 'generated',
    covers: 'lying header: a VBR mp3 whose Xing header counts 8 s, cut after half its bytes',
    truth: { seconds: 4, measured: true, within: 0.5 },
    make: (f, w) => {
      ff([...speech(w, 'en'), ...audio(8, 22_050, 1, ['-c:a', 'libmp3lame', '-q:a', '5']), ...out(f)]);
      const bytes = readFileSync(f).length;
      truncateSync(f, Math.floor(bytes / 2));
    },
  },
  {
    name: 'truncated-header-6s.wav',
    origin: 'generated',
    covers: 'lying header: a WAV whose header says 6 s over 2 s of samples',
    truth: { seconds: 2 },
    make: (f, w) => {
      ff([...speech(w, 'en'), ...audio(2, 16_000, 1, ['-c:a', 'pcm_s16le']), '-f', 's16le', ...out(f)]);
      writeFileSync(f, Buffer.concat([wavHeader(6 * 32_000), readFileSync(f)]));
    },
  },
];

function locate(f: Fixture): string {
  if (f.origin === 'demo') return path.join(DEMO_MEDIA, f.name);
  if (f.origin === 'vendored') return path.join(VENDORED_MEDIA, f.name);
  return path.join(GENERATED_MEDIA, f.name);
}

/**
 * The fixture's path, making it first if it is a generated one not yet in the cache. Synchronous, so tests may
 * name media at module level; a file appears only by rename, so parallel workers never see half of one.
 */
export function ensureFixture(f: Fixture): string {
  const file = locate(f);
  if (existsSync(file) || !f.make) return file;
  mkdirSync(GENERATED_MEDIA, { recursive: true });
  const tmp = path.join(GENERATED_MEDIA, `.${process.pid}-${randomBytes(4).toString('hex')}-${f.name}`);
  try {
    f.make(tmp, GENERATED_MEDIA);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  return file;
}
