/**
 * Per-job temp dirs: removed on every path, confined to their base, and swept at startup when the
 * process that made them was killed. The killed process here is real (SIGKILL mid-job).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { setTempBase, sweepTempDirs, tempBase, withTempDir } from '../../src/storage/temp.ts';
import { REPO_ROOT } from '../helpers/paths.ts';

let root: string;
let n = 0;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-temp-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshBase = async () => {
  const b = path.join(root, `base-${++n}`);
  await mkdir(b);
  return b;
};

/**
 * A real process that makes a temp dir with withTempDir, prints it, then either kills itself with
 * SIGKILL inside the job (so nothing can clean up) or waits until its stdin closes.
 */
function child(base: string, mode: 'kill' | 'wait'): { dir: Promise<string>; exited: Promise<NodeJS.Signals | number | null>; release(): void } {
  const code = `
    import { withTempDir } from ${JSON.stringify(path.join(REPO_ROOT, 'src/storage/temp.ts'))};
    await withTempDir('child job', async (dir) => {
      process.stdout.write(dir + '\\n');
      ${mode === 'kill' ? "process.kill(process.pid, 'SIGKILL');" : "await new Promise((r) => process.stdin.on('end', r).resume());"}
    }, { base: ${JSON.stringify(base)} });`;
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const dir = new Promise<string>((resolve, reject) => {
    p.stdout.on('data', (c: Buffer) => {
      out += c;
      if (out.includes('\n')) resolve(out.trim());
    });
    p.on('exit', () => reject(new Error(`child exited before printing its dir: ${out}`)));
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => p.on('exit', (c, s) => resolve(s ?? c)));
  dir.catch(() => undefined);
  return { dir, exited, release: () => p.stdin.end() };
}

describe('withTempDir', () => {
  it('gives a fresh dir inside the base and removes it after success', async () => {
    const base = await freshBase();
    let seen = '';
    const result = await withTempDir(
      'prep-1',
      async (dir) => {
        seen = dir;
        expect(path.dirname(dir)).toBe(base);
        await writeFile(path.join(dir, 'f.bin'), 'x');
        await mkdir(path.join(dir, 'chunks', 'deep'), { recursive: true });
        return 42;
      },
      { base },
    );
    expect(result).toBe(42);
    expect(existsSync(seen)).toBe(false);
    expect(await readdir(base)).toEqual([]);
  });

  it('removes the dir when the job throws, and rethrows the job error', async () => {
    const base = await freshBase();
    let seen = '';
    const boom = new Error('job failed');
    await expect(
      withTempDir(
        'x',
        async (dir) => {
          seen = dir;
          await writeFile(path.join(dir, 'f'), 'x');
          throw boom;
        },
        { base },
      ),
    ).rejects.toBe(boom);
    expect(existsSync(seen)).toBe(false);
    expect(await readdir(base)).toEqual([]);
  });

  it('keeps any label inside the base', async () => {
    const base = await freshBase();
    await withTempDir(
      '../../etc/x y/..',
      async (dir) => {
        expect(path.dirname(dir)).toBe(base);
        expect(path.basename(dir)).not.toContain('..');
      },
      { base },
    );
  });

  it("uses the configured base (Config's tmpDir, OMNIBATCH_TMP) when no base is given", async () => {
    const base = await freshBase();
    setTempBase(loadConfig({ env: { OMNIBATCH_TMP: base } }).tmpDir);
    try {
      await withTempDir('env', async (dir) => {
        expect(path.dirname(dir)).toBe(base);
      });
    } finally {
      setTempBase(undefined);
    }
    expect(tempBase()).toBe(path.resolve(os.tmpdir()));
  });
});

describe('sweepTempDirs', () => {
  it("removes the dir of a killed process, keeps a live process's and this process's active one", async () => {
    const base = await freshBase();
    const killed = child(base, 'kill');
    const killedDir = await killed.dir;
    expect(await killed.exited).toBe('SIGKILL');
    expect(existsSync(killedDir)).toBe(true); // nothing could clean up

    const live = child(base, 'wait');
    const liveDir = await live.dir;
    try {
      await withTempDir(
        'mine',
        async (mine) => {
          expect(await sweepTempDirs({ base })).toBe(1);
          expect(existsSync(killedDir)).toBe(false);
          expect(existsSync(liveDir)).toBe(true);
          expect(existsSync(mine)).toBe(true);
        },
        { base },
      );
    } finally {
      live.release();
    }
    await live.exited;
    expect(await readdir(base)).toEqual([]); // the live child cleaned up after itself
  });

  it('removes dirs older than maxAgeMs from any host, and ignores names it did not make', async () => {
    const base = await freshBase();
    const oldOther = path.join(base, 'omnibatch-deadbeef-1-job-abc123');
    const newOther = path.join(base, 'omnibatch-deadbeef-1-job-def456');
    const foreign = path.join(base, 'someone-elses-dir');
    for (const d of [oldOther, newOther, foreign]) await mkdir(d);
    const twoDaysAgo = new Date(Date.now() - 48 * 3600 * 1000);
    await utimes(oldOther, twoDaysAgo, twoDaysAgo);
    await utimes(foreign, twoDaysAgo, twoDaysAgo);
    expect(await sweepTempDirs({ base })).toBe(1);
    expect((await readdir(base)).sort()).toEqual(['omnibatch-deadbeef-1-job-def456', 'someone-elses-dir']);
    expect(await sweepTempDirs({ base: path.join(base, 'missing') })).toBe(0);
  });
});
