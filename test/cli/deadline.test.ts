/**
 * `estimate --deadline` on a 10,000-audio-minute archive, as a real process, and `run --deadline` refused
 * before anything exists. The archive is one generated 200-minute MP3 hard-linked 50 times: estimate only
 * probes (never decodes) each object, so the links stand for 50 distinct files at the cost of one. (It was 250
 * links of 40 minutes: the same minutes, but 250 ffprobes per estimate made this file 2 minutes of the suite.)
 */
import { execFile } from 'node:child_process';
import { link, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { dropPrefix, offlineEnv, runCli, silentMp3 } from '../helpers/cli.ts';
import { testRedis } from '../helpers/redis.ts';

const exec = promisify(execFile);
const FILES = 50;
const FILE_S = 12_000;

describe('--deadline', () => {
  let tmp: string;
  let env: Record<string, string>;
  let emulator: Emulator | undefined;
  const cli = (...args: string[]) => runCli(args, { env, timeoutMs: 180_000 });
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-deadline-'));
    // run --wait learns of the run's end within 100 ms, not 1 s
    env = { ...offlineEnv('deadline-test', tmp), OMNIBATCH_WAIT_POLL_MS: '100' };
    await mkdir(path.join(tmp, 'archive'), { recursive: true });
    const one = path.join(tmp, 'one.mp3');
    await silentMp3(one, FILE_S);
    for (let i = 0; i < FILES; i++) await link(one, path.join(tmp, 'archive', `tape-${String(i).padStart(3, '0')}.mp3`));
    await mkdir(path.join(tmp, 'small'), { recursive: true });
    // 2 x 200 min: the 400 audio-minutes the deadline refusals below reason about
    for (let i = 0; i < 2; i++) await link(one, path.join(tmp, 'small', `tape-${i}.mp3`));
  }, 120_000);
  afterAll(async () => {
    await dropPrefix(env.OMNIBATCH_PREFIX);
    await emulator?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('estimate --deadline 8h on 10,000 audio-minutes: 30-s chunks at 60 RPM, longer ones at 30 RPM, and says so', async () => {
    const t0 = Date.now();
    // The two estimates of the archive are independent: in parallel (each probes 50 objects).
    const [fast, slow] = await Promise.all(
      ['60', '30'].map((rpm) =>
        cli('estimate', path.join(tmp, 'archive'), '--task', 'caption', '--rpm', rpm, '--tpm', '1000000', '--deadline', '8h', '--json'),
      ),
    );
    expect(fast.stderr).toBe('');
    const a = JSON.parse(fast.stdout);
    expect(a.files).toBe(FILES);
    expect(a.media_seconds / 60).toBeGreaterThanOrEqual(10_000);
    expect(a.deadline).toMatchObject({ chunk_seconds: 30, default_chunk_seconds: 30, lengthened: false });
    expect(a.requests).toBe(FILES * 401); // 12000.19 s (the encoder's padding) in at most 30-s parts
    expect(a.wall_binding).toBe('rpm');

    expect(slow.stderr).toBe('');
    const b = JSON.parse(slow.stdout);
    expect(b.deadline.chunk_seconds).toBe(45);
    expect(b.deadline.lengthened).toBe(true);
    expect(b.deadline.tried[0]).toMatchObject({ chunk_seconds: 30, binding: 'rpm' });
    expect(b.deadline.tried[0].wall_seconds).toBeGreaterThan(8 * 3600);
    expect(b.requests).toBe(FILES * 267);
    expect(b.input_tokens.audio).toBeGreaterThan(7_500_000);
    expect(b.cost.expected.priced).toBe(true);
    const finish = Date.parse(b.deadline.predicted_finish);
    expect(finish).toBeGreaterThan(t0);
    expect(finish).toBeLessThanOrEqual(Date.parse(b.deadline.deadline));
    expect(Date.parse(b.deadline.deadline) - t0).toBeGreaterThanOrEqual(8 * 3600 * 1000 - 1000);

    // The human form names the chosen length, why, requests, tokens, cost and the predicted finish. The same
    // choice on the 2 x 200-min folder (a third probe of all 50 objects only to print them): 802 30-s requests
    // at 2 RPM are 6 h 41 min, 534 45-s ones 4 h 27 min.
    const text = await cli('estimate', path.join(tmp, 'small'), '--task', 'caption', '--rpm', '2', '--tpm', '1000000', '--deadline', '5h');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/534 requests/);
    expect(text.stdout).toMatch(/input tokens: \d+/);
    expect(text.stdout).toMatch(/cost: [\d.]+ - [\d.]+ USD/);
    expect(text.stdout).toMatch(/45-s chunks \(longer than the 30-s default, to make the deadline\)/);
    expect(text.stdout).toMatch(/30-s chunks would take 6 h 41 min \(bound by rpm\)/);
    expect(text.stdout).toMatch(/predicted finish \d{4}-\d\d-\d\dT/);
  }, 300_000);

  it('a deadline no chunk length can meet is refused with the earliest achievable finish; run creates nothing', async () => {
    // 2 x 200 min: 300,000 audio tokens at 5,000 TPM take an hour whatever the chunk length (ample concurrency: TPM binds).
    // Three independent processes: in parallel.
    const [e, r, bad] = await Promise.all([
      cli('estimate', path.join(tmp, 'small'), '--task', 'caption', '--tpm', '5000', '--infer-concurrency', '1000', '--deadline', '30m'),
      cli(
        'run',
        path.join(tmp, 'small'),
        '--out',
        path.join(tmp, 'out'),
        '--task',
        'caption',
        '--tpm',
        '5000',
        '--infer-concurrency',
        '1000',
        '--deadline',
        '30m',
      ),
      cli('estimate', path.join(tmp, 'small'), '--task', 'caption', '--deadline', 'tomorrowish'),
    ]);
    expect(e.code).not.toBe(0);
    expect(e.stderr).toMatch(/deadline_unreachable: no chunk length finishes by .*: the earliest achievable finish is \d{4}-\d\d-\d\dT[\d:.]+Z .*bound by tpm/);

    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/deadline_unreachable/);
    const redis = testRedis();
    try {
      expect(await redis.keys(`${env.OMNIBATCH_PREFIX}:*run*`)).toEqual([]);
      expect(await redis.keys(`${env.OMNIBATCH_PREFIX}:bull:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/deadline_invalid/);
  }, 300_000);

  it('run --deadline stores the predicted finish and the report shows predicted vs actual', async () => {
    emulator = await startEmulator({ apiKey: 'sk-deadline-test' });
    env.OMNI_BASE_URL = `${emulator.url}/compatible-mode/v1`;
    await mkdir(path.join(tmp, 'tiny'), { recursive: true });
    await exec(
      'ffmpeg',
      [
        '-v',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:sample_rate=16000',
        '-t',
        '50',
        '-c:a',
        'libmp3lame',
        '-b:a',
        '32k',
        path.join(tmp, 'tiny', 'clip.mp3'),
      ],
      { timeout: 60_000 },
    );
    const t0 = Date.now();
    const r = await cli('run', path.join(tmp, 'tiny'), '--out', path.join(tmp, 'tiny-out'), '--task', 'caption', '--deadline', '2h', '--wait', '--json');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout).report.deadline;
    expect(Date.parse(d.deadline) - t0).toBeGreaterThanOrEqual(2 * 3600 * 1000 - 1000);
    expect(Date.parse(d.predicted_finish)).toBeGreaterThan(t0);
    expect(Date.parse(d.predicted_finish)).toBeLessThan(Date.parse(d.deadline));
    expect(Date.parse(d.actual_finish)).toBeGreaterThan(t0);
    // + 0: JSON has no -0, so a round to -0 (under half a second early) reads back as 0
    expect(d.prediction_error_s).toBe(Math.round((Date.parse(d.actual_finish) - Date.parse(d.predicted_finish)) / 1000) + 0);
    expect(d.late_s).toBeLessThan(0);
  }, 180_000);

  it('schedule add --deadline plans now, fixes the chunk length into the schedule, and refuses what cannot be met', async () => {
    const add = (name: string, deadline: string) =>
      cli(
        'schedule',
        'add',
        name,
        path.join(tmp, 'small'),
        '--cron',
        '0 2 * * *',
        '--out',
        path.join(tmp, 'sched-out'),
        '--task',
        'caption',
        '--deadline',
        deadline,
      );
    const saved = { ...env };
    env.OMNIBATCH_TPM = '5000';
    env.OMNIBATCH_INFER_CONCURRENCY = '1000';
    try {
      // (the environment is read when each process starts: both start here, before it changes below)
      const [late, fixed] = await Promise.all([add('late', '30m'), add('fixed', '2026-12-02T06:00:00Z')]);
      expect(late.code).toBe(1);
      expect(late.stderr).toMatch(/deadline_unreachable: .*earliest achievable finish/);
      expect(fixed.stderr).toMatch(/deadline_invalid: .*duration \(8h\) or a time of day/);
      env.OMNIBATCH_TPM = '1000000';
      env.OMNIBATCH_RPM = '2'; // 2 x 200 min: 802 30-s requests at 2 RPM are 6 h 41 min; 45-s chunks (534) make 4 h 27 min
      const ok = await add('nightly', '5h');
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/45-s chunks \(longer than the 30-s default/);
      const list = JSON.parse((await cli('schedule', 'list', '--json')).stdout) as { name: string; request: Record<string, unknown> }[];
      expect(list.map((x) => x.name)).toEqual(['nightly']);
      expect(list[0].request).toMatchObject({ chunkSeconds: 45, deadline: '5h' });
      expect(list[0].request.plannedWallS as number).toBeLessThanOrEqual(5 * 3600);
    } finally {
      for (const k of Object.keys(env)) delete env[k];
      Object.assign(env, saved);
    }
  }, 180_000);
});
