/**
 * The whole pipeline over hostile playlists next to ordinary files: each playlist fails alone with
 * media_unsupported_container, the ordinary files succeed, nothing reads the canary file or asks the canary
 * server, and no ffmpeg outlives the run. A cancelled run kills the ffmpeg its prepare is running.
 */
import { rmSync, statSync } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForRun } from '../../src/cli/wait.ts';
import { finishNotRun } from '../../src/lifecycle/file-state.ts';
import { DEFAULT_DEADLINES, setChildDeadlines } from '../../src/media/child-deadline.ts';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { createRun } from '../../src/producers/run.ts';
import { startCanaryServer, writeCanaryTone, writePlaylists } from '../fixtures/hostile/playlists.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { processesWith } from '../helpers/processes.ts';

/** The ffmpeg processes (or their wrappers) with `needle` on their command line. */
const ffmpegWith = (needle: string): string[] =>
  processesWith(needle)
    .map((p) => p.cmd)
    .filter((c) => c.includes('ffmpeg'));

/** An hour of 8 kHz noise (58 MB of PCM), made once for the file in a directory of its own. */
let hourMade: Promise<string> | undefined;
afterAll(async () => {
  const made = await hourMade?.catch(() => undefined);
  if (made) rmSync(path.dirname(made), { recursive: true, force: true });
});

/** `dir`/hour.wav: a hard link to (or a copy of) the hour of noise. */
async function hourIn(dir: string): Promise<string> {
  hourMade ??= (async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'omnibatch-hour-')), 'hour.wav');
    await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'anoisesrc=r=8000:a=0.2:d=3600', '-ac', '1', '-c:a', 'pcm_s16le', '-y', `file:${file}`]);
    return file;
  })();
  const src = await hourMade;
  const dest = path.join(dir, 'hour.wav');
  await link(src, dest).catch(() => copyFile(src, dest));
  return dest;
}

describe('hostile playlists in a run', () => {
  let h: Harness;
  let server: Awaited<ReturnType<typeof startCanaryServer>>;
  beforeAll(async () => {
    server = await startCanaryServer();
    h = await startHarness();
    await h.startWorkers({ inferConcurrency: 2 });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await server?.close();
  });

  it('fails only the playlists, with media_unsupported_container; the ordinary files succeed', async () => {
    const dir = path.join(h.tmp, 'in');
    const aside = path.join(h.tmp, 'aside');
    await mkdir(dir, { recursive: true });
    await mkdir(aside, { recursive: true });
    // The canary lives outside the source: only a followed playlist entry could reach it.
    const canary = await writeCanaryTone(aside);
    await writePlaylists(dir, { canary, keyUrl: `${server.url}/key` });
    await runFfmpeg([
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'anoisesrc=r=16000:a=0.2:d=6',
      '-c:a',
      'libmp3lame',
      '-b:a',
      '32k',
      '-y',
      `file:${path.join(dir, 'voice.mp3')}`,
    ]);
    await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'anoisesrc=r=22050:a=0.2:d=5', '-c:a', 'flac', '-y', `file:${path.join(dir, 'note.flac')}`]);
    const atime = statSync(canary).atimeMs;

    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'transcribe' });
    expect(s.status).toBe('completed_with_failures');
    const runsDir = path.join(out, '_runs', s.spec.runId);
    const failures = (await readFile(path.join(runsDir, 'failures.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const codes = Object.fromEntries(failures.map((f: { uri: string; code: string }) => [path.basename(f.uri), f.code]));
    expect(codes).toEqual({
      'clip.mp3': 'media_unsupported_container',
      'clip.mp4': 'media_unsupported_container',
      'keyed.mp3': 'media_unsupported_container',
      'list.mp3': 'media_unsupported_container',
      'live.mp3': 'media_unsupported_container',
    });
    expect(s.counts).toMatchObject({ succeeded: 2, failed: 5 });
    for (const ok of ['voice.mp3', 'note.flac']) expect(JSON.parse(await readFile(path.join(out, `${ok}.json`), 'utf8')).chunks.length).toBeGreaterThan(0);
    expect(server.hits()).toBe(0);
    // The canary was never opened (relatime records a read of a file whose access time is years old).
    expect(statSync(canary).atimeMs).toBe(atime);
    // The emulator heard no canary tone: every request carried one of the two ordinary files.
    expect(h.emulator.stats().requests).toBe(2);
    expect(processesWith(dir).map((p) => p.cmd)).toEqual([]);
    expect(processesWith(aside).map((p) => p.cmd)).toEqual([]);
  }, 120_000);

  it('cancelling a run kills the ffmpeg its prepare is running, at once', async () => {
    const dir = path.join(h.tmp, 'in-long');
    await mkdir(dir, { recursive: true });
    // An hour of noise: its encode runs for tens of seconds, long enough to be cancelled in the middle.
    await hourIn(dir);
    const spec = await createRun(h.ctx, { source: dir, destination: path.join(h.tmp, 'out-long'), task: 'transcribe' });
    const runId = spec.runId;
    // The worker downloads into its temp dir under OMNIBATCH_TMP; wait for an ffmpeg reading it.
    const needle = h.env.OMNIBATCH_TMP;
    await expect.poll(() => ffmpegWith(needle).length, { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);

    const t0 = Date.now();
    await h.ctx.runs.stop(runId, 'cancelled', 'cancelled by the test');
    for await (const [fileId, f] of h.ctx.runs.files(runId)) if (f.status === 'pending') await finishNotRun(h.ctx, runId, fileId, 'cancelled');
    const state = await waitForRun(h.ctx, runId, { quiet: true, pollMs: 100 });
    expect(state.status).toBe('cancelled');
    // The ffmpeg is gone within a poll of the stop flag and the kill grace, not at the end of its encode.
    await expect.poll(() => ffmpegWith(needle), { timeout: 8000, interval: 100 }).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 180_000);
});

describe('deadlines and shutdown in a run', () => {
  let h: Harness;
  let hour: string;
  beforeAll(async () => {
    h = await startHarness();
    await h.startWorkers({ inferConcurrency: 2 });
    const dir = path.join(h.tmp, 'in');
    await mkdir(dir, { recursive: true });
    hour = await hourIn(dir);
    await runFfmpeg([
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'anoisesrc=r=16000:a=0.2:d=4',
      '-c:a',
      'libmp3lame',
      '-b:a',
      '32k',
      '-y',
      `file:${path.join(dir, 'short.mp3')}`,
    ]);
  }, 60_000);
  afterAll(async () => {
    setChildDeadlines(DEFAULT_DEADLINES);
    await h?.close();
  });

  it('a prepare past its deadline fails its file with media_timeout and frees the slot; the other file succeeds', async () => {
    // Every child of this process gets 3 s: the hour-long encode cannot make it, the 4 s mp3 is sent as it is.
    setChildDeadlines({ floorMs: 3000, ceilingMs: 3000 });
    const t0 = Date.now();
    const out = path.join(h.tmp, 'out-deadline');
    const s = await h.run({ source: path.dirname(hour), destination: out, task: 'transcribe' });
    setChildDeadlines(DEFAULT_DEADLINES);
    expect(s.status).toBe('completed_with_failures');
    expect(s.counts).toMatchObject({ succeeded: 1, failed: 1 });
    const failures = (await readFile(path.join(out, '_runs', s.spec.runId, 'failures.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(failures.map((f: { uri: string; code: string }) => [path.basename(f.uri), f.code])).toEqual([['hour.wav', 'media_timeout']]);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(ffmpegWith(h.env.OMNIBATCH_TMP)).toEqual([]);
  }, 120_000);

  it('a worker that shuts down past its grace kills the ffmpeg of its in-flight prepare', async () => {
    await createRun(h.ctx, { source: path.dirname(hour), destination: path.join(h.tmp, 'out-shutdown'), task: 'transcribe', force: true });
    const needle = h.env.OMNIBATCH_TMP;
    await expect.poll(() => ffmpegWith(needle).length, { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
    await h.workers!.close(500);
    h.workers = undefined;
    await expect.poll(() => ffmpegWith(needle), { timeout: 5000, interval: 100 }).toEqual([]);
  }, 120_000);
});
