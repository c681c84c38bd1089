/** "A chunk refused for size -> re-plan smaller once, then fail the file." */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

describe('a chunk the service refuses as too large', () => {
  let h: Harness;
  beforeAll(async () => {
    // The (emulated) service refuses base64 over 4 MiB, stricter than the 10 MiB the planner was told.
    h = await startHarness({ emulator: { base64MaxChars: 4 * 1024 * 1024 } });
    await h.startWorkers({ inferConcurrency: 2 });
  });
  afterAll(async () => h?.close());

  it('is planned again with halved targets, and the file succeeds', async () => {
    const dir = path.join(h.tmp, 'in');
    await mkdir(dir, { recursive: true });
    await runFfmpeg(['-y', '-f', 'lavfi', '-i', 'anoisesrc=d=1200:c=pink:r=16000:a=0.2', '-ac', '1', path.join(dir, 'noise.wav')]);
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'transcribe', chunkSeconds: 600 });
    expect(s.status).toBe('completed');
    const doc = JSON.parse(await readFile(path.join(out, 'noise.wav.json'), 'utf8'));
    expect(doc.chunks.length).toBeGreaterThanOrEqual(2);
    expect(doc.chunks.at(-1).end_s).toBeGreaterThan(1199);
    expect(doc.chunks.length).toBeGreaterThanOrEqual(4);
    expect(h.emulator.stats().byStatus['400']).toBeGreaterThanOrEqual(1);
    // The refused request billed nothing; the ledger holds exactly the chunks of the result.
    const ledger = await h.ctx.costs.totals(s.spec.runId);
    expect(ledger.chunks).toBe(doc.chunks.length);
    expect(ledger.costMicros).toBe(doc.cost.amount_micros);
  }, 120_000);
});
