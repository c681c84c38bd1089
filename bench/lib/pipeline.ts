/**
 * One run through the pipeline as the scenarios time it: create the run, sample its progress every poll,
 * wait for its end (bounded), and return the figures the scenarios share.
 */
import type { RunRequest } from '../../src/producers/run.ts';
import type { RunState } from '../../src/runs/types.ts';
import type { Harness } from './harness.ts';
import { type Sample, steadyRate } from './measure.ts';

export interface TimedRun {
  runId: string;
  state: RunState;
  /** from createRun to the run's final status */
  wallS: number;
  /** succeeded files over time */
  series: Sample[];
  /** files/s between 10% and 90% done */
  steady: { rate: number; windowS: number; items: number };
  failures: Record<string, { count: number; example: string }>;
  /** seconds from createRun to the emulator's first request, and from its last completed request to the run's end */
  rampS: number;
  tailS: number;
}

export async function timedRun(h: Harness, req: RunRequest, opts: { files: number; timeoutMs: number; pollMs?: number }): Promise<TimedRun> {
  const series: Sample[] = [];
  const t0 = Date.now();
  const before = h.emulator.stats();
  let firstRequest = 0;
  let lastCompletion = 0;
  let completed = before.completed;
  const runId = await h.createRun(req);
  const state = await h.waitRun(runId, {
    timeoutMs: opts.timeoutMs,
    pollMs: opts.pollMs ?? 100,
    onPoll: (s) => {
      const now = Date.now();
      series.push({ t: now, done: s.counts.succeeded });
      const e = h.emulator.stats();
      if (!firstRequest && e.requests > before.requests) firstRequest = now;
      if (e.completed > completed) {
        completed = e.completed;
        lastCompletion = now;
      }
    },
  });
  series.push({ t: state.endedAtMs, done: state.counts.succeeded });
  return {
    runId,
    state,
    wallS: (state.endedAtMs - t0) / 1000,
    series,
    steady: steadyRate(series, opts.files),
    failures: await h.failures(runId),
    rampS: firstRequest ? (firstRequest - t0) / 1000 : 0,
    tailS: lastCompletion ? (state.endedAtMs - lastCompletion) / 1000 : 0,
  };
}
