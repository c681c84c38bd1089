/**
 * Issue 19, `run --wait` as a real process against real Redis and the emulator: it stops waiting (no_worker,
 * exit 1) when the outside worker it relied on is gone; with its own workers it exits only after the webhook is
 * delivered; a webhook URL with user:password@ is refused before the run exists.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { dropPrefix, runCli, startCli } from '../helpers/cli.ts';
import { testRedis } from '../helpers/redis.ts';

describe('run --wait', () => {
  let tmp: string;
  let src: string;
  const emulators: Emulator[] = [];
  const prefixes: string[] = [];
  const env = async (name: string, emu: Emulator) => {
    const prefix = `${name}-${Date.now().toString(36)}`;
    prefixes.push(prefix);
    return {
      OMNIBATCH_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      OMNIBATCH_TMP: path.join(tmp, 'work'),
      OMNI_BASE_URL: `${emu.url}/compatible-mode/v1`,
      OMNI_API_KEY: 'sk-run-wait',
      // run --wait learns of the run's end within 100 ms, not 1 s
      OMNIBATCH_WAIT_POLL_MS: '100',
    };
  };
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'run-wait-'));
    src = path.join(tmp, 'in');
    await mkdir(src, { recursive: true });
    await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=440:r=16000:d=3', '-c:a', 'libmp3lame', '-y', `file:${path.join(src, 'a.mp3')}`]);
  });
  afterAll(async () => {
    for (const e of emulators) await e.close();
    for (const p of prefixes) await dropPrefix(p);
    await rm(tmp, { recursive: true, force: true });
  });

  it('stops waiting with no_worker (exit 1) when the outside worker is gone, and the run stays', async () => {
    // requests hang: the worker is still busy when it is killed
    const emu = await startEmulator({ apiKey: 'sk-run-wait', ttfbMs: 60_000 });
    emulators.push(emu);
    const e = await env('wait-noworker', emu);
    const worker = startCli(['worker'], { env: e });
    const redis = testRedis();
    const infer = new Queue('omnibatch-infer', { connection: redis, prefix: e.OMNIBATCH_PREFIX });
    try {
      await expect.poll(() => infer.getWorkersCount(), { timeout: 30_000 }).toBeGreaterThan(0);
      const waiting = startCli(['run', src, '--out', path.join(tmp, 'out-1'), '--task', 'transcribe', '--wait', '--worker-grace', '3'], { env: e });
      await expect.poll(() => emu.stats().requests, { timeout: 60_000 }).toBeGreaterThan(0);
      await worker.stop('SIGKILL');
      const t0 = Date.now();
      const code = await Promise.race([waiting.closed, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
      if (code === 'hung') await waiting.stop('SIGKILL');
      expect(code).toBe(1);
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(waiting.output.stderr).toMatch(/no_worker/);
      expect(waiting.output.stderr).toMatch(/omnibatch worker/);
    } finally {
      await worker.stop('SIGKILL');
      await infer.close();
      redis.disconnect();
    }
  }, 120_000);

  it('with its own workers, exits only after the end-of-run webhook is delivered', async () => {
    const emu = await startEmulator({ apiKey: 'sk-run-wait' });
    emulators.push(emu);
    const e = await env('wait-webhook', emu);
    const received: number[] = [];
    const receiver: Server = createServer((req, res) => {
      req.resume();
      // a slow receiver: the run has ended long before it answers
      setTimeout(() => {
        received.push(Date.now());
        res.writeHead(200).end('ok');
      }, 1500);
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (receiver.address() as AddressInfo).port;
      const r = await runCli(
        [
          'run',
          src,
          '--out',
          path.join(tmp, 'out-2'),
          '--task',
          'transcribe',
          '--wait',
          '--notify-url',
          `http://127.0.0.1:${port}/hook`,
          '--allow-unsigned-webhooks',
        ],
        { env: e, timeoutMs: 90_000 },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(received).toHaveLength(1);
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  }, 120_000);

  it('refuses a webhook URL with user:password@ before the run exists, with its code', async () => {
    const emu = await startEmulator({ apiKey: 'sk-run-wait' });
    emulators.push(emu);
    const e = await env('wait-creds', emu);
    const r = await runCli(
      ['run', src, '--out', path.join(tmp, 'out-3'), '--task', 'transcribe', '--notify-url', 'https://user:pw@127.0.0.1:9/hook', '--allow-unsigned-webhooks'],
      {
        env: e,
        timeoutMs: 60_000,
      },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/webhook_credentials_in_url/);
    expect(r.stderr).not.toContain('pw@');
    expect(emu.stats().requests).toBe(0);
  }, 60_000);
});
