/**
 * The command contract users script against, as real processes: run --wait --json and its exit codes,
 * status, runs, report --csv, retry, cancel, estimate, schedule, and one clear line for bad settings.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { dropPrefix, runCli } from '../helpers/cli.ts';
import { media } from '../helpers/paths.ts';
import { testRedis } from '../helpers/redis.ts';

const exec = promisify(execFile);

describe('omnibatch commands', () => {
  let emulator: Emulator;
  let tmp: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env, timeoutMs: 120_000 });
  beforeAll(async () => {
    emulator = await startEmulator({ apiKey: 'sk-cli-test' });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-cli-'));
    env = {
      OMNI_BASE_URL: `${emulator.url}/compatible-mode/v1`,
      OMNI_API_KEY: 'sk-cli-test',
      OMNIBATCH_PREFIX: `cli-${randomUUID().slice(0, 8)}`,
      LOG_LEVEL: 'silent',
      OMNIBATCH_TMP: path.join(tmp, 'work'),
      OMNIBATCH_LOCK_MS: '3000',
      // run --wait learns of the run's end within 100 ms, not 1 s
      OMNIBATCH_WAIT_POLL_MS: '100',
    };
    await mkdir(path.join(tmp, 'in'), { recursive: true });
    await cp(media('whisper__jfk.flac'), path.join(tmp, 'in/jfk.flac'));
    await cp(media('fp__invalid.flac'), path.join(tmp, 'in/broken.flac'));
  });
  afterAll(async () => {
    await dropPrefix(env.OMNIBATCH_PREFIX);
    await emulator?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('run --wait --json: one object with run_id first and the report; exit 2 when a file failed', async () => {
    const r = await cli('run', path.join(tmp, 'in'), '--out', path.join(tmp, 'out'), '--task', 'caption', '--wait', '--json');
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)[0]).toBe('run_id');
    expect(out.report.status).toBe('completed_with_failures');
    expect(out.report.counts).toMatchObject({ total: 2, succeeded: 1, failed: 1 });

    // three reads of the finished run, independent: in parallel
    const [st, runs, rep] = await Promise.all([cli('status', out.run_id, '--json'), cli('runs'), cli('report', out.run_id, '--csv')]);
    const status = JSON.parse(st.stdout);
    expect(status).toMatchObject({ run_id: out.run_id, status: 'completed_with_failures' });
    expect(status.cost.amount_micros).toBe(out.report.cost.actual.amount_micros);
    expect(runs.stdout).toContain(out.run_id);
    const csv = rep.stdout.trim().split('\n');
    expect(csv[0].startsWith('uri,status,')).toBe(true);
    expect(csv).toHaveLength(3);

    // retry: only the failed file goes again (and fails again with its code); the succeeded one is not re-sent.
    const before = emulator.stats().requests;
    const rt = await cli('retry', out.run_id);
    expect(rt.stdout).toContain('1 failed file(s) queued again');
    expect(rt.stderr).toContain('no worker is running'); // said, not left waiting silently
    const again = await cli('status', out.run_id, '--json');
    expect(JSON.parse(again.stdout).status).toBe('running'); // no worker: the reopened file waits
    // At the default poll (1 s): its workers stop once it has seen its own run end, and the queued retry of the
    // other run needs that second to be drained too (at 100 ms it was sometimes left queued: status 'running').
    const w = await runCli(['run', path.join(tmp, 'in'), '--out', path.join(tmp, 'out'), '--task', 'caption', '--wait', '--json'], {
      env: { ...env, OMNIBATCH_WAIT_POLL_MS: undefined },
      timeoutMs: 120_000,
    });
    expect(JSON.parse(w.stdout).report.counts).toMatchObject({ skipped: 1, failed: 1 }); // its embedded workers also drained the retry
    const retried = JSON.parse((await cli('status', out.run_id, '--json')).stdout);
    expect(retried.status).toBe('completed_with_failures');
    expect(emulator.stats().requests).toBe(before);
    // retry --wait: workers in its own process, to the end, with run --wait's exit code
    const rw = await cli('retry', out.run_id, '--wait');
    expect(rw.stdout).toContain('1 failed file(s) queued again');
    expect(rw.stdout).toContain('completed_with_failures\n');
    expect(rw.code).toBe(2);
  }, 180_000);

  it('run without --wait prints the run id; cancel ends it with pending files not run', async () => {
    const r = await cli('run', path.join(tmp, 'in'), '--out', path.join(tmp, 'out2'), '--task', 'transcribe');
    const runId = r.stdout.trim();
    expect(runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    // nothing listens: said, not left silent at running 0/0
    expect(r.stderr).toContain('no worker is running');
    const c = await cli('cancel', runId);
    expect(c.stdout).toContain('cancelled');
    expect(c.stderr).toContain('stays "stopping"');
    const [st, rep] = await Promise.all([cli('status', runId, '--json'), cli('report', runId, '--json')]);
    const s = JSON.parse(st.stdout);
    expect(s.stop_reason).toBe('cancelled');
    // No worker ran: every file ends not run, and the report (written by the next worker) says cancelled.
    expect(s.counts).toMatchObject({ not_run: s.counts.total, succeeded: 0 });
    const report = JSON.parse(rep.stdout);
    expect(report.status).toBe('cancelled');
    expect(report.counts.not_run).toBe(report.counts.total);
    // --wait: a worker in the command's own process writes the report; the run ends cancelled (exit 2)
    const cw = await cli('cancel', runId, '--wait');
    expect(cw.stdout).toContain('cancelled\n');
    expect(cw.code).toBe(2);
    expect(JSON.parse((await cli('status', runId, '--json')).stdout).status).toBe('cancelled');
  }, 180_000);

  it('estimate prices the plan without sending anything', async () => {
    const before = emulator.stats().requests;
    const r = await cli('estimate', path.join(tmp, 'in'), '--task', 'caption', '--json');
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout);
    expect(e.files).toBe(1);
    expect(e.requests).toBe(1);
    expect(e.input_tokens.audio).toBe(Math.ceil(11 * 12.5));
    expect(e.cost.expected.currency).toBe('USD');
    expect(e.failures.map((f: { code: string }) => f.code)).toEqual(['media_unreadable']);
    expect(emulator.stats().requests).toBe(before);
  }, 60_000);

  it('schedule add/list/remove', async () => {
    expect(
      (await cli('schedule', 'add', 'nightly', path.join(tmp, 'in'), '--cron', '0 2 * * *', '--out', path.join(tmp, 'out3'), '--task', 'caption')).code,
    ).toBe(0);
    expect((await cli('schedule', 'list')).stdout).toContain('nightly');
    expect((await cli('schedule', 'remove', 'nightly')).stdout).toContain('removed');
    expect((await cli('schedule', 'list')).stdout).not.toContain('nightly');
  }, 60_000);

  it('a bad setting stops with one message listing every bad setting', async () => {
    const r = await runCli(['runs'], { env: { ...env, REDIS_URL: 'http://nope', OMNI_PROTOCOL: 'grpc' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^omnibatch: config_invalid: invalid configuration:/);
    expect(r.stderr).toContain('REDIS_URL');
    expect(r.stderr).toContain('OMNI_PROTOCOL');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('never writes the API key to outputs or Redis', async () => {
    // grep exits 1 when nothing matches: that is the success case; any other failure is a test failure.
    const found = await exec('grep', ['-rl', 'sk-cli-test', tmp]).then(
      (r) => r.stdout,
      (e: { code: number; stdout: string }) => {
        if (e.code === 1) return '';
        throw e;
      },
    );
    expect(found).toBe('');
    const r = testRedis();
    try {
      const keys = await r.keys(`${env.OMNIBATCH_PREFIX}:*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const k of keys) {
        expect(k).not.toContain('sk-cli-test');
        const type = await r.type(k);
        const dump =
          type === 'string'
            ? await r.get(k)
            : type === 'hash'
              ? JSON.stringify(await r.hgetall(k))
              : type === 'list'
                ? JSON.stringify(await r.lrange(k, 0, -1))
                : type === 'zset'
                  ? JSON.stringify(await r.zrange(k, '0', '-1'))
                  : '';
        expect(dump ?? '', k).not.toContain('sk-cli-test');
      }
    } finally {
      r.disconnect();
    }
  });
});
