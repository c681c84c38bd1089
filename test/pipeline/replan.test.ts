/** "A chunk refused for size -> re-plan smaller once, then fail the file." */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

describe('a chunk the service refuses as too large', () => {
  let h: Harness;
  beforeAll(async () => {
    // The (emulated) service refuses base64 over 1 MiB, stricter than the 10 MiB the planner was told.
    h = await startHarness({ emulator: { base64MaxChars: 1024 * 1024 } });
    await h.startWorkers({ inferConcurrency: 2 });
  });
  afterAll(async () => h?.close());

  it('is planned again with halved targets, and the file succeeds', async () => {
    const dir = path.join(h.tmp, 'in');
    await mkdir(dir, { recursive: true });
    // Five minutes of noise in 150-s chunks (the run's --chunk-seconds): each planned chunk's base64 is over the
    // service's 1 MiB, half of one is under it (the same ratios as 20 minutes in 600-s chunks against 4 MiB, at a
    // quarter of the media to make, encode and measure).
    await runFfmpeg(['-y', '-f', 'lavfi', '-i', 'anoisesrc=d=300:c=pink:r=16000:a=0.2', '-ac', '1', path.join(dir, 'noise.wav')]);
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'transcribe', chunkSeconds: 150 });
    expect(s.status).toBe('completed');
    const doc = JSON.parse(await readFile(path.join(out, 'noise.wav.json'), 'utf8'));
    expect(doc.chunks.length).toBeGreaterThanOrEqual(2);
    expect(doc.chunks.at(-1).end_s).toBeGreaterThan(299);
    expect(doc.chunks.length).toBeGreaterThanOrEqual(4);
    expect(h.emulator.stats().byStatus['400']).toBeGreaterThanOrEqual(1);
    // The refused request billed nothing; the ledger holds exactly the chunks of the result.
    const ledger = await h.ctx.costs.totals(s.spec.runId);
    expect(ledger.chunks).toBe(doc.chunks.length);
    expect(ledger.costMicros).toBe(doc.cost.amount_micros);
  }, 120_000);
});
