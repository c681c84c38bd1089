/**
 * The TPM reservations through the real pipeline (emulator over HTTP, real Redis, ffmpeg, in-process workers):
 * every request reserves its input plus expected output before it is sent; what stays in the model's window
 * after the run is exactly what the emulator billed for completed requests: settled to the real usage, and
 * nothing left behind by requests that were refused at the door (429).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rpmSpacingMs } from '../../src/cost/rpm.ts';
import { rpmSlotKey, TokenBucket, tpmBucketKey } from '../../src/cost/token-bucket.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

const exec = promisify(execFile);
const CAPTIONER = 'qwen3-omni-30b-a3b-captioner';

/** `n` tones of 4, 5, ... s, made at once. */
async function clips(dir: string, n: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const one = (i: number) =>
    exec(
      'ffmpeg',
      [
        '-v',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        `sine=frequency=${300 + 40 * i}:sample_rate=16000`,
        '-t',
        String(4 + i),
        '-c:a',
        'libmp3lame',
        '-b:a',
        '32k',
        path.join(dir, `clip-${i}.mp3`),
      ],
      { timeout: 30_000 },
    );
  await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
}

const billedTotal = (h: Harness): number => {
  const b = h.emulator.stats().billed[CAPTIONER];
  return b ? Object.values(b.input).reduce((a, n) => a + n, 0) + Object.values(b.output).reduce((a, n) => a + n, 0) : 0;
};

describe('TPM reservations in the pipeline', () => {
  let h: Harness | undefined;
  // the four clips every case sends, made once (the harnesses read them from here)
  let src: string;
  beforeAll(async () => {
    src = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-tpm-clips-'));
    await clips(src, 4);
  });
  afterAll(async () => {
    await rm(src, { recursive: true, force: true });
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('settles every reservation to the real usage (input + output)', async () => {
    h = await startHarness({ env: { OMNIBATCH_TPM: '100000' }, emulator: { tpm: 100_000 } });
    await h.startWorkers();
    const state = await h.run({ source: src, destination: path.join(h.tmp, 'out'), task: 'caption' });
    expect(state.counts.succeeded).toBe(4);
    const used = await new TokenBucket(h.ctx.redis).used(tpmBucketKey(h.ctx.keyPrefix, CAPTIONER));
    expect(billedTotal(h)).toBeGreaterThan(0);
    expect(used).toBe(billedTotal(h));
    expect(h.emulator.stats().byStatus['429'] ?? 0).toBe(0);
  }, 120_000);

  it('gives back the reservation of a request refused at the door', async () => {
    // concurrent requests: 429 Throttling at the door, with a Retry-After of half a second (the queue's pause; 2 s without one)
    h = await startHarness({ env: { OMNIBATCH_TPM: '100000' }, emulator: { maxConcurrency: 1, latencyMs: 300, retryAfterS: 0.5 } });
    await h.startWorkers();
    const state = await h.run({ source: src, destination: path.join(h.tmp, 'out'), task: 'caption' });
    const s = h.emulator.stats();
    expect(s.byStatus['429'] ?? 0, JSON.stringify(s)).toBeGreaterThan(0); // some were refused
    expect(state.counts.succeeded).toBe(4);
    const used = await new TokenBucket(h.ctx.redis).used(tpmBucketKey(h.ctx.keyPrefix, CAPTIONER));
    expect(used).toBe(billedTotal(h)); // a refused request left nothing reserved
  }, 180_000);

  it('a worker given --tpm alone spaces its requests at the spacing a worker told --rpm stored', async () => {
    h = await startHarness({ env: { OMNIBATCH_TPM: '100000', OMNIBATCH_RPM: '30' } });
    await h.startWorkers({ stages: ['infer'] });
    // the worker told --rpm 30 stored its spacing (2,040 ms) for the others
    expect(Number(await h.ctx.redis.get(`${rpmSlotKey(h.ctx.keyPrefix)}:spacing`))).toBe(rpmSpacingMs(30));
    await h.close();

    h = await startHarness({ env: { OMNIBATCH_TPM: '100000' } });
    await h.ctx.costs.storeRpmSpacing(rpmSpacingMs(30)); // as a worker told --rpm 30 elsewhere in the fleet did
    await h.startWorkers();
    const state = await h.run({ source: src, destination: path.join(h.tmp, 'out'), task: 'caption' });
    expect(state.counts.succeeded).toBe(4);
    // the reservations' times: one request slot each, about 2 s apart (without the stored spacing, all at once)
    const times = (await h.ctx.redis.zrange(`${tpmBucketKey(h.ctx.keyPrefix, CAPTIONER)}:log`, '0', '-1', 'WITHSCORES'))
      .filter((_, i) => i % 2 === 1)
      .map(Number);
    expect(times).toHaveLength(4);
    // A reservation is made when its worker wakes for the granted slot: under load a wake comes late by a few
    // hundred ms (one gap measured 1,548 ms in a full suite run), so each gap is held to half the spacing and the
    // three together to 80% of three spacings: all at once they are ~0 apart; at half the spacing, 3,060 ms in all.
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(rpmSpacingMs(30) / 2);
    expect(times[3] - times[0]).toBeGreaterThanOrEqual(0.8 * 3 * rpmSpacingMs(30));
  }, 120_000);
});
