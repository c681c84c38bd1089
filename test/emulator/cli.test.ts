// `omnibatch emulator` as a real process: banner, serving, flags applied, clean exit on SIGTERM.

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMULATOR_ENTRY, type RunningCli, runCli, startCli } from '../helpers/cli.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { CHAT, chatRequest, post } from './helpers.ts';

/** The emulator's base URL, once it has printed its banner (the /api/v1 line comes last). */
async function listening(emu: RunningCli): Promise<string> {
  await emu.waitFor('stdout', /\/api\/v1/);
  return /emulator listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(emu.output.stdout)![1];
}

describe('omnibatch emulator', () => {
  it('prints its base URLs, serves with the given flags, and stops on SIGTERM', async () => {
    const emu = startCli(['emulator', '--port', '0', '--api-key', 'sk-cli', '--fail-5xx', '1', '--seed', '5'], { entry: EMULATOR_ENTRY });
    try {
      const url = await listening(emu);
      const out = emu.output;
      expect(out.stdout).toContain(`OMNI_BASE_URL=${url}/compatible-mode/v1`);
      expect(out.stdout).toContain(`OMNI_BASE_URL=${url}/v1`);
      expect(out.stdout).toContain(`OMNI_BASE_URL=${url}/api/v1`);
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
      expect((await post(url, CHAT, chatRequest(), { authorization: 'Bearer nope' })).status).toBe(401);
      expect((await post(url, CHAT, chatRequest(), { authorization: 'Bearer sk-cli' })).status).toBeGreaterThanOrEqual(500);
      const stats = (await (await fetch(`${url}/stats`)).json()) as { requests: number; faults: Record<string, number> };
      expect(stats.requests).toBe(2);
      expect(await emu.stop('SIGTERM')).toBe(0);
      expect(out.stdout).toContain('emulator stopped');
    } finally {
      await emu.stop('SIGKILL');
    }
  });

  it('takes the fidelity options from flags (stream content type, input ceiling)', async () => {
    const emu = startCli(
      ['emulator', '--port', '0', '--stream-content-type', 'text/plain; charset=utf-8', '--responses-audio-parts', '3', '--template-text-tokens', '7'],
      { entry: EMULATOR_ENTRY },
    );
    try {
      const url = await listening(emu);
      const r = await post(url, CHAT, chatRequest());
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      await r.text();
    } finally {
      await emu.stop('SIGTERM');
    }
  });

  it("--catalog serves a catalog file's model by its names and protocols; without it, the name is 404", async () => {
    const catalog = path.join(REPO_ROOT, 'test/fixtures/catalog/new-model.json');
    const emu = startCli(['emulator', '--port', '0', '--catalog', catalog], { entry: EMULATOR_ENTRY });
    try {
      const url = await listening(emu);
      const ok = await post(url, CHAT, chatRequest({ model: 'qwen3.5-omni-flash' }));
      expect(ok.status).toBe(200);
      await ok.text();
      // its -all name is listed for the responses endpoint only, as a real DashScope would not serve it
      expect((await post(url, CHAT, chatRequest({ model: 'qwen3.5-omni-flash-all' }))).status).toBe(404);
    } finally {
      await emu.stop('SIGTERM');
    }
  });

  it('rejects a bad flag value', async () => {
    const r = await runCli(['emulator', '--cut', '2'], { entry: EMULATOR_ENTRY });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--cut/);
  });
});
