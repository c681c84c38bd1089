/** A schedule fires and the run it makes processes only the newly added object. */
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForRun } from '../../src/cli/wait.ts';
import { addSchedule, listSchedules, removeSchedule } from '../../src/producers/schedules.ts';
import { media } from '../helpers/paths.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

describe('schedules', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.startWorkers({ inferConcurrency: 4 });
  });
  afterAll(async () => {
    await removeSchedule(h.ctx, 'nightly').catch(() => undefined);
    await h?.close();
  });

  it('each firing is a new run that processes only what is new', async () => {
    const src = path.join(h.tmp, 'in');
    const out = path.join(h.tmp, 'out');
    await mkdir(src, { recursive: true });
    await cp(media('whisper__jfk.flac'), path.join(src, 'a.flac'));
    await cp(media('wenet__aishell-BAC009S0724W0121.wav'), path.join(src, 'b.wav'));
    const first = await h.run({ source: src, destination: out, task: 'caption' });
    expect(first.counts.succeeded).toBe(2);

    await cp(media('funasr__sample.wav'), path.join(src, 'c-new.wav'));
    const requestsBefore = h.emulator.stats().requests;
    const knownRuns = new Set(await h.ctx.runs.listRuns());
    // A near-term pattern: every two seconds (six-field cron with seconds).
    await addSchedule(h.ctx, { name: 'nightly', cron: '*/2 * * * * *', request: { source: src, destination: out, task: 'caption' } });
    expect((await listSchedules(h.ctx)).map((s) => s.name)).toContain('nightly');
    let fired: string | undefined;
    for (let i = 0; i < 100 && !fired; i++) {
      fired = (await h.ctx.runs.listRuns()).find((id) => !knownRuns.has(id));
      if (!fired) await sleep(100);
    }
    expect(fired).toBeDefined();
    await removeSchedule(h.ctx, 'nightly');
    const state = await waitForRun(h.ctx, fired!, { quiet: true, pollMs: 100 });
    expect(state.spec.schedule).toBe('nightly');
    expect(state.counts).toMatchObject({ total: 3, succeeded: 1, skipped: 2, failed: 0 });
    // Later firings may have started before the removal; each of them finds nothing new.
    const sent = h.emulator.stats().requests - requestsBefore;
    expect(sent).toBe(1);
  });
});
