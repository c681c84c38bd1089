/**
 * A worker killed with SIGKILL runs no handler: its ffmpeg children must die anyway (child-argv.ts). Real
 * processes: a node script starts a long ffmpeg (a sine at native rate, so it idles) and the test SIGKILLs it.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';

const root = mkdtempSync(path.join(os.tmpdir(), `omnibatch-orphans-${randomUUID().slice(0, 8)}-`));
const started: number[] = [];

afterAll(() => {
  // A failed run must not leave its ffmpeg behind: these pids are the ones this file started.
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(root, { recursive: true, force: true });
});

/** Running (not a zombie: a reparented child may wait long for its reaper) processes whose command line has `needle`. */
function running(needle: string): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const d of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const state = readFileSync(`/proc/${d}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
      if (cmd.includes(needle) && state !== 'Z') out.push({ pid: Number(d), comm: readFileSync(`/proc/${d}/comm`, 'utf8').trim() });
    } catch {
      /* gone */
    }
  }
  return out;
}

async function waitFor<T>(f: () => T, ok: (v: T) => boolean, withinMs: number): Promise<T> {
  const until = Date.now() + withinMs;
  let v = f();
  while (!ok(v) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    v = f();
  }
  return v;
}

/** Starts `node <script>` whose body starts an ffmpeg marked with a unique sine frequency; resolves once it runs. */
async function parentWithFfmpeg(body: (ffArgs: string) => string): Promise<{ kill: () => Promise<void>; marker: string }> {
  const marker = `sine=frequency=${300 + Math.floor(Math.random() * 500)}.${Math.floor(Math.random() * 1e6)}:sample_rate=8000`;
  const ffArgs = JSON.stringify(['-v', 'error', '-re', '-f', 'lavfi', '-i', marker, '-f', 'null', '-']);
  const script = path.join(root, `parent-${randomUUID().slice(0, 8)}.ts`);
  writeFileSync(script, `${body(ffArgs)}\nsetInterval(() => undefined, 1000);\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  const procs = await waitFor(
    () => running(marker),
    (p) => p.some((x) => x.comm === 'ffmpeg'),
    20_000,
  );
  started.push(...procs.map((p) => p.pid));
  expect(procs.map((p) => p.comm)).toContain('ffmpeg');
  return {
    marker,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

describe('children of a worker killed with SIGKILL', () => {
  it("die with it: an ffmpeg started through runFfmpeg is gone within 2 s of its parent's SIGKILL", async () => {
    const ffmpeg = JSON.stringify(path.join(REPO_ROOT, 'src/media/ffmpeg.ts'));
    const p = await parentWithFfmpeg((ffArgs) => `import { runFfmpeg } from ${ffmpeg};\nrunFfmpeg(${ffArgs}).catch(() => undefined);`);
    await p.kill();
    const left = await waitFor(
      () => running(p.marker),
      (l) => l.length === 0,
      2_000,
    );
    expect(left).toEqual([]);
  }, 40_000);

  it('without setpriv, the orphan still dies at its own bound (timeout -s KILL), not at its end', async () => {
    const argv = JSON.stringify(path.join(REPO_ROOT, 'src/media/child-argv.ts'));
    // deadline 500 ms, no grace: the bound is 6 s. The parent spawns as ffmpeg.ts does, detached.
    const p = await parentWithFfmpeg(
      (ffArgs) => `import { spawn } from 'node:child_process';
import { childArgv } from ${argv};
const c = childArgv('ffmpeg', ${ffArgs}, { deadlineMs: 500, graceMs: 0, guards: { timeout: 'timeout' } });
spawn(c.file, c.args, { stdio: 'ignore', detached: true });`,
    );
    const t0 = Date.now();
    await p.kill();
    await new Promise((r) => setTimeout(r, 1_000));
    // Orphaned, not killed: only the bound ends it.
    expect(running(p.marker).map((x) => x.comm)).toContain('ffmpeg');
    const left = await waitFor(
      () => running(p.marker),
      (l) => l.length === 0,
      10_000,
    );
    expect(left).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 40_000);
});
