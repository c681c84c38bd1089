/**
 * What only the local-folder backend has to get right: S3's listing order from a directory walk,
 * symlinks that must not lead out of the root, fingerprints that follow the content, folders that
 * appear and disappear with their files.
 */
import { mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../src/storage/index.ts';
import { compareKeys } from '../../src/storage/keys.ts';
import { failure } from '../helpers/failure.ts';
import { collect } from './harness.ts';

let base: string;
let n = 0;
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-local-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A fresh root folder (not created yet) and a sibling "outside" folder. */
function fresh() {
  const dir = path.join(base, `case-${++n}`);
  return { root: path.join(dir, 'root'), outside: path.join(dir, 'outside') };
}

describe('local backend', () => {
  it('lists in S3 key order (UTF-8 bytes, a folder sorting as "name/")', async () => {
    const { root } = fresh();
    const store = openStorage(root);
    const keys = ['a/x', 'a-b', 'a.c', 'a0', 'A', 'b/c/d', 'b/c-d', 'é', 'z', '日本', '~'];
    for (const k of keys) await store.putText(k, k);
    const listed = (await collect(store.list(''))).map((o) => o.key);
    expect(listed).toEqual([...keys].sort(compareKeys));
    expect(listed.indexOf('a-b')).toBeLessThan(listed.indexOf('a/x')); // '-' (0x2d) < '/' (0x2f)
    expect((await collect(store.list('b/c'))).map((o) => o.key)).toEqual(['b/c-d', 'b/c/d']);
  });

  it('a missing root is an invalid location for listing; the first write creates it', async () => {
    const { root } = fresh();
    const store = openStorage(`file://${root}`);
    expect(store.uri).toBe(`file://${root}/`);
    expect((await failure(collect(store.list('')))).code).toBe('storage_invalid_location');
    expect(await store.head('a.txt')).toBeUndefined();
    await store.putText('a.txt', 'a');
    expect((await collect(store.list(''))).map((o) => o.key)).toEqual(['a.txt']);
  });

  it('never reads or writes through a symlink that leads outside the root', async () => {
    const { root, outside } = fresh();
    await mkdir(path.join(outside, 'dir'), { recursive: true });
    await writeFile(path.join(outside, 'secret.txt'), 'secret');
    const store = openStorage(root);
    await store.putText('real.txt', 'real');
    await symlink(path.join(outside, 'secret.txt'), path.join(root, 'out-file'));
    await symlink(path.join(outside, 'dir'), path.join(root, 'out-dir'));
    await symlink(path.join(root, 'real.txt'), path.join(root, 'in-file'));

    expect((await collect(store.list(''))).map((o) => o.key)).toEqual(['in-file', 'real.txt']);
    expect(await store.getText('in-file')).toBe('real');
    expect((await failure(store.head('out-file'))).code).toBe('storage_denied');
    expect((await failure(store.getText('out-file'))).code).toBe('storage_denied');
    expect((await failure(store.download('out-file', path.join(base, 'never.txt')))).code).toBe('storage_denied');
    expect((await failure(store.putText('out-dir/x.txt', 'x'))).code).toBe('storage_denied');
    expect((await failure(store.upload(Buffer.from('x'), 'out-dir/sub/x.txt'))).code).toBe('storage_denied');
    expect((await failure(collect(store.list('out-dir/')))).code).toBe('storage_denied');
    expect(await readdir(path.join(outside, 'dir'))).toEqual([]);

    // deleting a link removes the link, never its target
    await store.delete('out-file');
    expect(await readdir(outside)).toEqual(['dir', 'secret.txt']);
  });

  it('the ETag follows the content: stable while untouched, new when rewritten, never an MD5', async () => {
    const { root } = fresh();
    const store = openStorage(root);
    await store.putText('a.txt', 'aaaa');
    const first = await store.head('a.txt');
    expect(first?.etag).toMatch(/^[0-9a-f]+-[0-9a-f]+$/);
    expect(first?.etag).not.toMatch(/^[0-9a-f]{32}$/);
    expect((await store.head('a.txt'))?.etag).toBe(first?.etag);
    expect((await collect(store.list('')))[0].etag).toBe(first?.etag);
    // rewritten with the same size: only the mtime tells (set explicitly: the kernel's clock is coarse)
    await writeFile(path.join(root, 'a.txt'), 'bbbb');
    const t = new Date(first!.lastModified.getTime() + 2000);
    await utimes(path.join(root, 'a.txt'), t, t);
    const second = await store.head('a.txt');
    expect(second?.size).toBe(4);
    expect(second?.etag).not.toBe(first?.etag);
    await store.putText('a.txt', 'cccccc');
    expect((await store.head('a.txt'))?.etag).not.toBe(second?.etag);
  });

  it('folders come and go with their files; a name cannot be both a file and a folder', async () => {
    const { root } = fresh();
    const store = openStorage(root);
    await store.putText('a/b/c.txt', 'c');
    await store.putText('a/d.txt', 'd');
    await store.delete('a/b/c.txt');
    expect(await readdir(root)).toEqual(['a']);
    expect(await readdir(path.join(root, 'a'))).toEqual(['d.txt']);
    await store.delete('a/d.txt');
    expect(await readdir(root)).toEqual([]);
    await store.delete('a'); // no such object: nothing happens

    await store.putText('f', 'file');
    expect((await failure(store.putText('f/g', 'x'))).code).toBe('storage_invalid_key');
    await store.putText('h/i', 'x');
    expect((await failure(store.putText('h', 'x'))).code).toBe('storage_invalid_key');
    expect(await store.getText('h')).toBeUndefined(); // a folder is not an object
  });

  it("an upload from a file survives another delete pruning its folders meanwhile (one file's staging ending beside another)", async () => {
    const { root } = fresh();
    const store = openStorage(root);
    const src = path.join(base, `src-${n}.bin`);
    await writeFile(src, Buffer.alloc(64 * 1024, 7));
    // Each round: the last object of a deep folder is deleted (the folders pruned up to the root) while a file
    // is uploaded into the same folder. The batch bench lost 5 of 2,000 uploads this way before the retry.
    const failures: string[] = [];
    for (let i = 0; i < 150; i++) {
      await store.putText('run/stage/file-a/old.json', '{}');
      const [, up] = await Promise.allSettled([store.delete('run/stage/file-a/old.json'), store.upload(src, `run/stage/file-a/chunk-${i}.mp3`)]);
      if (up.status === 'rejected') failures.push(String((up.reason as Error).message));
      await store.delete(`run/stage/file-a/chunk-${i}.mp3`);
    }
    expect(failures).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });

  it('skips its own in-flight temp files when listing', async () => {
    const { root } = fresh();
    const store = openStorage(root);
    await store.putText('x/a.txt', 'a');
    await writeFile(path.join(root, 'x', '.omnibatch-0b9f6a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp'), 'half');
    await writeFile(path.join(root, 'x', '.hidden'), 'user file');
    expect((await collect(store.list(''))).map((o) => o.key)).toEqual(['x/.hidden', 'x/a.txt']);
  });
});
