/**
 * Generated inputs for the scenarios: real audio made by ffmpeg (tones, speech-like gated noise, silence),
 * and cheap copies of it. Every file is made in well under a second per minute of audio.
 */
import { spawn } from 'node:child_process';
import { copyFile, link, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { seededRandom } from '../../src/util/random.ts';

export interface AudioSpec {
  seconds: number;
  /** output container by extension: mp3, wav, flac, m4a */
  ext: 'mp3' | 'wav' | 'flac' | 'm4a';
  rate?: number;
  channels?: 1 | 2;
  /** mp3/m4a bitrate, kbps */
  kbps?: number;
  /** tone frequency; speech-like gated pink noise when 'speech', digital silence when 'silence' */
  kind?: number | 'speech' | 'silence';
}

const CODEC: Record<AudioSpec['ext'], string[]> = {
  mp3: ['-c:a', 'libmp3lame'],
  wav: ['-c:a', 'pcm_s16le'],
  flac: ['-c:a', 'flac'],
  m4a: ['-c:a', 'aac'],
};

/** Speech-like: pink noise and a tone, with pauses of 0.4-1.2 s at irregular intervals (cuts find silence). */
function speechSource(seconds: number, rate: number): string[] {
  const gate = 'if(lt(mod(t,7.3),0.6)+lt(mod(t,17.9),1.2)+lt(mod(t,29.3),0.4),0,1)';
  return [
    '-f',
    'lavfi',
    '-i',
    `anoisesrc=r=${rate}:a=0.25:c=pink:d=${seconds}`,
    '-f',
    'lavfi',
    '-i',
    `sine=f=220:r=${rate}:d=${seconds}`,
    '-filter_complex',
    `[0][1]amix=inputs=2,volume='${gate}':eval=frame`,
  ];
}

export async function makeAudio(file: string, spec: AudioSpec): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const rate = spec.rate ?? 16_000;
  const channels = spec.channels ?? 1;
  const kind = spec.kind ?? 440;
  const input =
    kind === 'speech'
      ? speechSource(spec.seconds, rate)
      : kind === 'silence'
        ? ['-f', 'lavfi', '-i', `anullsrc=r=${rate}:cl=mono`, '-t', String(spec.seconds)]
        : ['-f', 'lavfi', '-i', `sine=f=${kind}:r=${rate}:d=${spec.seconds}`];
  await runFfmpeg([
    '-v',
    'error',
    ...input,
    '-ac',
    String(channels),
    '-ar',
    String(rate),
    ...CODEC[spec.ext],
    ...(spec.kbps && (spec.ext === 'mp3' || spec.ext === 'm4a') ? ['-b:a', `${spec.kbps}k`] : []),
    '-y',
    `file:${file}`,
  ]);
  return file;
}

/**
 * `count` copies of each template under `dir`, named `<prefix><n>-<basename>`; hard links where the filesystem
 * allows (a thousand copies of a clip cost no disk). Returns the relative keys.
 */
export async function replicate(templates: readonly string[], count: number, dir: string, prefix = 'f'): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = templates[i % templates.length];
    const key = `${prefix}${String(i).padStart(5, '0')}-${path.basename(t)}`;
    const dest = path.join(dir, key);
    await link(t, dest).catch(() => copyFile(t, dest));
    keys.push(key);
  }
  return keys;
}

/** Distinct clips: the same tone at different pitches, so no two files share a hash (nothing is cached). */
export async function distinctClips(dir: string, n: number, spec: Omit<AudioSpec, 'kind'>): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await makeAudio(path.join(dir, `clip-${i}.${spec.ext}`), { ...spec, kind: 200 + i * 7 }));
  return out;
}

/** A long test-pattern video with a tone, about `kbps` in total: MPEG-4 Part 2 in Matroska (fast to make, like a camera dump). */
export async function makeVideo(file: string, seconds: number, opts: { kbps?: number; width?: number; height?: number } = {}): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const kbps = opts.kbps ?? 8000;
  await runFfmpeg([
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${opts.width ?? 1280}x${opts.height ?? 720}:rate=25:duration=${seconds}`,
    '-f',
    'lavfi',
    '-i',
    `sine=f=330:r=44100:d=${seconds}`,
    '-c:v',
    'mpeg4',
    '-b:v',
    `${kbps - 128}k`,
    '-maxrate',
    `${kbps}k`,
    '-bufsize',
    `${kbps * 2}k`,
    '-c:a',
    'aac',
    '-b:a',
    '128k',
    '-y',
    `file:${file}`,
  ]);
  return file;
}

/** Seconds of 16-bit PCM WAV that make `bytes`. */
export function wavSeconds(bytes: number, rate: number, channels: number): number {
  return Math.round((bytes / (rate * channels * 2)) * 1000) / 1000;
}

const WORDS = (
  'the quick brown fox jumps over a lazy dog while seven bright engineers measure every token of audio they send ' +
  'to a distant model and count the cost in tiny units so nothing drifts across a million requests on a quiet night in the archive'
).split(' ');

/** Deterministic sentences from a seed (mulberry32), ~12 words each. Pure. */
export function sentences(seed: number, count: number): string {
  const rand = seededRandom(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = 6 + Math.floor(rand() * 13);
    out.push(`${Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' ')}.`);
  }
  return out.join('\n');
}

/**
 * Real synthetic speech (espeak-ng, ~1000x real time here), `seconds` long exactly, as mp3 (22.05 kHz mono, the
 * podcast-ish default) or any ext makeAudio knows. Falls back to speech-like noise when espeak-ng is missing.
 */
export async function makeSpeech(file: string, seconds: number, seed: number, opts: { ext?: 'mp3' | 'wav'; kbps?: number } = {}): Promise<string> {
  const ext = opts.ext ?? 'mp3';
  await mkdir(path.dirname(file), { recursive: true });
  const text = `${file}.txt`;
  const wav = `${file}.speech.wav`;
  // ~2.6 words a second: enough sentences for the length, then trimmed exactly.
  await writeFile(text, sentences(seed, Math.ceil(seconds / 4) + 5));
  const ok = await new Promise<boolean>((resolve) => {
    const p = spawn('espeak-ng', ['-s', '165', '-f', text, '-w', wav], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });
  try {
    if (!ok) return await makeAudio(file, { seconds, ext, rate: 22_050, channels: 1, kind: 'speech', kbps: opts.kbps ?? 48 });
    await runFfmpeg([
      '-v',
      'error',
      '-stream_loop',
      '-1',
      '-i',
      `file:${wav}`,
      '-t',
      String(seconds),
      '-ac',
      '1',
      '-ar',
      '22050',
      ...CODEC[ext],
      ...(ext === 'mp3' ? ['-b:a', `${opts.kbps ?? 48}k`] : []),
      '-y',
      `file:${file}`,
    ]);
    return file;
  } finally {
    await rm(text, { force: true });
    await rm(wav, { force: true });
  }
}

/**
 * The chaos corpus: 180 short single-chunk mp3 clips and 20 multi-chunk 75 s speech files (200 files), so a
 * fault can land on a one-request file or mid-way through a file's chunks. `tmp` holds the templates.
 */
export async function chaosCorpus(tmp: string, src: string): Promise<number> {
  const clips = await distinctClips(tmp, 8, { seconds: 5, ext: 'mp3', rate: 16_000, channels: 1, kbps: 64 });
  await replicate(clips, 180, src, 'a');
  await replicate([await makeAudio(path.join(tmp, 'long.flac'), { seconds: 75, ext: 'flac', rate: 22_050, kind: 'speech' })], 20, src, 'b');
  return 200;
}
