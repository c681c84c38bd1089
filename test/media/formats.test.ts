/**
 * One table of what is media (src/media/formats.ts), and every container added to it by issue 22 read for real:
 * a file of each kind, made at test time, is probed through the allow-list and decoded to its length.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demuxerOf, FORMAT_ALLOW } from '../../src/media/allow-list.ts';
import { locateFfmpeg } from '../../src/media/ffmpeg.ts';
import { ALLOWED_DEMUXERS, describeRefused, MEDIA_EXTENSIONS, MEDIA_FORMATS, NOT_MEDIA_EXTENSIONS } from '../../src/media/formats.ts';
import { taskPolicy } from '../../src/media/policy.ts';
import { prepareChunks } from '../../src/media/prepare.ts';
import { probeMedia } from '../../src/media/probe.ts';
import type { CutChunk, MediaInfo } from '../../src/media/types.ts';
import { findModel } from '../../src/models/catalog.ts';
import { compileSelection } from '../../src/producers/filter.ts';
import { OmniError } from '../../src/util/errors.ts';
import { ARCHIVE_FILES } from '../helpers/archive-media.ts';
import { early, limiter } from '../helpers/limit.ts';

const model = findModel('qwen3-omni-flash')!;

describe('the media table', () => {
  it('is the allow-list, and every demuxer in it exists in this ffmpeg', () => {
    expect(FORMAT_ALLOW).toEqual(ALLOWED_DEMUXERS);
    const listed = spawnSync(locateFfmpeg().ffmpeg, ['-hide_banner', '-demuxers'], { encoding: 'utf8' }).stdout;
    const names = new Set(listed.split('\n').flatMap((l) => (/^ D\S*\s+(\S+)/.exec(l)?.[1] ?? '').split(',')));
    for (const f of MEDIA_FORMATS) {
      expect(names.has(f.demuxer), f.demuxer).toBe(true);
      expect(f.refs.length, `${f.demuxer}: why it reads only its own input`).toBeGreaterThan(10);
    }
  });

  it('is the default pre-filter: every extension of a read container is taken, none is also "not media"', () => {
    const pick = compileSelection({});
    for (const ext of MEDIA_EXTENSIONS) {
      expect(NOT_MEDIA_EXTENSIONS.has(ext), ext).toBe(false);
      expect(pick(`dir/file.${ext}`), ext).toBeUndefined();
      expect(pick(`dir/FILE.${ext.toUpperCase()}`), ext).toBeUndefined();
    }
    // what the issue found dropped: all taken by name now
    for (const ext of [
      'ape',
      'wv',
      'tta',
      'mpc',
      'wma',
      'm4b',
      'afc',
      'mxf',
      'dv',
      'tak',
      'shn',
      'ra',
      'rm',
      'dsf',
      'dff',
      '8svx',
      'voc',
      'mod',
      'xm',
      'it',
      's3m',
    ])
      expect(MEDIA_EXTENSIONS.has(ext), ext).toBe(true);
    // neither media nor surely something else: content decides
    expect(pick('no-extension')).toBeUndefined();
    expect(pick('take.dat')).toBeUndefined();
    expect(pick('notes.pdf')).toMatchObject({ code: 'not_media' });
    expect(compileSelection({ include: ['*.pdf'] })('notes.pdf')).toBeUndefined();
    expect(compileSelection({ exclude: ['**/*.wav'] })('a/b.wav')).toMatchObject({ code: 'excluded' });
    expect(compileSelection({ include: ['**/*.wav'] })('a/b.mp3')).toMatchObject({ code: 'excluded' });
  });

  it('says what a refused container is', () => {
    expect(describeRefused('hls')).toMatch(/HLS playlist/);
    expect(describeRefused('png_pipe')).toMatch(/still picture/);
    expect(describeRefused('whatever')).toMatch(/"whatever"/);
  });
});

describe('every container the table adds is read and decoded to its length', () => {
  let dir: string;
  /**
   * Each file's making, probe and prepare, started in beforeAll two at a time in the tests' order (a file's
   * making, a synchronous ffmpeg, overlaps the probe or encode of the one before); each test checks its own.
   */
  const done = new Map<string, Promise<{ info: MediaInfo; chunks?: CutChunk[]; refused?: unknown }>>();
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-formats-'));
    const run = limiter(2);
    for (const a of ARCHIVE_FILES) {
      done.set(
        a.name,
        early(
          run(async () => {
            const file = path.join(dir, a.name);
            a.make(file);
            const info = await probeMedia(file);
            const prepared = prepareChunks(file, model, taskPolicy('transcribe', model), { outDir: path.join(dir, `${a.name}-out`), info });
            if (a.noAudio)
              return {
                info,
                refused: await prepared.then(
                  () => undefined,
                  (e: unknown) => e,
                ),
              };
            return { info, chunks: (await prepared).chunks };
          }),
        ),
      );
    }
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  for (const a of ARCHIVE_FILES) {
    it(`${a.name} (${a.demuxer})`, async () => {
      const { info, chunks, refused } = await done.get(a.name)!;
      expect(demuxerOf(info.container)).toBe(a.demuxer);
      expect(info.durationS).toBeGreaterThan(a.seconds * 0.9);
      expect(info.durationS).toBeLessThan(a.seconds * 1.1 + 0.1);
      if (a.noAudio) {
        expect(refused).toMatchObject({ code: 'media_no_audio' });
        return;
      }
      // The audio is really decoded: the chunks sent cover the file's length.
      const sent = chunks!.reduce((s, c) => s + c.durationS, 0);
      expect(Math.abs(sent - a.seconds)).toBeLessThanOrEqual(a.seconds * 0.1 + 0.2);
    }, 60_000);
  }

  it('a playlist named like media is refused, and the message says it is a playlist', async () => {
    const file = path.join(dir, 'episode.mp3');
    await writeFile(file, '#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n');
    const err = await probeMedia(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OmniError);
    expect(err).toMatchObject({ code: 'media_unsupported_container' });
    expect((err as Error).message).toMatch(/HLS playlist/);
  });
});

describe("README's formats table", () => {
  it('lists every demuxer of the table, with why it is safe', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(path.join(import.meta.dirname, '../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Formats'), readme.indexOf('## Commands'));
    for (const f of MEDIA_FORMATS) expect(section, f.demuxer).toContain(`| \`${f.demuxer}\` | ${f.what} |`);
  });
});
