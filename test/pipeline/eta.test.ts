/**
 * The ETA of a mixed set of short and long files, by work: the emulator answers every request after the same
 * fixed latency, so the time left is the requests left. Short files first and long ones last (the order a file
 * count gets most wrong): at 50% of the work the ETA must be within a factor of two of the time the work then took,
 * to the last request's answer. (What follows it, the last file's outputs and the report, is not work the ETA
 * counts: here, with 5 s left, that second is a fifth of the time; on a real archive it is nothing.)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { formatProgress, isFinal } from '../../src/cli/progress.ts';
import { createRun } from '../../src/producers/run.ts';
import { WorkHistory, workProgress } from '../../src/runs/eta.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { toneWav } from '../helpers/wav.ts';

describe('ETA by work', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('is of the size of the actual remaining time at 50% progress on a mixed short/long set', async () => {
    // The fixed latency is most of each request's time, so a neighbour test's CPU load barely moves the pace: at
    // 600 ms and two workers the ~250 ms of our own work per request was a third of it, and a load burst in the
    // ETA's window put it 31% off in a CI pass (now 2-6% off beside media/cut and s3-all-media).
    h = await startHarness({ emulator: { latencyMs: 1200 } });
    await h.startWorkers({ inferConcurrency: 4 });
    const dir = path.join(h.tmp, 'in');
    await mkdir(dir, { recursive: true });
    // 8 short files (one 9-s request each), then 3 long ones (60 s in 10-s chunks): requests of one size, so
    // of one latency (4-s files made the first half faster than the second)
    for (let i = 0; i < 8; i++) await writeFile(path.join(dir, `a-short-${i}.wav`), toneWav(9, 300 + 20 * i));
    for (let i = 0; i < 3; i++) await writeFile(path.join(dir, `z-long-${i}.wav`), toneWav(60, 500 + 30 * i));
    const spec = await createRun(h.ctx, { source: dir, destination: path.join(h.tmp, 'out'), task: 'transcribe', chunkSeconds: 10 });

    let atHalf: { t: number; etaS: number; planned: number; line: string; filesFraction: number } | undefined;
    // what `run --wait` and the dashboard keep: their looks at the work, for its recent rate
    const history = new WorkHistory();
    let end = 0;
    let requestsAtEnd = 0;
    // when each count of answered requests was first seen: the work ended when the last one was
    const firstSeen = new Map<number, number>();
    for (const deadline = Date.now() + 180_000; Date.now() < deadline; ) {
      const [state, totals] = await Promise.all([h.ctx.runs.state(spec.runId), h.ctx.costs.totals(spec.runId)]);
      if (!state) throw new Error('run vanished');
      if (!firstSeen.has(totals.chunks)) firstSeen.set(totals.chunks, Date.now());
      if (isFinal(state.status)) {
        end = Date.now();
        requestsAtEnd = totals.chunks;
        expect(state.status).toBe('completed');
        break;
      }
      const now = Date.now();
      history.observe(now, totals.chunks);
      const recent = history.recent(now);
      const w = workProgress({ counts: state.counts, scanDone: state.scanDone, requestsDone: totals.chunks, now, recent });
      if (!atHalf && w.requestsPlanned !== null && !w.plannedEstimated && w.fraction >= 0.5 && w.etaS !== null) {
        const line = formatProgress(
          { state, costMicros: totals.costMicros, currency: totals.currency, priced: totals.priced, elapsedS: 1, requestsDone: totals.chunks, now },
          false,
        );
        atHalf = { t: now, etaS: w.etaS, planned: w.requestsPlanned, line, filesFraction: state.counts.terminal / state.counts.total };
      }
      await sleep(50);
    }
    expect(end).toBeGreaterThan(0);
    expect(atHalf).toBeDefined();
    const actualS = (firstSeen.get(requestsAtEnd)! - atHalf!.t) / 1000;
    // the plan was the work: every planned request was made, and the long files hold most of it
    expect(atHalf!.planned).toBe(requestsAtEnd);
    expect(requestsAtEnd).toBeGreaterThanOrEqual(8 + 3 * 4);
    // the file count is far ahead of the work here (the short files are done, the long ones not)
    expect(atHalf!.filesFraction).toBeGreaterThan(0.6);
    expect(atHalf!.line).toContain(`/${requestsAtEnd} requests`);
    console.log(`ETA at 50%: ${atHalf!.etaS.toFixed(2)} s predicted, ${actualS.toFixed(2)} s actual (${requestsAtEnd} requests)`);
    // Within a factor of two on the real stack: with five seconds left, a neighbour file's CPU burst on the two
    // cores moved the pace by 31-38% in CI passes (quiet: 2-7%). The estimator's accuracy is pinned exactly by the
    // unit tests (test/runs/eta.test.ts), its accuracy on a quiet real stack by bench/scenarios/eta.ts (within 15%,
    // measured 0.08-0.11); here, that a real run's ETA is by work and of the right size.
    expect(atHalf!.etaS).toBeGreaterThanOrEqual(actualS / 2);
    expect(atHalf!.etaS).toBeLessThanOrEqual(actualS * 2);
  }, 240_000);
});
