/**
 * Per-file limits through the whole pipeline (real Redis, emulator over HTTP, local folders, real ffmpeg): a run
 * over a source holding a normal recording beside a 10 h FLAC of silence, a 16000x16000 H.264 frame, a 252-byte
 * name and an object over the download cap. Each hostile file is a coded failure that cost no request; the
 * normal file succeeds; the run completes. ffmpeg and ffprobe run behind a wrapper that logs each call and its
 * peak RSS, which shows the huge frame was refused without being decoded.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setFfmpegPaths } from '../../src/media/ffmpeg.ts';
import { fileIdOf } from '../../src/storage/keys.ts';
import { hugeFrameVideoBomb, longNameFile, oversizeFile, silentFlacBomb } from '../fixtures/hostile/bombs.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

const CAP = 1_000_000;

/** A python wrapper around `real` that appends {args, rssKb} per call to `log` (RUSAGE_CHILDREN: the child's peak). */
async function wrapper(file: string, real: string, log: string): Promise<string> {
  await writeFile(
    file,
    [
      '#!/usr/bin/env python3',
      'import json, resource, subprocess, sys',
      `r = subprocess.run([${JSON.stringify(real)}] + sys.argv[1:])`,
      `with open(${JSON.stringify(log)}, 'a') as f:`,
      "    f.write(json.dumps({'args': sys.argv[1:], 'rssKb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}) + '\\n')",
      'sys.exit(r.returncode if r.returncode >= 0 else 128 - r.returncode)',
      '',
    ].join('\n'),
  );
  await chmod(file, 0o755);
  return file;
}

interface Call {
  args: string[];
  rssKb: number;
}
const calls = async (log: string): Promise<Call[]> =>
  (await readFile(log, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Call);

describe('hostile files fail alone, before they cost anything', () => {
  let h: Harness;
  let src: string;
  let out: string;
  let logs: { ffmpeg: string; ffprobe: string };
  let names: Record<'ok' | 'flac' | 'video' | 'long' | 'big', string>;

  beforeAll(async () => {
    h = await startHarness({ env: { OMNIBATCH_MAX_DOWNLOAD_BYTES: String(CAP) } });
    expect(spawnSync('python3', ['--version']).status).toBe(0);
    const bin = path.join(h.tmp, 'bin');
    await mkdir(bin, { recursive: true });
    logs = { ffmpeg: path.join(bin, 'ffmpeg.log'), ffprobe: path.join(bin, 'ffprobe.log') };
    // Every ffmpeg/ffprobe this process starts from now on goes through the logging wrappers.
    setFfmpegPaths({
      ffmpeg: await wrapper(path.join(bin, 'ffmpeg'), h.cfg.ffmpegPath ?? 'ffmpeg', logs.ffmpeg),
      ffprobe: await wrapper(path.join(bin, 'ffprobe'), h.cfg.ffprobePath ?? 'ffprobe', logs.ffprobe),
    });
    src = path.join(h.tmp, 'in');
    out = path.join(h.tmp, 'out');
    await mkdir(src, { recursive: true });
    const ok = await longNameFile(src, '.mp3', 20);
    const flac = await silentFlacBomb(src);
    const video = await hugeFrameVideoBomb(src);
    const long = await longNameFile(src, '.mp3', 252);
    const big = await oversizeFile(src, CAP + 1);
    names = { ok: path.basename(ok), flac: path.basename(flac), video: path.basename(video), long: path.basename(long), big: path.basename(big) };
    await writeFile(logs.ffmpeg, '');
    await writeFile(logs.ffprobe, '');
    await h.startWorkers();
  }, 180_000);
  afterAll(async () => {
    setFfmpegPaths({ ffmpeg: h?.cfg.ffmpegPath, ffprobe: h?.cfg.ffprobePath });
    await h?.close();
  });

  it('each is a coded failure listed in failures.jsonl; the normal file succeeds; 1 request in all', async () => {
    const state = await h.run({ source: src, destination: out, task: 'describe' });
    expect(state.status).toBe('completed_with_failures');
    expect(state.counts).toMatchObject({ total: 5, succeeded: 1, failed: 4 });
    expect(h.emulator.stats().requests).toBe(1);

    const byKey: Record<string, { status: string; code?: string; message?: string }> = {};
    for await (const [, f] of h.ctx.runs.files(state.spec.runId)) byKey[f.key] = f;
    expect(byKey[names.ok].status).toBe('succeeded');
    expect(byKey[names.flac]).toMatchObject({ status: 'failed', code: 'media_suspicious' });
    expect(byKey[names.video]).toMatchObject({ status: 'failed', code: 'media_too_many_pixels' });
    expect(byKey[names.long]).toMatchObject({ status: 'failed', code: 'key_too_long' });
    expect(byKey[names.big]).toMatchObject({ status: 'failed', code: 'media_too_large' });

    const failures = (await readFile(path.join(out, '_runs', state.spec.runId, 'failures.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { code: string });
    expect(failures.map((f) => f.code).sort()).toEqual(['key_too_long', 'media_suspicious', 'media_too_large', 'media_too_many_pixels']);
    expect(JSON.parse(await readFile(path.join(out, `${names.ok}.json`), 'utf8'))).toBeTruthy();

    // The huge frame: probed without decoding a picture (peak RSS far below the 256-megapixel frame's 384 MB),
    // and no ffmpeg ever opened it.
    const videoDir = `prep-${fileIdOf(names.video)}`;
    const probes = (await calls(logs.ffprobe)).filter((c) => c.args.some((a) => a.includes(videoDir)));
    expect(probes.length).toBeGreaterThan(0);
    for (const p of probes) expect(p.rssKb).toBeLessThan(200 * 1024);
    expect((await calls(logs.ffmpeg)).filter((c) => c.args.some((a) => a.includes(videoDir)))).toEqual([]);
    // The FLAC was refused from its header: nothing decoded its 10 hours.
    const flacDir = `prep-${fileIdOf(names.flac)}`;
    expect((await calls(logs.ffmpeg)).filter((c) => c.args.some((a) => a.includes(flacDir)))).toEqual([]);
  });
});
