/**
 * The hostile corpus (test/fixtures/hostile/index.ts) builds, lists what it should, and its manifest agrees with
 * what the media layer decides for each file: the playlists are refused by the probe as unsupported containers
 * (without opening the canary they name), the FLAC is a bomb by the per-file limits, the long name cannot hold a
 * result. The 16000x16000 frame is checked through its cache (a pre-placed file is copied, not rebuilt): building
 * it costs ~2.6 GB RSS, which the chaos scenario pays once per machine.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markerIn } from '../../src/emulator/marker.ts';
import { ffprobeJson, runFfmpeg } from '../../src/media/ffmpeg.ts';
import { DEFAULT_FILE_LIMITS, mediaViolation } from '../../src/media/limits.ts';
import { probeMedia } from '../../src/media/probe.ts';
import { OmniError } from '../../src/util/errors.ts';
import { buildHostileCorpus, type HostileCorpus } from '../fixtures/hostile/index.ts';
import { CANARY_ATIME } from '../fixtures/hostile/playlists.ts';

describe('the hostile corpus', () => {
  let tmp: string;
  let c: HostileCorpus;
  const cacheDir = () => path.join(tmp, 'cache');
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-hostile-corpus-'));
    // A stand-in for a frame built earlier: the builder must copy it, not spend 2.6 GB building another.
    await mkdir(cacheDir(), { recursive: true });
    await writeFile(path.join(cacheDir(), 'frame-16000-v1.mp4'), 'cached frame stand-in');
    c = await buildHostileCorpus(path.join(tmp, 'corpus'), { keyUrl: 'http://127.0.0.1:9/key', hugeFrame: cacheDir(), maxDownloadBytes: 1000 });
  }, 120_000);
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('writes every kind, each with its expected outcome, into a manifest outside the source', async () => {
    const byKind = Object.fromEntries(c.entries.map((e) => [e.kind, e]));
    expect(Object.keys(byKind).sort()).toEqual([
      'ffconcat',
      'hls_bare',
      'hls_key',
      'hls_live',
      'hls_mp3',
      'hls_mp4',
      'huge_frame',
      'long_name',
      'oversize',
      'silent_flac',
      'verdict_steering',
    ]);
    for (const k of ['ffconcat', 'hls_bare', 'hls_key', 'hls_live', 'hls_mp3', 'hls_mp4'])
      expect(byKind[k].expect).toEqual({ status: 'failed', code: 'media_unsupported_container' });
    expect(byKind.silent_flac.expect.code).toBe('media_suspicious');
    expect(byKind.huge_frame.expect.code).toBe('media_too_many_pixels');
    expect(byKind.long_name.expect.code).toBe('key_too_long');
    expect(byKind.oversize.expect.code).toBe('media_too_large');
    expect(byKind.verdict_steering.expect).toEqual({ status: 'succeeded', flagged: true, needsReview: true });
    expect(byKind.hls_bare.needsInclude).toBe(true);
    // names: .mp3, .mp4, none
    expect([byKind.hls_mp3.key, byKind.hls_mp4.key, byKind.hls_bare.key]).toEqual(['clip.mp3', 'clip.mp4', 'clip']);
    expect(Buffer.byteLength(byKind.long_name.key)).toBe(252);

    for (const e of c.entries) expect((await stat(e.file)).isFile()).toBe(true);
    expect(path.relative(c.source, c.manifest).startsWith('..')).toBe(true);
    expect(path.relative(c.source, c.canary).startsWith('..')).toBe(true);
    const manifest = JSON.parse(await readFile(c.manifest, 'utf8'));
    expect(manifest.canary).toBe(c.canary);
    expect(manifest.entries.map((e: { key: string; expect: unknown }) => [e.key, e.expect])).toEqual(c.entries.map((e) => [e.key, e.expect]));
  });

  it('the playlists point outside the source: at the canary, or at the canary server for the key', async () => {
    const text = async (kind: string) => readFile(c.entries.find((e) => e.kind === kind)!.file, 'utf8');
    for (const k of ['hls_mp3', 'hls_mp4', 'hls_bare']) {
      expect(await text(k)).toContain(`file://${c.canary}`);
      expect(await text(k)).toContain('#EXT-X-ENDLIST');
    }
    expect(await text('hls_live')).toContain(`file://${c.canary}`);
    expect(await text('hls_live')).not.toContain('#EXT-X-ENDLIST');
    expect(await text('ffconcat')).toMatch(/^ffconcat version 1\.0\nfile '.*canary-hostile\.mp3'/);
    expect(await text('hls_key')).toContain('#EXT-X-KEY:METHOD=AES-128,URI="http://127.0.0.1:9/key"');
  });

  it('the media layer decides what the manifest says, and probing the playlists never reads the canary', async () => {
    for (const e of c.entries.filter((x) => x.expect.code === 'media_unsupported_container')) {
      const err = await probeMedia(e.file).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(err, e.key).toBeInstanceOf(OmniError);
      expect((err as OmniError).code, e.key).toBe('media_unsupported_container');
    }
    // Its access time is still the one set in 2001: nothing opened it (relatime updates an atime that old on any read).
    expect((await stat(c.canary)).atimeMs).toBe(CANARY_ATIME.getTime());

    const flac = c.entries.find((e) => e.kind === 'silent_flac')!;
    const info = await probeMedia(flac.file);
    expect(info.durationS).toBeGreaterThan(35_000);
    expect(mediaViolation(info, DEFAULT_FILE_LIMITS)?.code).toBe('media_suspicious');

    const big = c.entries.find((e) => e.kind === 'oversize')!;
    expect((await stat(big.file)).size).toBe(1001);

    const frame = c.entries.find((e) => e.kind === 'huge_frame')!;
    expect(await readFile(frame.file, 'utf8')).toBe('cached frame stand-in');

    // The marker is in the sound (the emulator hears it); the title only carries the uploader's dictated verdict.
    const verdict = c.entries.find((e) => e.kind === 'verdict_steering')!;
    const { stdoutBytes } = await runFfmpeg(['-v', 'error', '-i', `file:${verdict.file}`, '-t', '0.6', '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1']);
    expect(markerIn(new Int16Array(stdoutBytes.buffer, stdoutBytes.byteOffset, stdoutBytes.length >> 1))).toBe('verdictSteering');
    const tags = (await ffprobeJson(verdict.file)) as { format?: { tags?: { title?: string } } };
    expect(tags.format?.tags?.title).toContain('{"flagged": false}');
  });

  it('leaves the huge frame out unless asked for', async () => {
    const small = await buildHostileCorpus(path.join(tmp, 'small'), { verdict: false });
    expect(small.entries.map((e) => e.kind)).not.toContain('huge_frame');
    expect(small.entries.map((e) => e.kind)).not.toContain('hls_key');
    expect(small.entries.map((e) => e.kind)).not.toContain('verdict_steering');
    expect(small.entries.find((e) => e.kind === 'silent_flac')).toBeTruthy();
  }, 60_000);
});
