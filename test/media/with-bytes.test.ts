/** probe.ts's whole-file reads into reused buffers: each use sees its own file's bytes and nothing left from another. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withBytes } from '../../src/media/probe.ts';

describe('withBytes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'with-bytes-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('gives exactly the file, after a longer one read into the same buffer, and concurrently', async () => {
    const long = Buffer.alloc(3 * 1024 * 1024, 0xaa);
    const short = Buffer.from('only these bytes');
    await writeFile(path.join(dir, 'long'), long);
    await writeFile(path.join(dir, 'short'), short);
    expect(await withBytes(path.join(dir, 'long'), long.length, (b) => b.equals(long))).toBe(true);
    for (let i = 0; i < 3; i++) expect(await withBytes(path.join(dir, 'short'), short.length, (b) => Buffer.from(b))).toEqual(short);
    const both = await Promise.all([
      withBytes(path.join(dir, 'long'), long.length, (b) => b.equals(long)),
      withBytes(path.join(dir, 'short'), short.length, (b) => b.equals(short)),
      withBytes(path.join(dir, 'long'), long.length, (b) => b.equals(long)),
    ]);
    expect(both).toEqual([true, true, true]);
  });

  it('a file shorter than the size asked (it shrank after its stat): only what it holds', async () => {
    await writeFile(path.join(dir, 'shrunk'), 'abc');
    expect(await withBytes(path.join(dir, 'shrunk'), 100, (b) => b.toString())).toBe('abc');
  });
});
