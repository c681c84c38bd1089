/**
 * The download cap: an object larger than OMNIBATCH_MAX_DOWNLOAD_BYTES is refused before a byte is read when its
 * size is announced, and aborted at the cap as bytes pass when it is not (or when the announcement lies). Either
 * way it is a permanent media_too_large, and nothing is left on disk.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFsError } from '../../src/storage/errors.ts';
import { landStream } from '../../src/storage/transfer.ts';
import { OmniError } from '../../src/util/errors.ts';
import { type Backend, localBackend, s3Backend } from './harness.ts';

const MiB = 1024 * 1024;

/** 100 MiB, made only as it is read: `produced` tells how much the reader pulled. */
function lazySource(): Readable & { produced: number } {
  let produced = 0;
  const chunk = Buffer.alloc(64 * 1024, 1);
  const r = new Readable({
    read() {
      if (produced >= 100 * MiB) return void this.push(null);
      produced += chunk.length;
      (r as Readable & { produced: number }).produced = produced;
      this.push(chunk);
    },
  }) as Readable & { produced: number };
  r.produced = 0;
  return r;
}

async function rejection(p: Promise<unknown>): Promise<OmniError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OmniError);
  return e as OmniError;
}

describe('download cap', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-cap-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('a stream without a size is aborted at the cap, not read to its end', async () => {
    const src = lazySource();
    const file = path.join(dir, 'streamed');
    const e = await rejection(landStream(src, file, {}, 'download x', (err) => fromFsError(err, 'x'), undefined, 1 * MiB));
    expect(e.code).toBe('media_too_large');
    expect(e.retryable).toBe(false);
    // one read past the cap, plus what the pipe had buffered: far from the 100 MiB on offer
    expect(src.produced).toBeLessThan(2 * MiB);
    expect(await readdir(dir)).not.toContain('streamed.part');
    expect(await readdir(dir)).not.toContain('streamed');
  });

  it('a stream announcing a size over the cap is refused before one byte is read', async () => {
    const src = lazySource();
    const e = await rejection(
      landStream(src, path.join(dir, 'announced'), { size: 100 * MiB }, 'download y', (err) => fromFsError(err, 'y'), undefined, 1 * MiB),
    );
    expect(e.code).toBe('media_too_large');
    expect(src.produced).toBe(0);
  });

  it('a lying announcement (small size, endless body) is still cut at the cap', async () => {
    const src = lazySource();
    const e = await rejection(landStream(src, path.join(dir, 'liar'), { size: 1000 }, 'download z', (err) => fromFsError(err, 'z'), undefined, 1 * MiB));
    expect(e.code).toBe('media_too_large');
    expect(src.produced).toBeLessThan(2 * MiB);
  });

  for (const make of [localBackend, s3Backend]) {
    describe(make.name, () => {
      let b: Backend;
      beforeAll(async () => {
        b = await make();
      });
      afterAll(async () => b?.close());

      it('an object over the cap fails media_too_large and leaves no file; at the cap it downloads', async () => {
        const { store } = b.fresh();
        await store.upload(Buffer.alloc(3 * MiB, 2), 'big.bin');
        const out = path.join(dir, `${b.name}-big`);
        const e = await rejection(store.download('big.bin', out, undefined, { maxBytes: 1 * MiB }));
        expect(e.code).toBe('media_too_large');
        expect(e.message).toContain('3145728 bytes');
        expect((await readdir(dir)).filter((n) => n.startsWith(`${b.name}-big`))).toEqual([]);
        const ok = await store.download('big.bin', out, undefined, { maxBytes: 3 * MiB });
        expect(ok.size).toBe(3 * MiB);
      });
    });
  }
});
