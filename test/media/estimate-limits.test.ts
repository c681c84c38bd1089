/**
 * `estimate` applies the run's per-file limits: a file the run would refuse is listed with the same code and
 * adds no request to the totals, and the limits are printed with the estimate.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeLimits } from '../../src/cli/estimate.ts';
import { loadConfig } from '../../src/config/index.ts';
import { DEFAULT_FILE_LIMITS } from '../../src/media/limits.ts';
import { estimateSource } from '../../src/producers/estimate.ts';
import { buildRunSpec } from '../../src/producers/run.ts';
import { openStorage } from '../../src/storage/index.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { longNameFile, oversizeFile, silentFlacBomb } from '../fixtures/hostile/bombs.ts';

describe('estimate and the per-file limits', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-est-limits-'));
    await longNameFile(dir, '.mp3', 10);
    await silentFlacBomb(dir);
    await oversizeFile(dir, 300_000, 'big.wav');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('refuses what a run would refuse, with the same codes, and counts only the rest', async () => {
    const cfg = loadConfig({ env: {} });
    const spec = buildRunSpec({ source: dir, destination: dir, task: 'caption' }, cfg, 'r1');
    const src = openStorage(dir);
    const { estimate, failures } = await estimateSource(src, spec, {
      log: silentLogger,
      concurrency: 8,
      limits: { ...DEFAULT_FILE_LIMITS, maxDownloadBytes: 200_000 },
    });
    expect(failures.map((f) => [path.basename(f.uri), f.code]).sort()).toEqual([
      ['big.wav', 'media_too_large'],
      ['silence-10h.flac', 'media_suspicious'],
    ]);
    expect(estimate.files).toBe(1);
    expect(estimate.requests).toBe(1);
    expect(estimate.mediaSeconds).toBeLessThan(10);
  });

  it('prints the limits it applied', () => {
    expect(describeLimits(DEFAULT_FILE_LIMITS)).toBe('10 GiB, 24h00m of media, 35389440 pixels a frame, 3000 requests, at least 10 bytes per media second');
  });
});
