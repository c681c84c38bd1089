/**
 * A worker killed with SIGKILL runs no handler: its ffmpeg children must die anyway (child-argv.ts). Real
 * processes: a node script starts a long ffmpeg (a sine at native rate, so it idles) and the test SIGKILLs it.
 * The two cases run at the same time (each has its own parent, ffmpeg and marker): the second waits out its
 * orphan bound while the first runs.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, type ExpectStatic, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';
import { commsWith, processesWith } from '../helpers/processes.ts';

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

/** Starts `node <script>` whose body starts an ffmpeg marked with a unique sine frequency; resolves once it runs. */
async function parentWithFfmpeg(expect: ExpectStatic, body: (ffArgs: string) => string): Promise<{ kill: () => Promise<void>; marker: string }> {
  const marker = `sine=frequency=${300 + Math.floor(Math.random() * 500)}.${Math.floor(Math.random() * 1e6)}:sample_rate=8000`;
  const ffArgs = JSON.stringify(['-v', 'error', '-re', '-f', 'lavfi', '-i', marker, '-f', 'null', '-']);
  const script = path.join(root, `parent-${randomUUID().slice(0, 8)}.ts`);
  writeFileSync(script, `${body(ffArgs)}\nsetInterval(() => undefined, 1000);\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  await expect.poll(() => commsWith(marker), { timeout: 20_000, interval: 100 }).toContain('ffmpeg');
  started.push(...processesWith(marker).map((p) => p.pid));
  return {
    marker,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

describe.concurrent('children of a worker killed with SIGKILL', () => {
  it("die with it: an ffmpeg started through runFfmpeg is gone within 2 s of its parent's SIGKILL", async ({ expect }) => {
    const ffmpeg = JSON.stringify(path.join(REPO_ROOT, 'src/media/ffmpeg.ts'));
    const p = await parentWithFfmpeg(expect, (ffArgs) => `import { runFfmpeg } from ${ffmpeg};\nrunFfmpeg(${ffArgs}).catch(() => undefined);`);
    await p.kill();
    await expect.poll(() => commsWith(p.marker), { timeout: 2_000, interval: 100 }).toEqual([]);
  }, 40_000);

  it('without setpriv, the orphan still dies at its own bound (timeout -s KILL), not at its end', async ({ expect }) => {
    const argv = JSON.stringify(path.join(REPO_ROOT, 'src/media/child-argv.ts'));
    // no deadline, no grace: the bound is the margin alone, 5 s. The parent spawns as ffmpeg.ts does, detached.
    const p = await parentWithFfmpeg(
      expect,
      (ffArgs) => `import { spawn } from 'node:child_process';
import { childArgv } from ${argv};
const c = childArgv('ffmpeg', ${ffArgs}, { deadlineMs: 0, graceMs: 0, guards: { timeout: 'timeout' } });
spawn(c.file, c.args, { stdio: 'ignore', detached: true });`,
    );
    const t0 = Date.now();
    await p.kill();
    // Orphaned, not killed: it outlives its parent, and only the bound ends it.
    expect(commsWith(p.marker)).toContain('ffmpeg');
    await expect.poll(() => commsWith(p.marker), { timeout: 10_000, interval: 100 }).toEqual([]);
    // It lived on for a while (the bound is 5 s from its start, which was moments before the kill), not a
    // poll interval as a child killed with its parent would.
    expect(Date.now() - t0).toBeGreaterThan(1_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 40_000);
});
