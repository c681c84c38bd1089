/**
 * scale-out: 1, 2 and 4 worker processes on one Redis, API-bound load. Each worker holds at most 4 requests
 * (--infer-worker-concurrency 4) of an account allowing 64 (--infer-concurrency 64); the emulator answers in
 * 1 s and has room for all of them (API not saturated). So one worker can do ~4 files/s whatever the CPU, and
 * N workers should do N times that.
 * Reference: 1 worker's steady files/s. Targets: 2 workers >= 1.8x, 4 workers >= 3.2x.
 * Each step runs 80 x N single-chunk clips (quick: 40 x N), so every step lasts about as long; the figure is the
 * 10%-90% steady rate of finished files.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withHarness } from '../lib/harness.ts';
import { distinctClips, replicate } from '../lib/media.ts';
import { timedRun } from '../lib/pipeline.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

const PER_WORKER = 4;
const GLOBAL = 64;

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const perWorkerFiles = opts.quick ? 40 : 80;
  return withHarness({ name: 'scale-out', emulator: { latencyMs: 1000 } }, async (h) => {
    const templates = await distinctClips(path.join(h.tmp, 'templates'), 8, { seconds: 5, ext: 'mp3', rate: 16_000, channels: 1, kbps: 64 });
    const steps: Record<number, { files: number; filesPerS: number; windowS: number; wallS: number; maxInFlight: number; succeeded: number; failures: unknown }> = {};
    for (const n of [1, 2, 4]) {
      const files = perWorkerFiles * n;
      const src = path.join(h.tmp, `in-${n}`);
      await replicate(templates, files, src);
      const procs = Array.from({ length: n }, () => h.spawnWorker(['--infer-concurrency', String(GLOBAL), '--infer-worker-concurrency', String(PER_WORKER)]));
      await sleep(3000); // boot: the workers are up before the run is submitted
      h.emulator.resetStats();
      const run = await timedRun(h, { source: src, destination: path.join(h.tmp, `out-${n}`), task: 'caption' }, { files, timeoutMs: 600_000 });
      steps[n] = { files, filesPerS: round(run.steady.rate, 2), windowS: round(run.steady.windowS, 1), wallS: round(run.wallS, 1),
        maxInFlight: h.emulator.stats().maxInFlight, succeeded: run.state.counts.succeeded, failures: run.failures };
      await Promise.all(procs.map((w) => h.stopWorker(w)));
    }
    const base = steps[1].filesPerS;
    return result('scale-out', 'throughput_4_workers_over_1', [
      check('x4_over_x1', steps[4].filesPerS / base, '>=', 3.2),
      check('x2_over_x1', steps[2].filesPerS / base, '>=', 1.8),
      check('all_succeeded', [1, 2, 4].every((n) => steps[n].succeeded === steps[n].files) ? 1 : 0, '==', 1),
    ], { perWorkerConcurrency: PER_WORKER, globalConcurrency: GLOBAL, latencyMs: 1000, ceilingPerWorker: PER_WORKER, steps }, opts.quick);
  });
}
