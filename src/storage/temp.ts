/**
 * Per-job scratch space. Each job gets its own directory under OMNIBATCH_TMP (or the OS temp dir),
 * removed whether the job succeeds or throws. A process killed mid-job cannot clean up, so workers
 * call `sweepTempDirs` at startup: directory names carry a host tag and the pid that made them,
 * which tells a dead process's leftovers from a live neighbour's work.
 *
 * Name: `omnibatch-<host tag>-<pid>-<label>-<random>`; the label is reduced to [A-Za-z0-9_.-], so
 * whatever a caller passes (a key, a '..') stays one path segment inside the base.
 */
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** 8 hex of the host name: pids mean nothing across machines (or containers) sharing one temp volume. */
const HOST_TAG = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
const NAME_RE = /^omnibatch-([0-9a-f]{8})-(\d+)-/;
const DEFAULT_MAX_AGE_MS = 24 * 3600 * 1000;

/** Directories of jobs running in this process right now: a sweep never touches them. */
const active = new Set<string>();

/** The operator's temp root (Config's tmpDir, OMNIBATCH_TMP), installed at startup: app/process-settings.ts. */
let configuredBase: string | undefined;

export function setTempBase(base: string | undefined): void {
  configuredBase = base;
}

/** Where temp directories go: the caller's base, else the configured one, else the OS temp dir. */
export function tempBase(base?: string): string {
  return path.resolve(base ?? configuredBase ?? os.tmpdir());
}

function safeLabel(label: string): string {
  return (
    label
      .replace(/[^A-Za-z0-9_.-]+/g, '_')
      .replace(/\.{2,}/g, '_')
      .slice(0, 48) || 'job'
  );
}

export async function withTempDir<T>(label: string, fn: (dir: string) => Promise<T>, opts: { base?: string } = {}): Promise<T> {
  const base = tempBase(opts.base);
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(path.join(base, `omnibatch-${HOST_TAG}-${process.pid}-${safeLabel(label)}-`));
  active.add(dir);
  try {
    return await fn(dir);
  } finally {
    active.delete(dir);
    // A failure to remove must not hide the job's own outcome; the next startup sweep gets it.
    await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Removes temp directories left behind: from this host, those whose process is gone (or is this
 * process but not an active job: a restarted container often gets the same pid back); from any
 * host, those untouched for longer than maxAgeMs (default 24 h). Returns how many were removed.
 */
export async function sweepTempDirs(opts: { base?: string; maxAgeMs?: number } = {}): Promise<number> {
  const base = tempBase(opts.base);
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  let entries: Dirent[];
  try {
    entries = await readdir(base, { withFileTypes: true });
  } catch {
    return 0; // no base yet: nothing was ever left here
  }
  let removed = 0;
  for (const e of entries) {
    const m = NAME_RE.exec(e.name);
    if (!m || !e.isDirectory()) continue;
    const dir = path.join(base, e.name);
    if (active.has(dir)) continue;
    const pid = Number(m[2]);
    const sameHost = m[1] === HOST_TAG;
    let stale = sameHost && (pid === process.pid || !isAlive(pid));
    if (!stale) {
      const mtime = await stat(dir).then(
        (s) => s.mtimeMs,
        () => undefined,
      );
      stale = mtime !== undefined && Date.now() - mtime > maxAgeMs;
    }
    if (!stale) continue;
    await rm(dir, { recursive: true, force: true, maxRetries: 3 }).then(
      () => {
        removed++;
      },
      () => undefined,
    );
  }
  return removed;
}
