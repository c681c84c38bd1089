/**
 * Issue 19, decode cost and the child's surroundings, with the files made here (test/fixtures/hostile/bombs.ts):
 * an 8192x4320 H.264 of black at 25 frames a second is refused before decoding in a video task; the same frame
 * size at 5 frames a second is admitted and decodes within 300 MB RSS per child; a child over its address-space
 * limit fails `media_too_costly` instead of delivering a short result; children see no secret of the worker;
 * chunks carry none of the uploader's tags.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendants, watchMemory } from '../../bench/lib/measure.ts';
import { childArgv, childEnv } from '../../src/media/child-argv.ts';
import { childDeadlineMs, childMemoryBytes, DEFAULT_CHILD_MEMORY_MB, DEFAULT_DEADLINES, setChildMemory } from '../../src/media/child-deadline.ts';
import { encodeArgs, lowresFactor } from '../../src/media/encode-args.ts';
import { ffprobeJson, runFfmpeg } from '../../src/media/ffmpeg.ts';
import { DEFAULT_FILE_LIMITS, decodeCostViolation, memoryRefusal } from '../../src/media/limits.ts';
import { taskPolicy } from '../../src/media/policy.ts';
import { prepareChunks } from '../../src/media/prepare.ts';
import { probeMedia } from '../../src/media/probe.ts';
import { findModel } from '../../src/models/catalog.ts';
import { TASK_SPECS } from '../../src/tasks/catalog.ts';
import { OmniError } from '../../src/util/errors.ts';
import { decidePrepareMedia } from '../../src/workers/prepare-decide.ts';
import { decodeCostBomb, taggedClip } from '../fixtures/hostile/bombs.ts';

const model = findModel(TASK_SPECS.moderate.defaultModel)!;
const video8k = (fps: number, durationS = 4) => ({ durationS, video: [{ index: 0, codec: 'h264', width: 8192, height: 4320, fps, attachedPic: false }] });

describe('decode cost: pure', () => {
  it('refuses 8K at 25 fps (885 Mpx/s) and admits it at 5; refuses what could not finish within the child ceiling', () => {
    expect(decodeCostViolation(video8k(25), DEFAULT_FILE_LIMITS)?.code).toBe('media_too_costly');
    expect(decodeCostViolation(video8k(5), DEFAULT_FILE_LIMITS)).toBeUndefined();
    const hd = (s: number) => ({ durationS: s, video: [{ index: 0, codec: 'h264', width: 1920, height: 1080, fps: 30, attachedPic: false }] });
    expect(decodeCostViolation(hd(3600), DEFAULT_FILE_LIMITS)).toBeUndefined();
    expect(decodeCostViolation(hd(3 * 3600), DEFAULT_FILE_LIMITS)?.message).toMatch(/more than one file may take/);
    // cover art decodes once: not a decode cost
    expect(decodeCostViolation({ durationS: 3600, video: [{ ...video8k(90).video[0], attachedPic: true }] }, DEFAULT_FILE_LIMITS)).toBeUndefined();
  });

  it("a video pass's deadline grows with pixels x seconds, within a 2 h ceiling", () => {
    const hd = childDeadlineMs('encode_video', 600, DEFAULT_DEADLINES, 1920 * 1080 * 30);
    const k8 = childDeadlineMs('encode_video', 600, DEFAULT_DEADLINES, 8192 * 4320 * 10);
    expect(k8).toBeGreaterThan(hd * 4);
    expect(childDeadlineMs('encode_video', 36_000, DEFAULT_DEADLINES, 8192 * 4320 * 10)).toBe(2 * 3600_000);
  });

  it('decodes with one thread, at reduced size where the codec can, and copies no metadata', () => {
    const enc = taskPolicy('moderate', model);
    expect(enc.mode).toBe('video');
    const spec = {
      kind: 'video' as const,
      format: 'mp4',
      audioCodec: 'aac',
      sampleRate: 16000,
      channels: 1,
      videoStream: 0,
      video: { codec: 'libx264', fps: 2, maxWidth: 640, maxHeight: 640, crf: 30, width: 640, height: 338 },
    };
    const args = encodeArgs('file:/x', spec, { sourceVideo: { codec: 'mjpeg', width: 8192, height: 4320 } });
    const i = args.indexOf('-i');
    expect(args.slice(0, i)).toEqual(expect.arrayContaining(['-threads', '1', '-lowres', '3']));
    expect(args.slice(i)).toEqual(expect.arrayContaining(['-map_metadata', '-1', '-map_chapters', '-1', '-filter_threads', '1']));
    expect(lowresFactor({ codec: 'h264', width: 8192, height: 4320 }, 640, 640)).toBe(0);
    expect(lowresFactor({ codec: 'mpeg2video', width: 1280, height: 720 }, 640, 640)).toBe(1);
    expect(lowresFactor({ codec: 'mjpeg', width: 640, height: 480 }, 640, 640)).toBe(0);
  });

  it('the child runs under prlimit --as, in an environment of PATH, locale and temp dir only', () => {
    const c = childArgv('ffmpeg', ['-i', 'x'], {
      deadlineMs: 1000,
      graceMs: 0,
      guards: { setpriv: 'setpriv', prlimit: 'prlimit' },
      memoryBytes: 768 * 1024 * 1024,
    });
    expect(c.args).toEqual(['--pdeathsig', 'SIGKILL', '--', 'prlimit', `--as=${768 * 1024 * 1024}`, '--', 'ffmpeg', '-i', 'x']);
    expect(childMemoryBytes()).toBe(768 * 1024 * 1024);
    expect(childMemoryBytes(0)).toBeUndefined();
    expect(childEnv({ PATH: '/bin', LANG: 'C.UTF-8', LC_ALL: 'C', TMPDIR: '/t', OMNI_API_KEY: 'k', AWS_SECRET_ACCESS_KEY: 's', HOME: '/root' })).toEqual({
      PATH: '/bin',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      TMPDIR: '/t',
    });
    expect(memoryRefusal('[h264 @ 0x5] get_buffer() failed\n')).toBe(true);
    expect(memoryRefusal('x264 [error]: malloc of size 8194 failed')).toBe(true);
    expect(memoryRefusal('Error while decoding stream #0:0: Invalid data found')).toBe(false);
  });
});

describe('decode cost: real files', () => {
  let tmp: string;
  let fast: string;
  let slow: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'decode-cost-'));
    // Two encoder children at once (one thread each, ~550 MB each).
    [fast, slow] = await Promise.all([decodeCostBomb(tmp, { fps: 25, seconds: 0.2 }), decodeCostBomb(tmp, { fps: 5, seconds: 2 })]);
  }, 180_000);
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('the 25 fps 8K bomb is refused before decoding in a video task, and admitted in an audio one', async () => {
    const info = await probeMedia(fast);
    expect(info.video[0]).toMatchObject({ width: 8192, height: 4320 });
    const facts = { probed: info, model, limits: DEFAULT_FILE_LIMITS };
    const refused = decidePrepareMedia({ ...facts, policy: taskPolicy('moderate', model) });
    expect(refused.kind === 'refuse' && refused.error.code).toBe('media_too_costly');
    // no audio track here: an audio task is refused for that (media_no_audio), never for the pictures' cost
    const audio = decidePrepareMedia({ ...facts, policy: taskPolicy('transcribe', model) });
    expect(audio.kind === 'refuse' && audio.error.code).toBe('media_no_audio');
  });

  it('the admitted 8K video decodes within 300 MB RSS per child', async () => {
    const mem = watchMemory(process.pid, 50);
    const out = await prepareChunks(slow, model, taskPolicy('moderate', model), { outDir: path.join(tmp, 'chunks'), tmpDir: tmp });
    const m = await mem.stop();
    expect(out.chunks.length).toBeGreaterThan(0);
    expect(out.plan.encode.kind).toBe('video');
    expect(m.childPeakMb).toBeGreaterThan(20); // the sampler saw the encode
    expect(m.childPeakMb).toBeLessThanOrEqual(300);
    console.log(`8K at 5 fps: peak child RSS ${m.childPeakMb} MB`);
  }, 120_000);

  it('a child over its memory limit fails media_too_costly, never with a short result', async () => {
    setChildMemory(340);
    try {
      const err = await prepareChunks(slow, model, taskPolicy('moderate', model), { outDir: path.join(tmp, 'chunks-low'), tmpDir: tmp }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OmniError);
      expect((err as OmniError).code).toBe('media_too_costly');
    } finally {
      setChildMemory(DEFAULT_CHILD_MEMORY_MB);
    }
  }, 120_000);

  it("a real child's /proc/<pid>/environ holds no API key, webhook secret or AWS credential", async () => {
    const secrets = { OMNI_API_KEY: 'sk-env-canary-1', OMNIBATCH_WEBHOOK_SECRET: 'whsec-env-canary-2', AWS_SECRET_ACCESS_KEY: 'aws-env-canary-3' };
    const saved = Object.fromEntries(Object.keys(secrets).map((k) => [k, process.env[k]]));
    Object.assign(process.env, secrets);
    const tag = `env-probe-${process.pid}-${Date.now()}`;
    const ac = new AbortController();
    // -re: the silence is made at its own pace, so the child lives until aborted (without it, 60 s of silence took
    // 0.2 s and a loaded machine's first look came after it had ended)
    const running = runFfmpeg(['-v', 'error', '-re', '-f', 'lavfi', '-i', 'anullsrc=r=8000', '-t', '60', '-metadata', `comment=${tag}`, '-f', 'null', '-'], {
      signal: ac.signal,
    }).catch(() => undefined);
    try {
      let envs: string[] = [];
      await expect
        .poll(
          async () => {
            envs = [];
            for (const pid of await descendants(process.pid)) {
              const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
              const bin = cmd.split('\0')[0];
              if (cmd.includes(tag) && (bin === 'ffmpeg' || bin.endsWith('/ffmpeg'))) envs.push(readFileSync(`/proc/${pid}/environ`, 'utf8'));
            }
            return envs.length;
          },
          { timeout: 15_000 },
        )
        .toBeGreaterThan(0);
      for (const env of envs) {
        const names = env
          .split('\0')
          .filter(Boolean)
          .map((kv) => kv.slice(0, kv.indexOf('=')));
        expect(names).toContain('PATH');
        for (const n of names) expect(n).toMatch(/^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TMPDIR|TMP|TEMP)$/);
        for (const v of Object.values(secrets)) expect(env).not.toContain(v);
      }
    } finally {
      ac.abort();
      await running;
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }, 60_000);

  it("chunks carry none of the uploader's tags, chapters or comments", async () => {
    const file = await taggedClip(tmp);
    const info = await probeMedia(file);
    expect(info.tagged).toBe(true);
    const out = await prepareChunks(file, model, taskPolicy('transcribe', model), { outDir: path.join(tmp, 'chunks-tag'), tmpDir: tmp });
    for (const c of out.chunks) {
      const bytes = await readFile(c.file);
      expect(bytes.includes('TAG-CANARY')).toBe(false);
      const j = (await ffprobeJson(c.file, { extra: ['-show_chapters'] })) as { format?: { tags?: Record<string, string> }; chapters?: unknown[] };
      expect(Object.keys(j.format?.tags ?? {}).filter((k) => k !== 'encoder')).toEqual([]);
      expect(j.chapters ?? []).toEqual([]);
    }
  }, 60_000);
});
