/**
 * overhead: what the pipeline itself costs per file when the model costs nothing. 2,000 tiny files (1 s
 * clips) through scan -> prepare -> infer -> finalize with zero model latency, one worker process.
 * Reference: BullMQ's own ceiling on this machine in the same run, no-op jobs/s at concurrency 50
 * (each file is at least 3 jobs, prepare + infer + finalize, plus a flow). No target yet: the figures are
 * the ratio and the CPU milliseconds per file, split by process (worker with its ffmpeg/ffprobe children,
 * Redis, the emulator + driver).
 */
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { redisConnection } from '../../src/jobs/queues.ts';
import { type Harness, withHarness } from '../lib/harness.ts';
import { processCpuS, selfCpuS } from '../lib/measure.ts';
import { distinctClips, replicate } from '../lib/media.ts';
import { timedRun } from '../lib/pipeline.ts';
import { reportOnly, round, type ScenarioResult } from '../lib/result.ts';

/** BullMQ no-op jobs/s: addBulk `n` jobs, then one Worker at concurrency 50 empties the queue. */
async function noopJobsPerS(h: Harness, n: number): Promise<number> {
  const prefix = `${h.cfg.queuePrefix}-noop`;
  const connection = redisConnection(h.redisUrl);
  const wconn = redisConnection(h.redisUrl);
  const q = new Queue('noop', { connection, prefix });
  try {
    for (let i = 0; i < n; i += 1000) {
      await q.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: 'noop', data: { i: i + k }, opts: { removeOnComplete: true } })));
    }
    let done = 0;
    const t0 = performance.now();
    let elapsed = 0;
    const w = new Worker('noop', async () => undefined, { connection: wconn, prefix, concurrency: 50 });
    try {
      const finished = new Promise<void>((resolve) => {
        w.on('completed', () => {
          if (++done === n) {
            elapsed = performance.now() - t0;
            resolve();
          }
        });
      });
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no-op reference did not finish in 120 s')), 120_000).unref());
      await Promise.race([finished, timeout]);
    } finally {
      await w.close();
    }
    return n / (elapsed / 1000);
  } finally {
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    connection.disconnect();
    wconn.disconnect();
  }
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const files = opts.quick ? 400 : 2000;
  return withHarness({ name: 'overhead', emulator: { latencyMs: 0 } }, async (h) => {
    const noop = await noopJobsPerS(h, opts.quick ? 5000 : 20_000);

    const src = path.join(h.tmp, 'in');
    const templates = await distinctClips(path.join(h.tmp, 'templates'), 8, { seconds: 1, ext: 'mp3', rate: 16_000, channels: 1, kbps: 32 });
    await replicate(templates, files, src);
    const w = h.spawnWorker(['--infer-concurrency', '16']);
    // Let the worker finish booting (tsx transform, connections) before the clock starts.
    await new Promise((r) => setTimeout(r, 2500));
    const [w0, r0, s0, c0, st0] = [await processCpuS(w.pid), await h.redisCpuS(), await selfCpuS(), await h.redisCommands(), await h.redisCommandStats()];
    const run = await timedRun(h, { source: src, destination: path.join(h.tmp, 'out'), task: 'caption' }, { files, timeoutMs: 900_000, pollMs: 200 });
    const [w1, r1, s1, c1, st1] = [await processCpuS(w.pid), await h.redisCpuS(), await selfCpuS(), await h.redisCommands(), await h.redisCommandStats()];
    // Calls per file by command (commands run inside Lua scripts included), the top ten.
    const byCommand = Object.fromEntries(
      Object.entries(st1)
        .map(([k, v]) => [k, round((v - (st0[k] ?? 0)) / files, 1)] as const)
        .filter(([, v]) => v > 0)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10),
    );
    const filesPerS = files / run.wallS;
    const ms = (a: number, b: number | undefined) => (b === undefined ? null : round(((b - a) * 1000) / files, 2));
    const perFile = { worker: ms(w0, w1), redis: r0 === undefined ? null : ms(r0, r1), emulatorAndDriver: ms(s0, s1) };
    return reportOnly(
      'overhead',
      'files_per_s_over_noop_jobs_per_s',
      filesPerS / noop,
      {
        files,
        filesPerS: round(filesPerS, 1),
        steadyFilesPerS: round(run.steady.rate, 1),
        noopJobsPerS: round(noop, 0),
        redisCommandsPerFile: c0 === undefined || c1 === undefined ? null : round((c1 - c0) / files, 1),
        redisCallsPerFileByCommand: byCommand,
        cpuMsPerFile: {
          ...perFile,
          total: round(
            Object.values(perFile).reduce<number>((a, b) => a + (b ?? 0), 0),
            2,
          ),
        },
        wallS: round(run.wallS, 2),
        status: run.state.status,
        succeeded: run.state.counts.succeeded,
        failures: run.failures,
        emulator: { requests: h.emulator.stats().requests, byStatus: h.emulator.stats().byStatus },
      },
      opts.quick,
    );
  });
}
