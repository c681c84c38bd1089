/**
 * memory: peak RSS of a worker process handling one large input, for three sizes:
 *   100 MB  WAV, 16-bit stereo 44.1 kHz (~9.9 min), task caption          <- the reference
 *   1 GB    long video (MPEG-4 720p + AAC, ~17 min), task describe (video chunks)
 *   2 GB    4-hour WAV, 16-bit stereo 36 kHz, task caption (480 chunks)
 * Target: flat. The 2 GB peak <= 1.3x the 100 MB peak, and every peak <= 300 MB.
 * Each input gets a fresh worker process (default settings), so each peak is that input's own. The peak is
 * the kernel's high-water mark (VmHWM) of the worker: nothing between samples is missed. ffmpeg children are
 * separate processes; their largest RSS is reported beside it.
 * --quick: 10 MB, 100 MB and 200 MB (the same 1:10:20 steps).
 */
import { rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { withHarness } from '../lib/harness.ts';
import { watchMemory } from '../lib/measure.ts';
import { makeAudio, makeVideo, wavSeconds } from '../lib/media.ts';
import { timedRun } from '../lib/pipeline.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

const MB = 1024 * 1024;

interface Input {
  label: string;
  bytes: number;
  kind: 'wav' | 'video';
  task: 'caption' | 'describe';
  rate?: number;
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const inputs: Input[] = opts.quick
    ? [
        { label: '10MB', bytes: 10 * MB, kind: 'wav', task: 'caption', rate: 44_100 },
        { label: '100MB-video', bytes: 100 * MB, kind: 'video', task: 'describe' },
        { label: '200MB', bytes: 200 * MB, kind: 'wav', task: 'caption', rate: 36_000 },
      ]
    : [
        { label: '100MB', bytes: 100 * MB, kind: 'wav', task: 'caption', rate: 44_100 },
        { label: '1GB-video', bytes: 1024 * MB, kind: 'video', task: 'describe' },
        { label: '2GB', bytes: 2048 * MB, kind: 'wav', task: 'caption', rate: 36_000 },
      ];
  // On disk, not /dev/shm: gigabytes of tmpfs would be the machine's RAM, and a worker's temp copy goes there too.
  return withHarness({ name: 'memory', emulator: { latencyMs: 0 }, tmpBase: os.tmpdir() }, async (h) => {
    const rows: Record<string, unknown>[] = [];
    const peaks: Record<string, number> = {};
    for (const input of inputs) {
      const dir = path.join(h.tmp, input.label);
      const src = path.join(dir, 'in');
      let seconds: number;
      let file: string;
      if (input.kind === 'wav') {
        seconds = wavSeconds(input.bytes, input.rate!, 2);
        file = await makeAudio(path.join(src, `${input.label}.wav`), { seconds, ext: 'wav', rate: input.rate, channels: 2, kind: 'speech' });
      } else {
        seconds = Math.round((input.bytes * 8) / (8000 * 1000));
        file = await makeVideo(path.join(src, `${input.label}.mkv`), seconds, { kbps: 8000 });
      }
      const { size } = await stat(file);
      const w = h.spawnWorker();
      const mem = watchMemory(w.pid, 100);
      const run = await timedRun(h, { source: src, destination: path.join(dir, 'out'), task: input.task }, { files: 1, timeoutMs: 1_800_000, pollMs: 250 });
      const m = await mem.stop();
      await h.stopWorker(w, 'SIGTERM');
      peaks[input.label] = m.peakMb;
      rows.push({
        input: input.label,
        bytes: size,
        seconds: round(seconds, 1),
        task: input.task,
        status: run.state.status,
        chunks: run.state.counts.requests,
        wallS: round(run.wallS, 1),
        workerPeakRssMb: m.peakMb,
        ffmpegPeakRssMb: m.childPeakMb,
        failures: run.failures,
      });
      await rm(dir, { recursive: true, force: true });
    }
    const [small, mid, large] = inputs.map((i) => peaks[i.label]);
    return result(
      'memory',
      'peak_ratio_largest_vs_smallest',
      [
        check(`peak_${inputs[2].label}_over_${inputs[0].label}`, large / small, '<=', 1.3),
        check(`peak_${inputs[0].label}_mb`, small, '<=', 300),
        check(`peak_${inputs[1].label}_mb`, mid, '<=', 300),
        check(`peak_${inputs[2].label}_mb`, large, '<=', 300),
        check('all_succeeded', rows.filter((r) => r.status === 'completed').length, '==', inputs.length),
      ],
      { inputs: rows },
      opts.quick,
    );
  });
}
