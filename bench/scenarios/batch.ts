/**
 * batch: 2,000 one-chunk files (quick: 400) through `--via batch` against the emulator's Batch API with its
 * latency set short, beside the same files through real time, one worker process each. Checks: the Batch
 * run's cost over the real-time run's = 0.500 (the same usage at the Batch rate; the difference from exactly
 * half is only the per-chunk rounding to the micro-unit, reported), input files used over the fewest the
 * limits allow <= 1.05, the worker's CPU per chunk through Batch <= real time's, and Redis memory while the
 * lines wait bounded: its peak no higher than the real-time run's (the media stays in staging; Redis holds a
 * small record per line beside the jobs both runs have).
 */
import path from 'node:path';
import { minimumInputs } from '../../src/workers/batch-submit-decide.ts';
import { type Harness, withHarness } from '../lib/harness.ts';
import { processCpuS } from '../lib/measure.ts';
import { distinctClips, replicate } from '../lib/media.ts';
import { timedRun } from '../lib/pipeline.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

const MODEL = 'qwen-omni-turbo';

async function usedMemory(h: Harness): Promise<number> {
  const info = await h.ctx.redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

/** One run with a fresh worker: its wall time, the worker's CPU seconds and Redis's peak memory meanwhile. */
async function measured(h: Harness, files: number, via: 'realtime' | 'batch', src: string) {
  const w = h.spawnWorker(['--infer-concurrency', '16']);
  await new Promise((r) => setTimeout(r, 2500));
  const base = await usedMemory(h);
  let peak = base;
  const sampler = setInterval(() => void usedMemory(h).then((m) => (peak = Math.max(peak, m))), 250);
  const cpu0 = await processCpuS(w.pid);
  try {
    const run = await timedRun(
      h,
      { source: src, destination: path.join(h.tmp, `out-${via}`), task: 'transcribe', model: MODEL, ...(via === 'batch' && { via }) },
      { files, timeoutMs: 1_800_000, pollMs: 500 },
    );
    const cpu1 = await processCpuS(w.pid);
    return {
      run,
      cpuS: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0,
      peakBytes: peak - base,
      ledger: await h.ctx.costs.totals(run.runId),
    };
  } finally {
    clearInterval(sampler);
    w.child.kill('SIGTERM');
    await w.exited;
  }
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const files = opts.quick ? 400 : 2000;
  const env = { OMNI_REGION: 'cn', OMNIBATCH_BATCH_QUIET_MS: '3000', OMNIBATCH_BATCH_POLL_MS: '500', OMNIBATCH_BATCH_POLL_MAX_MS: '2000' };
  return withHarness(
    { name: 'batch', emulator: { latencyMs: 0, batchValidatingMs: 100, batchInProgressMs: 2000, batchFinalizingMs: 100, batchConcurrency: 64 }, env },
    async (h) => {
      const src = path.join(h.tmp, 'in');
      const templates = await distinctClips(path.join(h.tmp, 'templates'), 8, { seconds: 1, ext: 'mp3', rate: 16_000, channels: 1, kbps: 32 });
      await replicate(templates, files, src);
      const rt = await measured(h, files, 'realtime', src);
      const b = await measured(h, files, 'batch', src);
      const inputs = await h.ctx.batches.inputs(b.run.runId);
      const lines = inputs.reduce((a, r) => a + r.lines.length, 0);
      const bytes = inputs.reduce((a, r) => a + r.bytes, 0);
      const fewest = minimumInputs(lines, bytes, { maxRequests: h.cfg.batchMaxRequests, maxBytes: h.cfg.batchMaxFileBytes });
      const ratio = b.ledger.costMicros / rt.ledger.costMicros;
      const perChunk = (s: number | undefined, n: number) => (s === undefined ? Number.NaN : (s * 1000) / n);
      const cpuRt = perChunk(rt.cpuS, rt.ledger.chunks);
      const cpuB = perChunk(b.cpuS, b.ledger.chunks);
      const bytesPerLine = b.peakBytes / Math.max(1, lines);
      return result(
        'batch',
        'batch_cost_over_realtime_cost',
        [
          check('cost_ratio', round(ratio, 3), '==', 0.5),
          check('inputs_over_minimum', inputs.length / Math.max(1, fewest), '<=', 1.05),
          check('cpu_ms_per_chunk_batch_over_realtime', round(cpuB / cpuRt, 3), '<=', 1),
          // bounded: the waiting lines add nothing beyond what the same run's jobs hold in real time
          check('redis_peak_batch_over_realtime', round(b.peakBytes / Math.max(1, rt.peakBytes), 3), '<=', 1.1),
        ],
        {
          files,
          chunks: { realtime: rt.ledger.chunks, batch: b.ledger.chunks },
          costMicros: { realtime: rt.ledger.costMicros, batch: b.ledger.costMicros, twiceBatchMinusRealtime: 2 * b.ledger.costMicros - rt.ledger.costMicros },
          sameUsage: rt.ledger.usage.inputTotal === b.ledger.usage.inputTotal && rt.ledger.usage.outputTotal === b.ledger.usage.outputTotal,
          inputs: inputs.length,
          fewestInputs: fewest,
          batchIds: inputs.map((r) => r.batchId),
          cpuMsPerChunk: { realtime: round(cpuRt, 2), batch: round(cpuB, 2) },
          redisPeakBytes: { realtime: rt.peakBytes, batch: b.peakBytes, batchPerLine: round(bytesPerLine, 0) },
          wallS: { realtime: round(rt.run.wallS, 1), batch: round(b.run.wallS, 1) },
          status: { realtime: rt.run.state.status, batch: b.run.state.status },
          emulatorBatch: h.emulator.stats().batch,
        },
        opts.quick,
      );
    },
  );
}
