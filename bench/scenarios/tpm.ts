/**
 * tpm: how close a run gets to the account's token ceiling. The emulator enforces, per model, a sliding-minute
 * quota of input + output tokens (429 Throttling.AllocationQuota beyond it) and an account RPM (429
 * Throttling.RateQuota), as DashScope does. Two worker processes run with --tpm and --rpm set to that quota,
 * over a mixed archive on two models at once: 30-s clips captioned (qwen3-omni-30b-a3b-captioner, one short
 * request each) and 5-min and 40-min files transcribed (qwen3-omni-flash), both runs created as `run --tpm --rpm`
 * creates them (chunks packed for the quota: src/cost/packing.ts).
 *
 * Figure: tokens per minute the emulator admitted over the steady part, over the quota (per model, and both
 * together), and the share of requests answered 429. Target >= 0.95 with <= 2 % 429s. The steady part starts
 * one window after the first request (the first minute may take the whole quota at once, as the provider
 * allows) and ends when the time is up or either run is about to run out of work; the runs are then cancelled.
 * --quick: 300 s on a smaller archive (one to two minutes of steady part).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TPM_WINDOW_MS } from '../../src/cost/token-bucket.ts';
import { type Harness, withHarness } from '../lib/harness.ts';
import { distinctClips, makeAudio, replicate } from '../lib/media.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

const TPM = 40_000;
// Not binding by design (the rate-limit scenario measures RPM): here the token quota is what is measured. With
// --tpm a request slot is taken only together with its tokens (src/cost/lua/token-bucket.ts), so waiting costs none.
const RPM = 300;
const CAPTIONER = 'qwen3-omni-30b-a3b-captioner';
const FLASH = 'qwen3-omni-flash';

export interface TokenSample {
  t: number;
  tokens: Record<string, number>;
  left: number[];
}

/** Tokens per minute between the first sample at or after `from` and the last at or before `to`, per model. Pure. */
export function tokensPerMinute(
  series: readonly TokenSample[],
  from: number,
  to: number,
  models: readonly string[],
): Record<string, number> & { minutes: number } {
  const a = series.find((s) => s.t >= from);
  const b = [...series].reverse().find((s) => s.t <= to);
  const out = { minutes: 0 } as Record<string, number> & { minutes: number };
  if (!a || !b || b.t <= a.t) return out;
  out.minutes = (b.t - a.t) / 60_000;
  for (const m of models) out[m] = ((b.tokens[m] ?? 0) - (a.tokens[m] ?? 0)) / out.minutes;
  return out;
}

/** The end of the steady part: the first sample where a run has fewer files left than it keeps in flight. Pure. */
export function steadyEnd(series: readonly TokenSample[], stopAt: number, minLeft: number): number {
  return series.find((s) => s.left.some((n) => n < minLeft))?.t ?? stopAt;
}

/** Tokens per model admitted in each 30 s from `t0` (the last sample of each slice). Pure. */
export function halfMinutes(series: readonly TokenSample[], t0: number, models: readonly string[]): Record<string, number[]> {
  const out: Record<string, number[]> = Object.fromEntries(models.map((m) => [m, []]));
  let prev: TokenSample | undefined;
  for (let end = t0 + 30_000; ; end += 30_000) {
    const last = [...series].reverse().find((s) => s.t <= end);
    if (!last || last.t <= end - 30_000) break;
    for (const m of models) out[m].push((last.tokens[m] ?? 0) - (prev?.tokens[m] ?? 0));
    prev = last;
  }
  return out;
}

function billedTokens(h: Harness): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [model, b] of Object.entries(h.emulator.stats().billed)) {
    out[model] = Object.values(b.input).reduce((x, n) => x + n, 0) + Object.values(b.output).reduce((x, n) => x + n, 0);
  }
  return out;
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const durationMs = opts.quick ? 300_000 : 600_000;
  const clips = opts.quick ? 500 : 1_100;
  const long = opts.quick ? 4 : 12;
  const medium = opts.quick ? 8 : 20;
  return withHarness({ name: 'tpm', emulator: { latencyMs: 1500, rpm: RPM, tpm: TPM } }, async (h) => {
    const clipT = await distinctClips(path.join(h.tmp, 't-clips'), 8, { seconds: 28, ext: 'mp3', rate: 16_000, channels: 1, kbps: 32 });
    const longT = [
      await makeAudio(path.join(h.tmp, 't-long', 'a.mp3'), { seconds: 2400, ext: 'mp3', rate: 16_000, kbps: 24, kind: 330 }),
      await makeAudio(path.join(h.tmp, 't-long', 'b.mp3'), { seconds: 2400, ext: 'mp3', rate: 16_000, kbps: 24, kind: 'speech' }),
    ];
    const mediumT = await distinctClips(path.join(h.tmp, 't-medium'), 3, { seconds: 300, ext: 'mp3', rate: 16_000, channels: 1, kbps: 32 });
    await replicate(clipT, clips, path.join(h.tmp, 'clips'), 'c');
    await replicate(longT, long, path.join(h.tmp, 'long'), 'l');
    await replicate(mediumT, medium, path.join(h.tmp, 'long'), 'm');
    // as `omnibatch run --tpm --rpm` creates them: chunks packed for the quota (src/cost/packing.ts)
    const quota = { tpm: TPM, rpm: RPM };
    const flashAudioTokens = (long * 2400 + medium * 300) * 12.5;

    const args = ['--infer-concurrency', '16', '--prepare-concurrency', '2', '--rpm', String(RPM), '--tpm', String(TPM)];
    const workers = [h.spawnWorker(args), h.spawnWorker(args)];
    await sleep(3000); // boot
    h.emulator.resetStats();
    const t0 = Date.now();
    // The long files first: their prepares (an encode of 40 minutes) take longest, and the queues are FIFO.
    const transcripts = await h.createRun({ source: path.join(h.tmp, 'long'), destination: path.join(h.tmp, 'out-t'), task: 'transcribe' }, quota);
    await sleep(2000);
    const captions = await h.createRun({ source: path.join(h.tmp, 'clips'), destination: path.join(h.tmp, 'out-c'), task: 'caption' }, quota);
    const flashChunkS = (await h.ctx.runs.spec(transcripts))?.chunkSeconds ?? 300;
    const series: TokenSample[] = [];
    const firstBilled: Record<string, number> = {};
    while (Date.now() - t0 < durationMs) {
      const [c, t] = await Promise.all([h.ctx.runs.state(captions), h.ctx.runs.state(transcripts)]);
      const e = h.emulator.stats();
      const now = Date.now();
      for (const m of [CAPTIONER, FLASH]) if (!firstBilled[m] && e.billed[m]) firstBilled[m] = now;
      // work left, in requests: a caption file is one; a transcript request carries one chunk's audio
      const cLeft = clips - (c?.counts.terminal ?? 0);
      const tLeft = Math.round((flashAudioTokens - (e.billed[FLASH]?.input.audio ?? 0)) / (flashChunkS * 12.5));
      series.push({ t: now, tokens: billedTokens(h), left: [cLeft, tLeft] });
      if ((c && c.status !== 'running') || (t && t.status !== 'running')) break;
      await sleep(1000);
    }
    const stopAt = Date.now();
    for (const id of [captions, transcripts]) await h.ctx.runs.stop(id, 'cancelled', 'bench: time is up');
    const stats = h.emulator.stats();
    await Promise.all(workers.map((w) => h.stopWorker(w, 'SIGKILL')));

    // one window after both models got going
    const from = Math.max(firstBilled[CAPTIONER] ?? stopAt, firstBilled[FLASH] ?? stopAt) + TPM_WINDOW_MS;
    const to = steadyEnd(series, stopAt, 4);
    const rate = tokensPerMinute(series, from, to, [CAPTIONER, FLASH]);
    const fraction = (m: string) => (rate[m] ?? 0) / TPM;
    const both = ((rate[CAPTIONER] ?? 0) + (rate[FLASH] ?? 0)) / (2 * TPM);
    const r429 = stats.byStatus['429'] ?? 0;
    return result(
      'tpm',
      'tokens_per_minute_over_quota',
      [
        check('tpm_fraction_both_models', both, '>=', 0.95),
        check('share_429', r429 / Math.max(1, stats.requests), '<=', 0.02),
        check('steady_minutes', rate.minutes, '>=', opts.quick ? 1.5 : 5),
      ],
      {
        tpmQuotaPerModel: TPM,
        flashChunkSeconds: flashChunkS,
        rpmQuota: RPM,
        workers: 2,
        windowMs: TPM_WINDOW_MS,
        steady: { fromS: round((from - t0) / 1000, 1), toS: round((to - t0) / 1000, 1), minutes: round(rate.minutes, 2) },
        perModel: {
          [CAPTIONER]: { tokensPerMinute: Math.round(rate[CAPTIONER] ?? 0), fraction: round(fraction(CAPTIONER), 3) },
          [FLASH]: { tokensPerMinute: Math.round(rate[FLASH] ?? 0), fraction: round(fraction(FLASH), 3) },
        },
        requests: stats.requests,
        completed: stats.completed,
        r429,
        byStatus: stats.byStatus,
        billed: stats.billed,
        // tokens admitted in each 30 s since the start, per model: where the run ramps up and where it holds
        byHalfMinute: halfMinutes(series, t0, [CAPTIONER, FLASH]),
        archive: { clips30s: clips, files5min: medium, files40min: long },
        failures: { captions: await h.failures(captions), transcripts: await h.failures(transcripts) },
      },
      opts.quick,
    );
  });
}
