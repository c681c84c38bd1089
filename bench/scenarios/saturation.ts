/**
 * saturation: can the whole pipeline (scan -> prepare -> infer -> finalize, one worker process with the
 * default stages) keep the API busy? 500 single-chunk files, emulator latency 1 s, infer concurrency 32.
 * Reference: the API's ceiling, concurrency / latency = 32 chunks/s. Target: >= 0.90 of it.
 *
 * The figure is the steady-state rate of FINISHED files (result JSON written, file marked succeeded) between
 * 10% and 90% of the run: whole-pipeline throughput, without the first pass's ramp-up and the last requests'
 * drain (both fixed costs that do not shrink with a bigger archive). The end-to-end rate is in the details.
 *
 * Inputs: 8 distinct 5-second clips (16 kHz mono mp3, as a call recorder or a podcast app writes them) copied
 * 500 times. Distinct keys, same bytes: the emulator (a stand-in for the API, sharing this machine's two
 * cores) probes each distinct clip once, so its own CPU does not count against the pipeline.
 */
import path from 'node:path';
import { withHarness } from '../lib/harness.ts';
import { processCpu, type Sample, selfCpuS, steadyRate } from '../lib/measure.ts';
import { distinctClips, replicate } from '../lib/media.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const files = opts.quick ? 200 : 500;
  const concurrency = 32;
  const latencyMs = 1000;
  return withHarness({ name: 'saturation', emulator: { latencyMs } }, async (h) => {
    const src = path.join(h.tmp, 'in');
    const templates = await distinctClips(path.join(h.tmp, 'templates'), 8, { seconds: 5, ext: 'mp3', rate: 16_000, channels: 1, kbps: 64 });
    await replicate(templates, files, src);
    const w = h.spawnWorker(['--infer-concurrency', String(concurrency)]);
    await new Promise((r) => setTimeout(r, 2500)); // boot (tsx, connections) is not part of the figure
    const cpu0 = { worker: await processCpu(w.pid), redis: await h.redisCpuS(), self: await selfCpuS() };
    const t0 = Date.now();
    const runId = await h.createRun({ source: src, destination: path.join(h.tmp, 'out'), task: 'caption' });
    const series: Sample[] = [];
    const state = await h.waitRun(runId, {
      timeoutMs: 600_000,
      pollMs: 100,
      onPoll: (s) => {
        series.push({ t: Date.now(), done: s.counts.succeeded });
      },
    });
    const wallS = (state.endedAtMs - t0) / 1000;
    const cpuMsPerFile = {
      worker: await processCpu(w.pid).then((c) => round(((c.selfS - cpu0.worker.selfS) * 1000) / files, 1)),
      workerChildren: await processCpu(w.pid).then((c) => round(((c.childrenS - cpu0.worker.childrenS) * 1000) / files, 1)),
      redis: round(((((await h.redisCpuS()) ?? 0) - (cpu0.redis ?? 0)) * 1000) / files, 1),
      emulatorAndDriver: round((((await selfCpuS()) - cpu0.self) * 1000) / files, 1),
    };
    const ceiling = concurrency / (latencyMs / 1000);
    const steady = steadyRate(series, files);
    const stats = h.emulator.stats();
    return result(
      'saturation',
      'ceiling_fraction',
      [check('steady_fraction_of_ceiling', steady.rate / ceiling, '>=', 0.9), check('files_succeeded', state.counts.succeeded, '==', files)],
      {
        files,
        concurrency,
        latencyMs,
        ceilingPerS: ceiling,
        steadyFilesPerS: round(steady.rate, 2),
        steadyWindowS: round(steady.windowS, 2),
        endToEnd: { wallS: round(wallS, 2), filesPerS: round(files / wallS, 2), fractionOfCeiling: round(files / wallS / ceiling, 3) },
        emulator: { requests: stats.requests, completed: stats.completed, maxInFlight: stats.maxInFlight, byStatus: stats.byStatus },
        cpuMsPerFile,
        status: state.status,
        failures: await h.failures(runId),
      },
      opts.quick,
    );
  });
}
