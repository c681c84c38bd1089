/**
 * `estimate` never hands ffprobe a URL: a playlist uploaded to the bucket (its #EXT-X-KEY and segment on a
 * canary HTTP server, or its entry a local canary file) is refused from a bounded local copy, and the canary
 * server counts no request. Real s3rver and a local folder; real ffprobe.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { estimateSource, probeRanges } from '../../src/producers/estimate.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { openStorage } from '../../src/storage/index.ts';
import type { Storage } from '../../src/storage/types.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { CANARY_ATIME, startCanaryServer, writeCanaryTone, writePlaylists } from '../fixtures/hostile/playlists.ts';
import { type S3rverHandle, startS3rver } from '../helpers/s3rver.ts';
import { liveWebm } from '../media/generate.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'omnibatch-estimate-ssrf-'));
const local = path.join(root, 'in');
let server: Awaited<ReturnType<typeof startCanaryServer>>;
let s3: S3rverHandle;
let canary: string;
const stores: Storage[] = [];

beforeAll(async () => {
  mkdirSync(local);
  server = await startCanaryServer();
  canary = await writeCanaryTone(root);
  // Every hostile playlist, next to two ordinary files: a short mp3, and an mp4 whose index (moov) is at its end.
  await writePlaylists(local, { canary, keyUrl: `${server.url}/key` });
  await runFfmpeg([
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'sine=f=440:r=16000:d=8',
    '-c:a',
    'libmp3lame',
    '-b:a',
    '32k',
    '-y',
    `file:${path.join(local, 'tone.mp3')}`,
  ]);
  await runFfmpeg([
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'anoisesrc=r=16000:a=0.2:d=30',
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    '-y',
    `file:${path.join(local, 'talk.m4a')}`,
  ]);
  s3 = await startS3rver();
  Object.assign(process.env, s3.env);
  const bucket = openStorage(`s3://${s3.buckets[0]}/in/`, { s3Endpoint: s3.endpoint, s3ForcePathStyle: true, awsRegion: 'us-east-1' });
  stores.push(bucket);
  const src = openStorage(local);
  for await (const o of src.list('')) await bucket.upload(path.join(local, o.key), o.key);
}, 120_000);

afterAll(async () => {
  for (const s of stores) s.close();
  await s3?.stop();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

function spec(source: string) {
  const cfg = loadConfig({ env: { ...process.env, OMNI_API_KEY: 'sk-none' } });
  return buildRunSpec({ source, destination: source, task: 'transcribe' }, cfg, newRunId());
}

// `clip` (no extension) is left out by the run's default filter before any probe.
const HOSTILE = ['clip.mp3', 'clip.mp4', 'keyed.mp3', 'list.mp3', 'live.mp3'];

describe('estimate reads no URL and follows no playlist', () => {
  it.each(['s3', 'local'])(
    '%s source: hostile playlists fail media_unsupported_container; the canary server gets 0 requests',
    async (kind) => {
      const store = kind === 's3' ? stores[0] : openStorage(local);
      if (kind === 'local') stores.push(store);
      const r = await estimateSource(store, spec(store.uri), { log: silentLogger, concurrency: 4 });
      const failed = Object.fromEntries(r.failures.map((f) => [f.uri.slice(store.uri.length), f.code]));
      expect(failed).toEqual(Object.fromEntries(HOSTILE.map((k) => [k, 'media_unsupported_container'])));
      // The one with no media name is read by its content too, and skipped as not media, as the run would (issue 22).
      expect(r.skipped.map((x) => [x.uri.slice(store.uri.length), x.code])).toEqual([['clip', 'not_media']]);
      expect(r.skipped[0].message).toMatch(/HLS playlist/);
      expect(server.hits()).toBe(0);
      // The ordinary files are estimated as before.
      expect(r.estimate.files).toBe(2);
      expect(r.estimate.mediaSeconds).toBeGreaterThan(8 + 29);
      expect(r.bounded).toEqual([]);
      // Nothing read the canary (where this filesystem records access times at all).
      expect(statSync(canary).atimeMs === CANARY_ATIME.getTime() || !atimeRecorded()).toBe(true);
    },
    120_000,
  );

  it('a large object is read in a bounded head and tail, and its header still gives its length (moov at the end)', async () => {
    const size = statSync(path.join(local, 'talk.m4a')).size;
    const probeBytes = 32 * 1024;
    expect(size).toBeGreaterThan(4 * probeBytes);
    const r = await estimateSource(stores[0], { ...spec(stores[0].uri), include: ['talk.m4a'] }, { log: silentLogger, concurrency: 4, probeBytes });
    expect(r.failures).toEqual([]);
    expect(r.estimate.files).toBe(1);
    expect(r.estimate.mediaSeconds).toBeGreaterThan(29.5);
    expect(r.estimate.mediaSeconds).toBeLessThan(30.5);
    expect(server.hits()).toBe(0);
  }, 60_000);

  it('a large object whose header states no length is billed an upper bound from its size, and listed as such', async () => {
    const dir = path.join(root, 'live');
    mkdirSync(dir);
    const file = path.join(dir, 'stream.webm');
    // A live WebM: no duration anywhere in its header.
    await liveWebm(file, { seconds: 20, rate: 16_000, bitrate: '64k' });
    const size = statSync(file).size;
    const store = openStorage(dir);
    stores.push(store);
    const whole = await estimateSource(store, spec(store.uri), { log: silentLogger, concurrency: 4 });
    expect(whole.bounded).toEqual([]);
    expect(whole.estimate.mediaSeconds).toBeCloseTo(20, 0);
    const partial = await estimateSource(store, spec(store.uri), { log: silentLogger, concurrency: 4, probeBytes: 16 * 1024 });
    expect(partial.failures).toEqual([]);
    expect(partial.bounded).toEqual([{ uri: `${store.uri}stream.webm`, durationS: (size * 8) / 4000 }]);
    // An upper bound: never below the real length.
    expect(partial.estimate.mediaSeconds).toBeGreaterThanOrEqual(20);
    expect(partial.estimate.cost.high.amountMicros).toBeGreaterThan(whole.estimate.cost.high.amountMicros);
  }, 60_000);

  it('reads at most the bound: all of a small object, head and tail of a large one', () => {
    expect(probeRanges(1000, 4096)).toEqual([[0, 1000]]);
    expect(probeRanges(10_000_000, 4096)).toEqual([
      [0, 2048],
      [10_000_000 - 2048, 10_000_000],
    ]);
    const read = probeRanges(1e12, 16 * 1024 * 1024).reduce((n, [a, b]) => n + (b - a), 0);
    expect(read).toBe(16 * 1024 * 1024);
  });
});

/** relatime/strictatime record a read of a file whose access time is years old; noatime does not. */
function atimeRecorded(): boolean {
  const f = path.join(root, `atime-${randomUUID()}`);
  writeFileSync(f, 'x');
  utimesSync(f, CANARY_ATIME, CANARY_ATIME);
  readFileSync(f);
  return statSync(f).atimeMs !== CANARY_ATIME.getTime();
}
