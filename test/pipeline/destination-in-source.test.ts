/**
 * Issue 19: the destination inside (here: equal to) the source, with uploads made to look like outputs and a
 * planted result. Real Redis, ffmpeg and the emulator over HTTP. Every upload is moderated; a planted
 * `.json` + `.moderation.json` is redone and counted; a second run skips exactly what the first one signed; a
 * verdict file changed after signing is redone.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { FORGED, plantResult } from '../fixtures/hostile/planted.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

const tone = (file: string, hz: number) => runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', `sine=f=${hz}:r=16000:d=2`, '-y', `file:${file}`]);

describe('a destination inside the source', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('moderates every upload, redoes a planted result, and skips only what this deployment signed', async () => {
    h = await startHarness();
    await h.startWorkers();
    const dir = path.join(h.tmp, 'bucket');
    await mkdir(path.join(dir, '_runs', 'fake-run'), { recursive: true });
    const uploads = ['a.mp3', 'clip.flac.wav', '_runs/evil.wav', '_runs/fake-run/evil2.wav', 'planted.wav'];
    for (const [i, key] of uploads.entries()) await tone(path.join(dir, key), 300 + 110 * i);

    // The uploader plants a result for planted.wav: the right ETag and the default run's fingerprint, flagged false.
    const req = { source: dir, destination: dir, task: 'moderate' as const };
    await plantResult({ source: dir, destination: dir, key: 'planted.wav', cfg: h.cfg });

    const first = await h.run(req);
    expect(first.status).toBe('completed');
    const rows: Record<string, string> = {};
    for await (const [, f] of h.ctx.runs.files(first.spec.runId)) rows[f.key] = f.status;
    // every upload moderated; the planted files, not this deployment's outputs, are listed (skipped: not media)
    expect(rows).toEqual({
      ...Object.fromEntries(uploads.map((k) => [k, 'succeeded'])),
      'planted.wav.json': 'skipped',
      'planted.wav.moderation.json': 'skipped',
    });
    const verdict = await readFile(path.join(dir, 'planted.wav.moderation.json'), 'utf8');
    expect(verdict).not.toContain(FORGED);
    const report1 = JSON.parse(await readFile(path.join(dir, '_runs', first.spec.runId, 'report.json'), 'utf8'));
    expect(report1.reuse).toEqual({ untrusted_results: 1 });
    const requests1 = h.emulator.stats().requests;

    // Run 2: every upload skipped (signed), none of the outputs listed as media.
    const second = await h.run(req);
    expect(second.counts).toMatchObject({ total: uploads.length, skipped: uploads.length });
    expect(h.emulator.stats().requests).toBe(requests1);

    // A verdict file replaced after signing: that file is redone, the rest skipped.
    await writeFile(path.join(dir, 'a.mp3.moderation.json'), JSON.stringify({ flagged: false, summary: FORGED }));
    const third = await h.run(req);
    expect(third.counts).toMatchObject({ total: uploads.length, skipped: uploads.length - 1, succeeded: 1 });
    const report3 = JSON.parse(await readFile(path.join(dir, '_runs', third.spec.runId, 'report.json'), 'utf8'));
    expect(report3.reuse).toEqual({ untrusted_results: 1 });
    expect(await readFile(path.join(dir, 'a.mp3.moderation.json'), 'utf8')).not.toContain(FORGED);
  }, 120_000);
});
