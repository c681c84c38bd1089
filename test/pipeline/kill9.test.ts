/**
 * Two worker processes, both SIGKILLed mid-run, one after the other, and a replacement started after the first
 * kill: the run completes with no duplicate results and a ledger that matches the emulator's billing.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForRun } from '../../src/cli/wait.ts';
import { createRun } from '../../src/producers/run.ts';
import { startCli } from '../helpers/cli.ts';
import { media } from '../helpers/paths.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

function startWorker(env: Record<string, string>): ChildProcess {
  return startCli(['worker', '--infer-concurrency', '6'], { env }).child;
}

/** SIGKILL, and wait until it is dead (its jobs' locks are then only left to expire). */
async function kill9(p: ChildProcess): Promise<void> {
  const exited = p.exitCode === null && p.signalCode === null ? once(p, 'exit') : Promise.resolve();
  p.kill('SIGKILL');
  await exited;
}

describe('a worker killed with SIGKILL mid-run', () => {
  let h: Harness;
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    h = await startHarness({ emulator: { latencyMs: 400 }, env: { OMNIBATCH_LOCK_MS: '3000' } });
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    await h?.close();
  });

  it('loses nothing, duplicates nothing, and the ledger matches the billing', async () => {
    const src = path.join(h.tmp, 'in');
    const out = path.join(h.tmp, 'out');
    await mkdir(src, { recursive: true });
    const sources = ['whisper__jfk.flac', 'wenet__aishell-BAC009S0724W0121.wav', 'funasr__sample.wav', 'sb__common_voice_fr_17299458.wav'];
    for (let i = 0; i < 24; i++) await cp(media(sources[i % sources.length]), path.join(src, `f${String(i).padStart(2, '0')}-${sources[i % sources.length]}`));
    procs.push(startWorker(h.env), startWorker(h.env));
    const spec = await createRun(h.ctx, { source: src, destination: out, task: 'caption' });
    // Kill one worker once requests are in flight, then start a replacement.
    await expect.poll(() => h.emulator.stats().requests, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(4);
    await kill9(procs[0]);
    procs.push(startWorker(h.env));
    // Then the other original, half-way: the replacement finishes the run, the jobs both killed workers held too
    // (a fourth process, started after this kill, would only take that part of the replacement's work).
    await expect.poll(() => h.emulator.stats().completed, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(12);
    await kill9(procs[1]);

    const state = await waitForRun(h.ctx, spec.runId, { quiet: true, pollMs: 200 });
    expect(state.status).toBe('completed');
    expect(state.counts).toMatchObject({ total: 24, succeeded: 24, failed: 0 });
    // the result documents (<source>.json), not the .segments.json sidecars beside them
    const results = (await readdir(out)).filter((f) => f.endsWith('.json') && !f.endsWith('.segments.json'));
    expect(results.length).toBe(24);
    for (const f of results) {
      const doc = JSON.parse(await readFile(path.join(out, f), 'utf8'));
      expect(doc.chunks.length).toBe(1);
      // The emulator's answer begins "Audio clip, ..." once: no text appended twice.
      expect(doc.text.match(/Audio clip/g)?.length ?? 0).toBe(1);
    }
    const ledger = await h.ctx.costs.totals(spec.runId);
    expect(ledger.chunks).toBe(24);
    const stats = h.emulator.stats();
    const billed = stats.billed['qwen3-omni-30b-a3b-captioner'];
    // Exact unless a kill landed after the emulator finished a response and before the worker staged it:
    // that request was really billed, and its chunk was sent again. Every billed token beyond the ledger is
    // such a completed request the ledger never saw, and there are at most as many as were in flight at the
    // two kills (the global infer concurrency, 6, each time).
    const unstaged = stats.completed - 24;
    expect(unstaged).toBeGreaterThanOrEqual(0);
    expect(unstaged).toBeLessThanOrEqual(2 * 6);
    const perChunkMax = Math.max(...(await Promise.all(results.map(async (f) => JSON.parse(await readFile(path.join(out, f), 'utf8')).usage.input.audio))));
    expect(billed.input.audio - ledger.usage.input.audio).toBeGreaterThanOrEqual(0);
    expect(billed.input.audio - ledger.usage.input.audio).toBeLessThanOrEqual(unstaged * perChunkMax);
  }, 180_000);
});
