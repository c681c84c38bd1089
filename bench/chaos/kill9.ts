/**
 * kill-9: a 300-file run on 2 worker processes; 10 SIGKILLs at random moments (seeded), the killed worker
 * restarted each time. Files: 200 short mp3 clips (sent as they are), 80 WAVs that need encoding and 20
 * 75-second FLACs (3 chunks each), so kills land in downloads, ffmpeg passes, requests, finalizes and flows.
 *
 * Passes when: every file succeeds; one result per source and no answer twice in any result; staging is empty;
 * the ledger counts every chunk once; and the ledger's audio tokens equal the emulator's billed audio tokens
 * for completed requests, except for the one window that cannot be closed from the client side: a kill after
 * the emulator finished a response but before the worker staged it (milliseconds; tens of them when the worker is
 * busy encoding). That request was really served and billed, and its redo is billed again; the ledger records
 * the chunk once. Each such request shows as a completed request beyond one per chunk (`redone`), at most the
 * killed worker's requests in flight per kill; and billed - ledger is within [0, redone x the largest chunk's
 * tokens]: every token the service billed and the ledger did not is explained by a response a kill threw away.
 * And no ffmpeg/ffprobe the killed worker was running is still running 2 s after its kill (media/child-argv.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom as rng } from '../../src/util/random.ts';
import { type WorkerProc, withHarness } from '../lib/harness.ts';
import { distinctClips, makeAudio, replicate } from '../lib/media.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';
import { checkOutputs, ledgerVsBilling } from '../lib/verify.ts';

const MODEL = 'qwen3-omni-30b-a3b-captioner';
const KILLS = 10;
const INFER_PER_WORKER = 6;

interface Proc {
  ppid: number;
  comm: string;
  state: string;
  /** start time in clock ticks since boot: with the pid, names one process even if the pid is reused */
  start: string;
}

/** Every process, by pid, from /proc. */
function processes(): Map<number, Proc> {
  const all = new Map<number, Proc>();
  for (const d of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      all.set(Number(d), { ppid: Number(f[1]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), state: f[0], start: f[19] });
    } catch {
      /* gone */
    }
  }
  return all;
}

/** The ffmpeg/ffprobe processes below `root`, at any depth (under `timeout` when the guards are on). */
function mediaChildrenOf(root: number): [number, string][] {
  const all = processes();
  const below = (pid: number): boolean => {
    for (let p = all.get(pid)?.ppid; p !== undefined && p > 1; p = all.get(p)?.ppid) if (p === root) return true;
    return false;
  };
  return [...all].filter(([pid, p]) => /^ff(mpeg|probe)$/.test(p.comm) && below(pid)).map(([pid, p]) => [pid, p.start]);
}

/** How many of `procs` are still running (a zombie waiting for its reaper is dead). */
function stillRunning(procs: [number, string][]): number {
  const all = processes();
  return procs.filter(([pid, start]) => all.get(pid)?.start === start && all.get(pid)?.state !== 'Z').length;
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const rand = rng(20261123);
  return withHarness({ name: 'kill9', emulator: { latencyMs: 500 }, scanSecrets: true, env: { OMNIBATCH_LOCK_MS: '3000', LOG_LEVEL: 'debug' } }, async (h) => {
    const src = path.join(h.tmp, 'in');
    const out = path.join(h.tmp, 'out');
    const mp3 = await distinctClips(path.join(h.tmp, 't-mp3'), 8, { seconds: 5, ext: 'mp3', rate: 16_000, channels: 1, kbps: 64 });
    const wav = await distinctClips(path.join(h.tmp, 't-wav'), 4, { seconds: 8, ext: 'wav', rate: 44_100, channels: 2 });
    const flac = [await makeAudio(path.join(h.tmp, 't-flac', 'long.flac'), { seconds: 75, ext: 'flac', rate: 22_050, kind: 'speech' })];
    await replicate(mp3, 200, src, 'a');
    await replicate(wav, 80, src, 'b');
    await replicate(flac, 20, src, 'c');
    const files = 300;

    // Both workers share a global infer limit of 12 (6 each).
    const args = ['--infer-concurrency', String(2 * INFER_PER_WORKER), '--infer-worker-concurrency', String(INFER_PER_WORKER)];
    const live: WorkerProc[] = [h.spawnWorker(args), h.spawnWorker(args)];
    await sleep(2500);
    const runId = await h.createRun({ source: src, destination: out, task: 'caption' });
    const kills: { atS: number; pid: number; status: string; requests: number; ffmpeg: number; ffmpegLeft: number }[] = [];
    const leftChecks: Promise<void>[] = [];
    const t0 = Date.now();
    for (let i = 0; i < KILLS; i++) {
      await sleep(800 + Math.floor(rand() * 2200));
      const state = await h.ctx.runs.state(runId);
      if (state?.status !== 'running') break;
      const victim = live.splice(Math.floor(rand() * live.length), 1)[0];
      const children = mediaChildrenOf(victim.pid);
      await h.stopWorker(victim, 'SIGKILL');
      const kill = {
        atS: round((Date.now() - t0) / 1000, 2),
        pid: victim.pid,
        status: `${state.counts.terminal}/${state.counts.total} done`,
        requests: h.emulator.stats().requests,
        ffmpeg: children.length,
        ffmpegLeft: 0,
      };
      kills.push(kill);
      // Looked at 2 s later, without holding up the replacement worker.
      leftChecks.push(
        sleep(2000).then(() => {
          kill.ffmpegLeft = stillRunning(children);
        }),
      );
      live.push(h.spawnWorker(args));
    }
    const state = await h.waitRun(runId, { timeoutMs: 600_000, pollMs: 250 });
    await Promise.all(leftChecks);
    const outputs = await checkOutputs(out);
    const ledger = await ledgerVsBilling(h, runId, MODEL);
    // Requests the emulator completed beyond one per chunk: each one a response lost to a kill, then redone.
    const redone = ledger.completed - outputs.chunks;
    return result(
      'kill-9',
      'files_succeeded_fraction',
      [
        check('succeeded_fraction', state.counts.succeeded / files, '==', 1),
        check('kills_mid_run', kills.length, '==', KILLS),
        check(
          'ffmpeg_left_running_after_kills',
          kills.reduce((n, k) => n + k.ffmpegLeft, 0),
          '==',
          0,
        ),
        check('results', outputs.results, '==', files),
        check('results_with_text_twice', outputs.textTwice.length + outputs.badChunks.length, '==', 0),
        check('staging_left', outputs.staging, '==', 0),
        check('ledger_chunks_vs_result_chunks', ledger.ledgerChunks - outputs.chunks, '==', 0),
        check('redone_completed_requests_min', redone, '>=', 0),
        check('redone_completed_requests_max', redone, '<=', kills.length * INFER_PER_WORKER),
        check('billed_minus_ledger_tokens_min', ledger.diff, '>=', 0),
        check('billed_minus_ledger_tokens_max', ledger.diff, '<=', redone * outputs.maxChunkAudioTokens),
      ],
      {
        files,
        chunks: outputs.chunks,
        kills,
        ffmpegAtKills: kills.reduce((n, k) => n + k.ffmpeg, 0),
        status: state.status,
        failures: await h.failures(runId),
        ledger,
        redoneCompletedRequests: redone,
        maxChunkAudioTokens: outputs.maxChunkAudioTokens,
        emulator: { requests: h.emulator.stats().requests, completed: h.emulator.stats().completed, byStatus: h.emulator.stats().byStatus },
        textTwice: outputs.textTwice.slice(0, 5),
        stagingLeft: outputs.stagingKeys,
        retries: state.counts.retries,
        wallS: round((state.endedAtMs - t0) / 1000, 1),
      },
      opts.quick,
    );
  });
}
