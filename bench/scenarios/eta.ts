/**
 * eta: how close the ETA that `run --wait`, `status --watch` and the dashboard show (runs/eta.ts: by work, at the
 * recent pace a watcher measured) comes to the time the work then really took, at 25, 50 and 75% of an archive's
 * requests. Reference, at the same moments: the ETA a file count gives (files left at the files-per-second since
 * the first request), the estimate the ETA by work replaced.
 *
 * Files: short clips (one 10-s request each) listed first, long ones (60 s in 10-s chunks: 6 requests each) last,
 * the order a file count gets most wrong; emulator latency 1 s; one worker process, infer concurrency 8. The
 * actual time is to the last request's answer (what the ETA counts: the last file's outputs and the report after
 * it are not work). Figure: the largest |ETA - actual| / actual of the three points. Target <= 0.15.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFinal } from '../../src/cli/progress.ts';
import { WorkHistory, workProgress } from '../../src/runs/eta.ts';
import { withHarness } from '../lib/harness.ts';
import { distinctClips, replicate } from '../lib/media.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

const POINTS = [0.25, 0.5, 0.75] as const;

interface Look {
  point: number;
  t: number;
  etaS: number;
  filesEtaS: number | null;
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  // --quick runs the same set: at half of it (9 s of work) the 25% point came after 2 s, too soon for any pace
  const short = 60;
  const long = 12;
  const concurrency = 8;
  return withHarness({ name: 'eta', emulator: { latencyMs: 1000 } }, async (h) => {
    const src = path.join(h.tmp, 'in');
    const audio = { ext: 'mp3' as const, rate: 16_000, channels: 1 as const, kbps: 32 };
    await replicate(await distinctClips(path.join(h.tmp, 'short'), 4, { ...audio, seconds: 10 }), short, src, 'a-short-');
    await replicate(await distinctClips(path.join(h.tmp, 'long'), 2, { ...audio, seconds: 60 }), long, src, 'z-long-');
    h.spawnWorker(['--infer-concurrency', String(concurrency)]);
    await sleep(2500); // boot: a long-running worker is already up when a run is submitted
    const runId = await h.createRun({ source: src, destination: path.join(h.tmp, 'out'), task: 'transcribe', chunkSeconds: 10 });

    // what a watcher keeps: its looks at the work, for the recent pace
    const history = new WorkHistory();
    const looks: Look[] = [];
    const firstSeen = new Map<number, number>();
    let requests = 0;
    for (const deadline = Date.now() + 600_000; ; ) {
      if (Date.now() > deadline) throw new Error(`run ${runId} did not end within 10 min`);
      const [state, totals] = await Promise.all([h.ctx.runs.state(runId), h.ctx.costs.totals(runId)]);
      if (!state) throw new Error(`run ${runId} vanished`);
      const now = Date.now();
      if (!firstSeen.has(totals.chunks)) firstSeen.set(totals.chunks, now);
      if (isFinal(state.status)) {
        requests = totals.chunks;
        break;
      }
      history.observe(now, totals.chunks);
      const w = workProgress({ counts: state.counts, scanDone: state.scanDone, requestsDone: totals.chunks, now, recent: history.recent(now) });
      const point = POINTS[looks.length];
      if (point !== undefined && w.requestsPlanned !== null && !w.plannedEstimated && w.fraction >= point && w.etaS !== null) {
        const c = state.counts;
        const startedS = c.work_started_ms !== undefined ? (now - c.work_started_ms) / 1000 : 0;
        const filesEtaS = c.terminal > 0 && startedS > 0 ? (c.total - c.terminal) / (c.terminal / startedS) : null;
        looks.push({ point, t: now, etaS: w.etaS, filesEtaS });
      }
      await sleep(100);
    }
    const endT = firstSeen.get(requests) ?? Date.now();
    const points = looks.map((l) => {
      const actualS = (endT - l.t) / 1000;
      return {
        point: l.point,
        actualS: round(actualS, 2),
        etaS: round(l.etaS, 2),
        error: round(Math.abs(l.etaS - actualS) / actualS, 4),
        filesEtaS: l.filesEtaS === null ? null : round(l.filesEtaS, 2),
        filesError: l.filesEtaS === null ? null : round(Math.abs(l.filesEtaS - actualS) / actualS, 4),
      };
    });
    const worst = Math.max(...points.map((p) => p.error));
    const worstFiles = Math.max(...points.map((p) => p.filesError ?? Number.POSITIVE_INFINITY));
    return result(
      'eta',
      'eta_worst_relative_error',
      [check('eta_worst_error', worst, '<=', 0.15), check('points_seen', points.length, '==', POINTS.length)],
      { files: short + long, requests, concurrency, latencyMs: 1000, points, fileCountWorstError: round(worstFiles, 4) },
      opts.quick,
    );
  });
}
