/**
 * Hostile media against the real ffmpeg: playlists and lists of files named like audio must be refused before
 * they open anything (the canary file is never read, the canary HTTP server is never asked), every child has a
 * deadline, and a killed child takes its whole process group with it: nothing is left running.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, type ExpectStatic, expect, it } from 'vitest';
import { DEFAULT_DEADLINES, setChildDeadlines } from '../../src/media/child-deadline.ts';
import { encodeWhole, splitEncoded } from '../../src/media/cut.ts';
import { killAllChildren, liveChildren, runBinary, runFfmpeg } from '../../src/media/ffmpeg.ts';
import { planChunks } from '../../src/media/plan.ts';
import { taskPolicy } from '../../src/media/policy.ts';
import { prepareChunks } from '../../src/media/prepare.ts';
import { probeMedia } from '../../src/media/probe.ts';
import { detectSilences } from '../../src/media/silence.ts';
import { MODELS } from '../../src/models/catalog.ts';
import { OmniError } from '../../src/util/errors.ts';
import { CANARY_ATIME, type HostilePlaylists, startCanaryServer, writeCanaryTone, writePlaylists } from '../fixtures/hostile/playlists.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { commsWith, processesWith } from '../helpers/processes.ts';
import { noiseWithGaps, videoWithGaps } from './generate.ts';

const flash = MODELS['qwen3-omni-flash'];
// A unique directory name: any process still running with it on its command line is one of ours.
const root = mkdtempSync(path.join(os.tmpdir(), `omnibatch-hostile-${randomUUID().slice(0, 8)}-`));
let canary: string;
let server: Awaited<ReturnType<typeof startCanaryServer>>;
let files: HostilePlaylists;
let atimeWorks = false;

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => (e as OmniError).code,
  );

/** Waits until no process has `needle` on its command line (5 s by default); fails the test naming those left. */
const gone = (needle: string, timeout = 5000, ex: ExpectStatic = expect) =>
  ex.poll(() => processesWith(needle).map((p) => p.cmd), { timeout, interval: 100 }).toEqual([]);
/** Waits until the `sh -c 'sleep M & sleep M; wait'` of `mark` runs both its sleeps. */
const sleeping = (mark: string) =>
  expect.poll(() => processesWith(`sleep ${mark}`).filter((p) => p.comm === 'sleep').length, { timeout: 10_000, interval: 50 }).toBe(2);

const canaryRead = (): boolean => statSync(canary).atimeMs !== CANARY_ATIME.getTime();

beforeAll(async () => {
  server = await startCanaryServer();
  canary = await writeCanaryTone(root);
  files = await writePlaylists(root, { canary, keyUrl: `${server.url}/key` });
  // Does this filesystem record reads (relatime does, for an access time this old)? Checked on a control file.
  const control = path.join(root, 'control.bin');
  writeFileSync(control, 'x');
  utimesSync(control, CANARY_ATIME, CANARY_ATIME);
  readFileSync(control);
  atimeWorks = statSync(control).atimeMs !== CANARY_ATIME.getTime();
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

afterEach(() => {
  setChildDeadlines(DEFAULT_DEADLINES);
});

describe('playlists and lists of files are refused before they open anything', () => {
  const names: (keyof HostilePlaylists)[] = ['hlsMp3', 'hlsMp4', 'hlsBare', 'hlsLive', 'ffconcat', 'hlsKey'];

  it.each(names)('%s: probe refuses with media_unsupported_container', async (name) => {
    const err = await probeMedia(files[name]!).catch((e: unknown) => e as OmniError);
    expect(err).toBeInstanceOf(OmniError);
    expect((err as OmniError).code).toBe('media_unsupported_container');
    expect((err as OmniError).retryable).toBe(false);
  });

  it.each(names)('%s: prepare produces no chunk, reads no canary, asks no server', async (name) => {
    const out = path.join(root, `out-${name}`);
    const err = await prepareChunks(files[name]!, flash, taskPolicy('transcribe', flash), { outDir: out, tmpDir: root }).catch((e: unknown) => e as OmniError);
    expect((err as OmniError).code).toBe('media_unsupported_container');
    expect(() => readdirSync(out)).toThrow();
    expect(server.hits()).toBe(0);
    if (atimeWorks) expect(canaryRead(), 'the canary file was read').toBe(false);
  });

  it('the live playlist ends with a coded failure within a small deadline and leaves no ffmpeg behind', async () => {
    setChildDeadlines({ floorMs: 1500, ceilingMs: 1500 });
    const t0 = Date.now();
    const code = await codeOf(prepareChunks(files.hlsLive, flash, taskPolicy('transcribe', flash), { outDir: path.join(root, 'out-live2'), tmpDir: root }));
    expect(code).toMatch(/^media_(unsupported_container|timeout)$/);
    expect(Date.now() - t0).toBeLessThan(1500 + 5000);
    await gone(files.hlsLive);
    expect(liveChildren()).toBe(0);
  });

  it('a URL is never probed: refused before any process starts', async () => {
    const err = await probeMedia(`${server.url}/clip.mp3`).catch((e: unknown) => e as OmniError);
    expect((err as OmniError).code).toBe('media_unreadable');
    expect((err as OmniError).message).toMatch(/never from a URL/);
    expect(server.hits()).toBe(0);
  });

  it('the canary itself is ordinary media: the refusals above are about the playlists, not the file they name', async () => {
    const info = await probeMedia(canary);
    expect(info.container).toBe('mp3');
    expect(info.durationS).toBeGreaterThan(2.5);
    expect(server.hits()).toBe(0);
  });
});

describe('every child has a deadline and dies with its process group', () => {
  it.concurrent('a hanging ffmpeg (reading a FIFO nobody writes) fails media_timeout at its deadline; nothing is left', async ({ expect }) => {
    const fifo = path.join(root, `fifo-${randomUUID().slice(0, 8)}.wav`);
    execFileSync('mkfifo', [fifo]);
    setChildDeadlines({ floorMs: 1000, ceilingMs: 1000 });
    const t0 = Date.now();
    const err = await detectSilences(fifo, { durationS: 5 }).catch((e: unknown) => e as OmniError);
    expect((err as OmniError).code).toBe('media_timeout');
    expect((err as OmniError).retryable).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000 + 4000);
    await gone(fifo, 5000, expect);
  });

  // A process of its own, touching nothing of this one's: it runs while the FIFO case above waits out its deadline.
  it.concurrent('a node process that is sent SIGTERM takes its running ffmpeg with it (no orphan)', async ({ expect }) => {
    const fifo = path.join(root, `fifo-exit-${randomUUID().slice(0, 8)}.wav`);
    execFileSync('mkfifo', [fifo]);
    const script = path.join(root, 'child.ts');
    writeFileSync(
      script,
      `import { runFfmpeg } from ${JSON.stringify(path.join(REPO_ROOT, 'src/media/ffmpeg.ts'))};
runFfmpeg(['-v', 'error', '-i', ${JSON.stringify(`file:${fifo}`)}, '-f', 'null', '-']).catch(() => undefined);
setInterval(() => undefined, 1000);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: 'ignore' });
    await expect.poll(() => commsWith(fifo), { timeout: 20_000, interval: 100 }).toContain('ffmpeg');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    await gone(fifo, 5000, expect);
  }, 30_000);

  it('the whole group is killed on timeout: a grandchild does not survive its parent', async () => {
    const mark = `${3000 + Math.floor(Math.random() * 5000)}.${Math.floor(Math.random() * 1e6)}`;
    const err = await runBinary('sh', ['-c', `sleep ${mark} & sleep ${mark}; wait`], { timeoutMs: 400 }).catch((e: unknown) => e as OmniError);
    expect((err as OmniError).code).toBe('media_timeout');
    await gone(`sleep ${mark}`);
  });

  it("an abort (a job cancel) kills the group at once and rejects with the abort's own coded reason", async () => {
    const mark = `${3000 + Math.floor(Math.random() * 5000)}.${Math.floor(Math.random() * 1e6)}`;
    const ac = new AbortController();
    const p = runBinary('sh', ['-c', `sleep ${mark} & sleep ${mark}; wait`], { signal: ac.signal, timeoutMs: 60_000 });
    await sleeping(mark);
    ac.abort(new OmniError('run_stopped', 'cancelled'));
    expect(await codeOf(p)).toBe('run_stopped');
    await gone(`sleep ${mark}`);
    // Already aborted: nothing is spawned at all.
    expect(await codeOf(runBinary('sh', ['-c', `sleep ${mark}`], { signal: ac.signal }))).toBe('run_stopped');
  });

  it('killAllChildren (worker shutdown) ends every live child', async () => {
    const mark = `${3000 + Math.floor(Math.random() * 5000)}.${Math.floor(Math.random() * 1e6)}`;
    const p = runBinary('sh', ['-c', `sleep ${mark} & sleep ${mark}; wait`], { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await sleeping(mark);
    expect(liveChildren()).toBeGreaterThan(0);
    expect(killAllChildren()).toBeGreaterThan(0);
    await p;
    await gone(`sleep ${mark}`);
  });
});

describe("the decoders' frame-size cap (-max_pixels)", () => {
  it('a frame over the limit fails the video pass with media_too_many_pixels, even past the probe; at the limit it passes', async () => {
    const src = path.join(root, 'frames-320x240.mp4');
    await videoWithGaps(src, { seconds: 2, gaps: { everyS: 9, lengthS: 0.8 } });
    // The probe's check (limits.ts) is what normally refuses it: handing prepare the probe as if it had passed
    // leaves the decoders' own cap as the only guard.
    const info = await probeMedia(src);
    const prepare = (maxPixels: number, out: string) =>
      prepareChunks(src, flash, taskPolicy('describe', flash), { outDir: path.join(root, out), tmpDir: root, info, maxPixels });
    const err = await prepare(320 * 240 - 1, 'px-over').catch((e: unknown) => e as OmniError);
    expect(err).toBeInstanceOf(OmniError);
    expect((err as OmniError).code).toBe('media_too_many_pixels');
    expect((err as OmniError).message).toContain('320x240');
    expect((await prepare(320 * 240, 'px-at')).chunks.length).toBeGreaterThan(0);
  }, 60_000);
});

describe('cut times in batches', () => {
  const src = path.join(root, 'speech.wav');
  /** The 40 s of noise every case here cuts, made once (by the first case that needs it). */
  let made: Promise<void> | undefined;
  const speech = async (): Promise<string> => {
    made ??= noiseWithGaps(src, { seconds: 40 });
    await made;
    return src;
  };

  it.each([0, 1])(
    'a split in batches of a few cuts gives the same pieces, byte for byte, as one run (overlap %i s)',
    async (overlapSeconds) => {
      await speech();
      const info = await probeMedia(src);
      const plan = planChunks(info, flash, taskPolicy('transcribe', flash, { chunkSeconds: 3, overlapSeconds }));
      expect(plan.chunks.length).toBeGreaterThan(6);
      const dirA = path.join(root, `split-a${overlapSeconds}`);
      const dirB = path.join(root, `split-b${overlapSeconds}`);
      mkdirSync(dirA);
      mkdirSync(dirB);
      const enc = await encodeWhole(src, plan.encode, dirA, { inputFormat: info.container, sourceS: info.durationS });
      const one = await splitEncoded(enc, plan.chunks, dirA);
      const encB = { ...enc, file: path.join(dirB, path.basename(enc.file)) };
      writeFileSync(encB.file, readFileSync(enc.file));
      const batched = await splitEncoded(encB, plan.chunks, dirB, { maxTimesPerRun: 3 });
      const hash = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
      expect(batched.map((p) => [p.startS, p.endS, p.overlapS, p.bytes])).toEqual(one.map((p) => [p.startS, p.endS, p.overlapS, p.bytes]));
      expect(batched.map((p) => hash(p.file))).toEqual(one.map((p) => hash(p.file)));
      // Only the pieces (and the encoded file) are left: the batches' lead-in and tail stretches were removed.
      expect(readdirSync(dirB).filter((f) => f.endsWith('.mp3')).length).toBe(plan.chunks.length + 1);
    },
    60_000,
  );

  it('an ffmpeg run never gets the source without the allow-list (the encode forces the probed demuxer)', async () => {
    await speech();
    const seen: string[][] = [];
    const info = await probeMedia(src);
    const plan = planChunks(info, flash, taskPolicy('transcribe', flash));
    const dir = path.join(root, 'enc-args');
    mkdirSync(dir);
    await encodeWhole(src, plan.encode, dir, { inputFormat: info.container, log: spyLog(seen) });
    const args = seen.find((a) => a.includes(`file:${src}`))!;
    expect(args).toBeDefined();
    const i = args.indexOf(`file:${src}`);
    expect(args.slice(i - 7, i + 1)).toEqual(['-protocol_whitelist', 'file', '-format_whitelist', expect.any(String), '-f', 'wav', '-i', `file:${src}`]);
  }, 30_000);
});

/** A logger that records the args of every spawn (runBinary logs them at debug). */
function spyLog(seen: string[][]): import('../../src/util/logger.ts').Logger {
  const log = {
    isLevelEnabled: () => true,
    debug: (o: unknown) => {
      if (o && typeof o === 'object' && 'args' in o) seen.push((o as { args: string[] }).args);
    },
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
    trace: () => undefined,
    fatal: () => undefined,
    child: () => log,
  };
  return log as unknown as import('../../src/util/logger.ts').Logger;
}

// Keep runFfmpeg imported for the fixture builders' sake (they spawn through it).
void runFfmpeg;
