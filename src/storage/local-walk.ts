/**
 * A lazy, sorted directory walk for the local backend's listing. Memory is the entries of the
 * directories on the current path, never the whole tree: a folder of a million files in a thousand
 * sub-folders is listed as easily as S3 lists a bucket.
 *
 * Order: within a directory a sub-directory sorts as `name/`, and names compare as UTF-8 bytes, which
 * makes the walk yield keys in exactly S3's ListObjectsV2 order ('a-b' before 'a/x').
 */
import type { BigIntStats, Dir, Dirent } from 'node:fs';
import { opendir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { compareKeys } from './keys.ts';

export interface WalkEntry {
  key: string;
  stats: BigIntStats;
}

/** Our own in-flight temp files (atomic writes): never listed. */
export const TEMP_FILE_RE = /^\.omnibatch-[0-9a-f-]+\.tmp$/;

export function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root + path.sep);
}

interface Child {
  name: string;
  sortName: string;
  abs: string;
  kind: 'file' | 'dir';
}

/** What a directory entry is, following a symlink only to a regular file inside the root. */
async function classify(d: Dirent, abs: string, realRoot: string): Promise<'file' | 'dir' | undefined> {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (!d.isSymbolicLink()) return undefined; // sockets, fifos, devices
  try {
    const target = await realpath(abs);
    if (!isInside(realRoot, target)) return undefined; // never read outside the root
    // A symlinked folder would list its files twice (or loop forever): only symlinked files count.
    return (await stat(target)).isFile() ? 'file' : undefined;
  } catch {
    return undefined; // dangling link
  }
}

/**
 * Yields every regular file under `absDir` whose key starts with `relDir + namePrefix`, in key order.
 * `relDir` is '' or ends with '/'. A missing directory yields nothing.
 */
export async function* walkSorted(realRoot: string, absDir: string, relDir: string, namePrefix = ''): AsyncGenerator<WalkEntry> {
  let dir: Dir;
  try {
    dir = await opendir(absDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return; // deleted since its parent was read: nothing to list
    throw err;
  }
  const children: Child[] = [];
  for await (const d of dir) {
    if (!d.name.startsWith(namePrefix) || TEMP_FILE_RE.test(d.name)) continue;
    const abs = path.join(absDir, d.name);
    const kind = await classify(d, abs, realRoot);
    if (kind) children.push({ name: d.name, sortName: kind === 'dir' ? `${d.name}/` : d.name, abs, kind });
  }
  children.sort((a, b) => compareKeys(a.sortName, b.sortName));
  for (const c of children) {
    if (c.kind === 'dir') {
      yield* walkSorted(realRoot, c.abs, `${relDir}${c.name}/`);
      continue;
    }
    let stats: BigIntStats;
    try {
      stats = await stat(c.abs, { bigint: true });
    } catch {
      continue; // removed between readdir and stat
    }
    yield { key: `${relDir}${c.name}`, stats };
  }
}
