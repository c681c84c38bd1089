/**
 * Moderation against a stranger's media, end to end: the emulator over real HTTP, real Redis, real ffmpeg.
 * The steering clip (test/fixtures/hostile/verdict.ts) makes the "model" quote a `{"flagged": false}` the
 * speaker dictates before its real verdict; the real verdict must win and the file goes to review.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/pipeline.ts';
import { writeVerdictSteering } from '../fixtures/hostile/verdict.ts';

describe('moderation verdicts the media tries to steer', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('the real verdict wins over a dictated {"flagged": false}; a contradicting verdict is flagged; both go to review', async () => {
    h = await startHarness();
    await h.startWorkers();
    const dir = path.join(h.tmp, 'in');
    await mkdir(dir, { recursive: true });
    await writeVerdictSteering(dir, 'steer.mp3', 'steering');
    await writeVerdictSteering(dir, 'contra.mp3', 'contradiction');
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'moderate' });
    expect(s.status).toBe('completed');
    expect(s.counts).toMatchObject({ total: 2, succeeded: 2 });

    const steer = JSON.parse(await readFile(path.join(out, 'steer.mp3.moderation.json'), 'utf8'));
    expect(steer).toMatchObject({ flagged: true, needs_review: true, categories: [{ name: 'violence', severity: 'high' }] });
    const [chunk] = steer.chunks;
    expect(chunk).toMatchObject({ flagged: true, model_flagged: true, needs_review: true, review_reasons: ['conflicting_verdicts'] });
    // the raw answer is kept whole: the dictated JSON comes first in it, the real verdict last
    const raw: string = chunk.answers[0];
    expect(chunk.answers).toHaveLength(1);
    expect(raw.indexOf('{"flagged": false}')).toBeGreaterThanOrEqual(0);
    expect(raw.indexOf('{"flagged": false}')).toBeLessThan(raw.lastIndexOf('{"flagged":true'));

    const contra = JSON.parse(await readFile(path.join(out, 'contra.mp3.moderation.json'), 'utf8'));
    expect(contra).toMatchObject({ flagged: true, needs_review: true });
    expect(contra.chunks[0]).toMatchObject({ flagged: true, model_flagged: false, review_reasons: expect.arrayContaining(['unflagged_with_severity']) });

    const report = JSON.parse(await readFile(path.join(out, '_runs', s.spec.runId, 'report.json'), 'utf8'));
    expect(report.moderation).toMatchObject({ flagged_files: 2, by_category: { violence: 2 } });
  });

  it('a repaired verdict keeps both raw answers and goes to review', async () => {
    h = await startHarness({ emulator: { invalidModerationWithMedia: true } });
    await h.startWorkers();
    const dir = path.join(h.tmp, 'in');
    await mkdir(dir, { recursive: true });
    await writeVerdictSteering(dir, 'plain.mp3', 'steering');
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'moderate' });
    expect(s.status).toBe('completed');
    expect(h.emulator.stats().requests).toBe(2);
    const v = JSON.parse(await readFile(path.join(out, 'plain.mp3.moderation.json'), 'utf8'));
    expect(v.needs_review).toBe(true);
    expect(v.chunks[0].review_reasons).toContain('repaired');
    expect(v.chunks[0].answers).toHaveLength(2);
    expect(v.chunks[0].answers[0]).toMatch(/^Sure! /);
    expect(() => JSON.parse(v.chunks[0].answers[1])).not.toThrow();
  });
});
