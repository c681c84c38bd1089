/**
 * scale-out: 1, 2, 4 and 8 worker processes on one Redis, with prepare-heavy input: 10-s FLAC clips at
 * 44.1 kHz stereo, which no model takes as they are, so every file costs an ffmpeg encode in prepare (not an
 * as-is copy). Each worker holds at most 4 requests (--infer-worker-concurrency 4) of an account allowing 64
 * (--infer-concurrency 64); the emulator answers in 1 s and has room for all of them. So the API lets N workers
 * do ~4N files/s, and what bends the curve is this machine: the encodes' CPU, then Redis round trips per file.
 * Reference: 1 worker's steady files/s. Target: >= 0.9 x workers while CPU allows (worker counts up to the
 * machine's cores); beyond that the ratio is reported with the CPU busy share, Redis commands per file and the
 * emulator's peak in-flight, which say where it bends and why.
 * Each step runs 40 x N clips (quick: 20 x N), so every step lasts about as long; the figure is the 10%-90%
 * steady rate of finished files. --quick: 1, 2 and 4 workers only.
 */
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withHarness } from '../lib/harness.ts';
import { makeAudio, replicate } from '../lib/media.ts';
import { timedRun } from '../lib/pipeline.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

const PER_WORKER = 4;
const GLOBAL = 64;

/** Busy share of all cores between two os.cpus() readings. Pure. */
export function cpuBusy(a: os.CpuInfo[], b: os.CpuInfo[]): number {
  let busy = 0;
  let total = 0;
  b.forEach((c, i) => {
    const p = a[i]?.times ?? c.times;
    const d = (k: keyof os.CpuInfo['times']) => c.times[k] - p[k];
    const all = d('user') + d('nice') + d('sys') + d('idle') + d('irq');
    busy += all - d('idle');
    total += all;
  });
  return total > 0 ? busy / total : 0;
}

interface Step {
  files: number;
  filesPerS: number;
  ratio?: number;
  windowS: number;
  wallS: number;
  maxInFlight: number;
  cpuBusy: number;
  redisCommandsPerFile: number | null;
  succeeded: number;
  failures: unknown;
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const perWorkerFiles = opts.quick ? 20 : 40;
  const counts = opts.quick ? [1, 2, 4] : [1, 2, 4, 8];
  const cores = os.availableParallelism();
  return withHarness({ name: 'scale-out', emulator: { latencyMs: 1000 } }, async (h) => {
    // FLAC, 44.1 kHz stereo: must be encoded (distinct pitches: no two templates alike)
    const templates: string[] = [];
    for (let i = 0; i < 8; i++)
      templates.push(
        await makeAudio(path.join(h.tmp, 'templates', `clip-${i}.flac`), { seconds: 10, ext: 'flac', rate: 44_100, channels: 2, kind: 200 + i * 7 }),
      );
    const steps: Record<number, Step> = {};
    for (const n of counts) {
      const files = perWorkerFiles * n;
      const src = path.join(h.tmp, `in-${n}`);
      await replicate(templates, files, src);
      const procs = Array.from({ length: n }, () =>
        h.spawnWorker(['--infer-concurrency', String(GLOBAL), '--infer-worker-concurrency', String(PER_WORKER), '--prepare-concurrency', '1']),
      );
      await sleep(3000 + 500 * n); // boot: the workers are up before the run is submitted
      h.emulator.resetStats();
      const cmd0 = await h.redisCommands();
      const cpu0 = os.cpus();
      const r = await timedRun(h, { source: src, destination: path.join(h.tmp, `out-${n}`), task: 'caption' }, { files, timeoutMs: 900_000 });
      const cpu1 = os.cpus();
      const cmd1 = await h.redisCommands();
      steps[n] = {
        files,
        filesPerS: round(r.steady.rate, 2),
        windowS: round(r.steady.windowS, 1),
        wallS: round(r.wallS, 1),
        maxInFlight: h.emulator.stats().maxInFlight,
        cpuBusy: round(cpuBusy(cpu0, cpu1), 3),
        redisCommandsPerFile: cmd0 !== undefined && cmd1 !== undefined ? round((cmd1 - cmd0) / files, 1) : null,
        succeeded: r.state.counts.succeeded,
        failures: r.failures,
      };
      await Promise.all(procs.map((w) => h.stopWorker(w)));
    }
    const base = steps[1].filesPerS;
    for (const n of counts) steps[n].ratio = round(steps[n].filesPerS / base, 3);
    const cpuBound = counts.filter((n) => n > 1 && n <= cores);
    const bend = counts.find((n) => n > 1 && (steps[n].ratio ?? 0) < 0.9 * n);
    return result(
      'scale-out',
      'throughput_ratio_per_worker',
      [
        // the headline: the worst ratio/N among the worker counts this machine has cores for
        check('min_ratio_per_worker_within_cores', cpuBound.length ? Math.min(...cpuBound.map((n) => (steps[n].ratio ?? 0) / n)) : 1, '>=', 0.9),
        check('all_succeeded', counts.every((n) => steps[n].succeeded === steps[n].files) ? 1 : 0, '==', 1),
      ],
      {
        input: '10-s FLAC 44.1 kHz stereo clips (every file encoded in prepare)',
        cores,
        perWorkerConcurrency: PER_WORKER,
        globalConcurrency: GLOBAL,
        latencyMs: 1000,
        apiCeilingPerWorker: PER_WORKER,
        ratios: Object.fromEntries(counts.map((n) => [n, steps[n].ratio])),
        bendsAt: bend ?? null,
        bendReason: bend === undefined ? null : steps[bend].cpuBusy >= 0.85 ? 'cpu' : 'not cpu: see redisCommandsPerFile and maxInFlight',
        steps,
      },
      opts.quick,
    );
  });
}
