// `omnibatch emulator` as a real process: banner, serving, flags applied, clean exit on SIGTERM.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';
import { CHAT, chatRequest, post } from './helpers.ts';

describe('omnibatch emulator', () => {
  it('prints its base URLs, serves with the given flags, and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(REPO_ROOT, 'test/emulator/cli-runner.ts'),
        'emulator',
        '--port',
        '0',
        '--api-key',
        'sk-cli',
        '--fail-5xx',
        '1',
        '--seed',
        '5',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
    });
    const exited = once(child, 'exit').then(() => {
      throw new Error(`exited early: ${out}`);
    });
    while (!out.includes('/api/v1')) await Promise.race([once(child.stdout, 'data'), exited]);
    const url = /emulator listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
    expect(out).toContain(`OMNI_BASE_URL=${url}/compatible-mode/v1`);
    expect(out).toContain(`OMNI_BASE_URL=${url}/v1`);
    expect(out).toContain(`OMNI_BASE_URL=${url}/api/v1`);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await post(url, CHAT, chatRequest(), { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await post(url, CHAT, chatRequest(), { authorization: 'Bearer sk-cli' })).status).toBeGreaterThanOrEqual(500);
    const stats = (await (await fetch(`${url}/stats`)).json()) as { requests: number; faults: Record<string, number> };
    expect(stats.requests).toBe(2);
    exited.catch(() => undefined); // from here on, exiting is what we ask for
    const exit = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exit;
    expect(code).toBe(0);
    expect(out).toContain('emulator stopped');
  });

  it('takes the fidelity options from flags (stream content type, input ceiling)', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(REPO_ROOT, 'test/emulator/cli-runner.ts'),
        'emulator',
        '--port',
        '0',
        '--stream-content-type',
        'text/plain; charset=utf-8',
        '--responses-audio-parts',
        '3',
        '--template-text-tokens',
        '7',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        out += d;
      });
      while (!out.includes('/api/v1')) await once(child.stdout, 'data');
      const url = /emulator listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
      const r = await post(url, CHAT, chatRequest());
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      await r.text();
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('rejects a bad flag value', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/emulator/cli-runner.ts'), 'emulator', '--cut', '2'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      err += d;
    });
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(err).toMatch(/--cut/);
  });
});
