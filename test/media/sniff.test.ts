/**
 * The header sniff (WAV PCM16, mp3 with Xing/Info) agrees with the ffprobe-based probe to the millisecond on every
 * file it accepts, and declines everything it cannot vouch for; the as-is plan sends only what fits as it is.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIsPlan } from '../../src/media/as-is.ts';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { taskPolicy } from '../../src/media/policy.ts';
import { probeMedia } from '../../src/media/probe.ts';
import { sniffFile, sniffMedia } from '../../src/media/sniff.ts';
import { findModel } from '../../src/models/catalog.ts';
import { corpus, media } from '../helpers/paths.ts';

let dir: string;
const make = async (name: string, args: string[]): Promise<string> => {
  const f = path.join(dir, name);
  await runFfmpeg(['-v', 'error', ...args, '-y', `file:${f}`]);
  return f;
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-sniff-'));
  await make('mono16k.mp3', ['-f', 'lavfi', '-i', 'sine=r=16000:d=7.3', '-c:a', 'libmp3lame', '-b:a', '64k']);
  await make('stereo44k-vbr.mp3', ['-f', 'lavfi', '-i', 'sine=r=44100:d=4.1', '-ac', '2', '-c:a', 'libmp3lame', '-q:a', '4']);
  await make('tagged.mp3', ['-f', 'lavfi', '-i', 'sine=r=22050:d=3', '-metadata', 'title=hello', '-c:a', 'libmp3lame']);
  await make('mono16k.wav', ['-f', 'lavfi', '-i', 'sine=r=16000:d=5']);
  await make('stereo44k.wav', ['-f', 'lavfi', '-i', 'sine=r=44100:d=5', '-ac', '2']);
  await make('float.wav', ['-f', 'lavfi', '-i', 'sine=r=16000:d=2', '-c:a', 'pcm_f32le']);
  await make('long.mp3', ['-f', 'lavfi', '-i', 'sine=r=16000:d=65', '-c:a', 'libmp3lame', '-b:a', '32k']);
  await make('cover.mp3', [
    '-f',
    'lavfi',
    '-i',
    'sine=r=16000:d=3',
    '-f',
    'lavfi',
    '-i',
    'color=red:size=64x64:d=1',
    '-map',
    '0',
    '-map',
    '1',
    '-c:a',
    'libmp3lame',
    '-c:v',
    'png',
    '-frames:v',
    '1',
    '-disposition:v',
    'attached_pic',
  ]);
  const full = await readFile(path.join(dir, 'stereo44k-vbr.mp3'));
  await writeFile(path.join(dir, 'truncated.mp3'), full.subarray(0, Math.floor(full.length / 2)));
  const wav = await readFile(path.join(dir, 'mono16k.wav'));
  await writeFile(path.join(dir, 'truncated.wav'), wav.subarray(0, 20_000));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('sniffMedia', () => {
  it('matches probeMedia exactly on every WAV/mp3 it accepts (generated here, the built-in corpus, ../shared/media if there)', async () => {
    const files = [
      ...(await readdir(dir)).map((f) => path.join(dir, f)),
      ...corpus()
        .filter((f) => /\.(wav|mp3)$/.test(f.name))
        .map((f) => f.file),
    ];
    let accepted = 0;
    for (const f of files) {
      const s = await sniffFile(f);
      if (!s) continue;
      accepted++;
      const p = await probeMedia(f);
      expect(s.durationS, f).toBeCloseTo(p.durationS, 6);
      expect([s.container, s.sizeBytes, s.audio.length, s.video.length], f).toEqual([p.container, p.sizeBytes, 1, 0]);
      expect(s.audio[0], f).toMatchObject({ index: 0, codec: p.audio[0].codec, sampleRate: p.audio[0].sampleRate, channels: p.audio[0].channels });
    }
    expect(accepted).toBeGreaterThanOrEqual(15);
  });

  it('declines what it cannot vouch for: truncated, non-PCM16 WAV, empty data, garbage, mp3 in WAV', async () => {
    for (const name of ['truncated.mp3', 'truncated.wav', 'float.wav']) expect(await sniffFile(path.join(dir, name)), name).toBeUndefined();
    for (const name of ['pydub__test1_empty.wav', 'fp__c_8kmp316.wav', 'fp__invalid.flac']) expect(await sniffFile(media(name)), name).toBeUndefined();
    expect(sniffMedia(Buffer.from('RIFF....WAVEjunk'), 16)).toBeUndefined();
    expect(sniffMedia(Buffer.alloc(0), 0)).toBeUndefined();
    expect(await sniffFile(path.join(dir, 'no-such-file.mp3'))).toBeUndefined();
  });
});

describe('asIsPlan', () => {
  const model = findModel('qwen3-omni-30b-a3b-captioner')!;
  const policy = taskPolicy('caption', model);

  it('sends a short mp3 or 16 kHz WAV unchanged, as one chunk of its whole length', async () => {
    for (const name of ['mono16k.mp3', 'mono16k.wav']) {
      const info = await probeMedia(path.join(dir, name));
      const plan = asIsPlan(info, model, policy);
      expect(plan, name).toBeDefined();
      expect(plan!.chunks).toEqual([{ index: 0, startS: 0, endS: info.durationS, overlapS: 0 }]);
      expect(plan!.encode.format).toBe(name.slice(-3));
    }
  });

  it('encodes what needs it: more than one chunk, CD-quality WAV, cover art, other formats', async () => {
    // tagged.mp3: its title would reach the model (issue 19): encoded, which drops every tag. The sniffer tells
    // an encoder's own ID3 frame (TSSE) from the uploader's text.
    expect((await sniffFile(path.join(dir, 'tagged.mp3')))?.tagged).toBe(true);
    const plain = await sniffFile(path.join(dir, 'mono16k.mp3'));
    expect(plain).toBeDefined();
    expect(plain?.tagged).toBeUndefined();
    for (const name of ['long.mp3', 'stereo44k.wav', 'cover.mp3', 'float.wav', 'tagged.mp3']) {
      expect(asIsPlan(await probeMedia(path.join(dir, name)), model, policy), name).toBeUndefined();
    }
    expect(asIsPlan(await probeMedia(media('whisper__jfk.flac')), model, policy)).toBeUndefined();
  });
});
