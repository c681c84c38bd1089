/**
 * rate-limit: the emulator enforces 120 RPM (a sliding 60 s window, 429 Throttling.RateQuota beyond it, as the
 * real service does). Run A: the pipeline with --rpm 120. Run B: the same without --rpm.
 * Reference: 120 RPM. Targets: A achieves >= 95% of 120 RPM over whole minutes with the queue never empty,
 * and 429s are <= 2% of its requests; B still completes (the 429s are waited out, no attempt spent).
 *
 * Achieved RPM: admissions (200s) counted by the emulator in the whole minutes [first request, first + k min],
 * where k = the whole minutes for which the run had more work left than 120 a minute could take.
 * --quick: one minute of A (150 files) and a 130-file B (~2.5 min together; a minute is the unit of the limit).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Harness, withHarness } from '../lib/harness.ts';
import { distinctClips, replicate } from '../lib/media.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

const RPM = 120;

interface Watched {
  t: number;
  admitted: number;
  requests: number;
  r429: number;
}

/** Runs the files with one worker process, sampling the emulator's counters every 100 ms. */
async function runWith(h: Harness, src: string, out: string, workerArgs: string[], timeoutMs: number) {
  h.emulator.resetStats();
  const w = h.spawnWorker(['--infer-concurrency', '16', ...workerArgs]);
  await sleep(2500); // boot
  const series: Watched[] = [];
  const runId = await h.createRun({ source: src, destination: out, task: 'caption' });
  let done = false;
  const sampler = (async () => {
    for (let i = 0; !done && i < timeoutMs / 100; i++) {
      const s = h.emulator.stats();
      series.push({ t: Date.now(), admitted: s.byStatus['200'] ?? 0, requests: s.requests, r429: s.byStatus['429'] ?? 0 });
      await sleep(100);
    }
  })();
  try {
    const state = await h.waitRun(runId, { timeoutMs, pollMs: 250 });
    return { state, series, failures: await h.failures(runId), stats: h.emulator.stats() };
  } finally {
    done = true;
    await sampler;
    await h.stopWorker(w);
  }
}

/** Admissions per minute over the whole minutes that had a full backlog (counters start at 0 with the run). Pure. */
export function achievedRpm(series: readonly Watched[], files: number, rpm: number): { rpm: number; minutes: number } {
  const first = series.find((s) => s.requests > 0);
  if (!first) return { rpm: 0, minutes: 0 };
  const minutes = Math.max(1, Math.floor((files - 1) / rpm));
  const until = first.t + minutes * 60_000;
  // The last sample inside the window: admissions up to it (at most one poll early, never late).
  const end = [...series].reverse().find((s) => s.t <= until) ?? first;
  return { rpm: end.admitted / minutes, minutes };
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const filesA = opts.quick ? 150 : 400;
  const filesB = opts.quick ? 130 : 250;
  return withHarness({ name: 'rate-limit', emulator: { latencyMs: 500, rpm: RPM } }, async (h) => {
    const templates = await distinctClips(path.join(h.tmp, 'templates'), 8, { seconds: 3, ext: 'mp3', rate: 16_000, channels: 1, kbps: 32 });
    await replicate(templates, filesA, path.join(h.tmp, 'a'));
    await replicate(templates, filesB, path.join(h.tmp, 'b'));

    const a = await runWith(h, path.join(h.tmp, 'a'), path.join(h.tmp, 'out-a'), ['--rpm', String(RPM)], 900_000);
    const rate = achievedRpm(a.series, filesA, RPM);
    const a429 = a.stats.byStatus['429'] ?? 0;
    // B starts from a clean window: resetStats() in runWith also empties the emulator's RPM window.
    // `--rpm 0` lifts the shared limit run A set (a worker without --rpm leaves the account's limits as they are).
    const b = await runWith(h, path.join(h.tmp, 'b'), path.join(h.tmp, 'out-b'), ['--rpm', '0'], 900_000);
    const b429 = b.stats.byStatus['429'] ?? 0;
    return result(
      'rate-limit',
      'rpm_fraction_with_rpm_flag',
      [
        check('achieved_rpm_fraction', rate.rpm / RPM, '>=', 0.95),
        check('share_429_with_rpm', a429 / Math.max(1, a.stats.requests), '<=', 0.02),
        check('with_rpm_succeeded', a.state.counts.succeeded, '==', filesA),
        check('without_rpm_succeeded', b.state.counts.succeeded, '==', filesB),
        // B must really have run into the limit, or it proves nothing.
        check('without_rpm_hit_429s', b429, '>=', 1),
      ],
      {
        rpmLimit: RPM,
        withRpm: {
          files: filesA,
          achievedRpm: round(rate.rpm, 1),
          minutes: rate.minutes,
          requests: a.stats.requests,
          r429: a429,
          status: a.state.status,
          retries: a.state.counts.retries,
          failures: a.failures,
        },
        withoutRpm: {
          files: filesB,
          requests: b.stats.requests,
          r429: b429,
          share429: round(b429 / Math.max(1, b.stats.requests), 3),
          status: b.state.status,
          failures: b.failures,
        },
      },
      opts.quick,
    );
  });
}
