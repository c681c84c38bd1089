/**
 * S3 transfers that break half-way: the connection dropped mid-body, the server stopped mid-body,
 * a server that stalls, one that is gone, an upload whose parts cannot get through. Each must leave
 * no partial file or object behind and fail with a retryable error (or storage_aborted).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStorage, type StorageOptions } from '../../src/storage/index.ts';
import type { Storage } from '../../src/storage/types.ts';
import { failure } from '../helpers/failure.ts';
import { type S3rverHandle, startS3rver } from '../helpers/s3rver.ts';
import { type CutOptions, type CutProxy, startCutProxy } from './cut-proxy.ts';
import { collect, memoryLogger } from './harness.ts';

const MiB = 1024 * 1024;
const BODY = randomBytes(8 * MiB);
let work: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-s3faults-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function server(): Promise<S3rverHandle> {
  const s3 = await startS3rver();
  Object.assign(process.env, s3.env);
  cleanups.push(() => s3.stop());
  return s3;
}

function store(endpoint: string, bucket: string, opts: StorageOptions = {}): Storage {
  // few attempts and short timeouts: the faults below are permanent, only the outcome matters
  const s = openStorage(`s3://${bucket}/faults/`, { s3Endpoint: endpoint, maxAttempts: 2, connectTimeoutMs: 2000, ...opts });
  cleanups.push(() => s.close());
  return s;
}

async function proxy(s3: S3rverHandle, opts: CutOptions): Promise<CutProxy> {
  const p = await startCutProxy(s3.port, opts);
  cleanups.push(() => p.close());
  return p;
}

/** Nothing named like the target (file or .part) is left in its folder. */
async function leftovers(file: string): Promise<string[]> {
  return (await readdir(path.dirname(file))).filter((n) => n.startsWith(path.basename(file)));
}

describe('S3 transfers that break half-way', () => {
  it('a connection dropped mid-body leaves no file and is retryable storage_unavailable', async () => {
    const s3 = await server();
    await store(s3.endpoint, s3.buckets[0]).upload(BODY, 'big.bin');
    const cut = await proxy(s3, { afterResponseBytes: 2 * MiB, onCut: 'destroy' });
    const out = path.join(work, 'dropped', 'big.bin');
    const err = await failure(store(cut.endpoint, s3.buckets[0]).download('big.bin', out));
    expect(err).toMatchObject({ code: 'storage_unavailable', retryable: true });
    expect(cut.cuts).toBeGreaterThanOrEqual(1);
    expect(await leftovers(out)).toEqual([]);
  });

  it('the server stopped mid-body leaves no file and is retryable storage_unavailable; then a stopped server is too', async () => {
    const s3 = await server();
    await store(s3.endpoint, s3.buckets[0]).upload(BODY, 'big.bin');
    // the proxy holds the connection after 2 MiB and stops the real server there
    const cut = await proxy(s3, { afterResponseBytes: 2 * MiB, onCut: () => s3.stop() });
    const out = path.join(work, 'stopped', 'big.bin');
    const err = await failure(store(cut.endpoint, s3.buckets[0]).download('big.bin', out));
    expect(err).toMatchObject({ code: 'storage_unavailable', retryable: true });
    expect(await leftovers(out)).toEqual([]);

    // nothing listens any more: connection refused, after the SDK's own retries
    const again = await failure(store(s3.endpoint, s3.buckets[0]).download('big.bin', out));
    expect(again).toMatchObject({ code: 'storage_unavailable', retryable: true });
    expect(existsSync(path.dirname(out)) ? await leftovers(out) : []).toEqual([]);
  });

  it('a server that stalls mid-body hits the idle timeout: no file, retryable', async () => {
    const s3 = await server();
    await store(s3.endpoint, s3.buckets[0]).upload(BODY, 'big.bin');
    const cut = await proxy(s3, { afterResponseBytes: 1 * MiB, onCut: 'stall' });
    const out = path.join(work, 'stalled', 'big.bin');
    const err = await failure(store(cut.endpoint, s3.buckets[0], { idleTimeoutMs: 500 }).download('big.bin', out));
    expect(err).toMatchObject({ code: 'storage_unavailable', retryable: true });
    expect(await leftovers(out)).toEqual([]);
  });

  it('an abort signal fired mid-body leaves no file and says storage_aborted', async () => {
    const s3 = await server();
    await store(s3.endpoint, s3.buckets[0]).upload(BODY, 'big.bin');
    const ac = new AbortController();
    const cut = await proxy(s3, { afterResponseBytes: 2 * MiB, onCut: () => ac.abort() });
    const out = path.join(work, 'aborted', 'big.bin');
    const err = await failure(store(cut.endpoint, s3.buckets[0]).download('big.bin', out, ac.signal));
    expect(err).toMatchObject({ code: 'storage_aborted', retryable: true });
    expect(await leftovers(out)).toEqual([]);
  });

  it('a multipart upload whose parts cannot get through fails retryably, tries to abort, and leaves no object', async () => {
    const s3 = await server();
    const mem = memoryLogger();
    const direct = store(s3.endpoint, s3.buckets[0]);
    // every connection is cut after 1 MiB of request bytes: parts are 5 MiB, so none can arrive
    const cut = await proxy(s3, { afterRequestBytes: 1 * MiB, onCut: 'destroy' });
    const file = path.join(work, 'upload.bin');
    await writeFile(file, randomBytes(12 * MiB));
    const err = await failure(
      store(cut.endpoint, s3.buckets[0], { log: mem.log, multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB }).upload(file, 'up.bin'),
    );
    expect(err).toMatchObject({ code: 'storage_unavailable', retryable: true });
    expect(await direct.head('up.bin')).toBeUndefined();
    // the abort was attempted (s3rver does not implement AbortMultipartUpload, so it is logged)
    expect(mem.records().some((r) => typeof r.uploadId === 'string' && String(r.msg).includes('abort'))).toBe(true);
  });

  it('a body damaged in transit (same length) fails the MD5 check: no file, retryable storage_integrity', async () => {
    const s3 = await server();
    await store(s3.endpoint, s3.buckets[0]).upload(BODY, 'big.bin');
    const bad = await proxy(s3, { flipResponseByteAt: 3 * MiB });
    const out = path.join(work, 'damaged', 'big.bin');
    const err = await failure(store(bad.endpoint, s3.buckets[0]).download('big.bin', out));
    expect(err).toMatchObject({ code: 'storage_integrity', retryable: true });
    expect(await leftovers(out)).toEqual([]);
  });

  it('an upload damaged in transit is refused or caught, and leaves no object', async () => {
    const s3 = await server();
    const direct = store(s3.endpoint, s3.buckets[0]);
    const bad = await proxy(s3, { flipRequestByteAt: 100_000 });
    const damaged = store(bad.endpoint, s3.buckets[0], { multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB });
    // one PUT carries Content-MD5 (AWS refuses it: BadDigest); s3rver ignores it, so the ETag check catches it
    const single = await failure(damaged.upload(BODY.subarray(0, 1 * MiB), 'single.bin'));
    expect(single).toMatchObject({ code: 'storage_integrity', retryable: true });
    // multipart parts carry no MD5: the check after completion catches it and removes the object
    const file = path.join(work, 'multi.bin');
    await writeFile(file, BODY);
    const multi = await failure(damaged.upload(file, 'multi.bin'));
    expect(multi).toMatchObject({ code: 'storage_integrity', retryable: true });
    expect(await direct.head('single.bin')).toBeUndefined();
    expect(await direct.head('multi.bin')).toBeUndefined();
  });

  it('503 SlowDown is retried by the SDK (standard mode: backoff); past maxAttempts it is retryable storage_unavailable', async () => {
    const s3 = await server();
    await store(s3.endpoint, s3.buckets[0]).putText('a.txt', 'hello');
    const slow = await throttling(s3, 1);
    expect(await store(slow.endpoint, s3.buckets[0], { maxAttempts: 2 }).getText('a.txt')).toBe('hello');
    expect(slow.requests()).toBe(2);

    const slower = await throttling(s3, 5);
    const err = await failure(store(slower.endpoint, s3.buckets[0], { maxAttempts: 2 }).getText('a.txt'));
    expect(err).toMatchObject({ code: 'storage_unavailable', retryable: true, status: 503, providerCode: 'SlowDown' });
    expect(slower.requests()).toBe(2);
  });

  it('a missing bucket is a permanent storage_invalid_location', async () => {
    const s3 = await server();
    const err = await failure(collect(store(s3.endpoint, 'no-such-bucket').list('')));
    expect(err).toMatchObject({ code: 'storage_invalid_location', retryable: false });
  });
});

/** An HTTP front that answers the first `failures` requests with 503 SlowDown, then forwards to s3rver. */
async function throttling(s3: S3rverHandle, failures: number): Promise<{ endpoint: string; requests(): number }> {
  let n = 0;
  const srv = http.createServer((req, res) => {
    if (++n <= failures) {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: s3.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  );
  return { endpoint: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, requests: () => n };
}
