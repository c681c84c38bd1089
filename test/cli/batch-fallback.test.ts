/**
 * `--via auto` and `--batch-fallback realtime` on the command line, as real processes: the invalid combinations
 * refused (invalid_argument) before a run exists, `estimate --via auto --deadline` saying which way it would
 * send the run and why, and `--via batch --deadline` saying that a batch may take its whole window.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDeadline, runRequestFrom } from '../../src/cli/run-options.ts';
import { loadConfig } from '../../src/config/index.ts';
import { viaLines } from '../../src/cost/via-choice.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { openStorage, storageOptionsFromConfig } from '../../src/storage/index.ts';
import { createLogger } from '../../src/util/logger.ts';
import { dropPrefix, offlineEnv, runCli, silentMp3 } from '../helpers/cli.ts';
import { testRedis } from '../helpers/redis.ts';

describe('--via auto, --batch-fallback realtime', () => {
  let tmp: string;
  let env: Record<string, string>;
  let src: string;
  const cli = (...args: string[]) => runCli(args, { env, timeoutMs: 120_000 });
  const model = ['--task', 'transcribe', '--model', 'qwen-omni-turbo'];
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-fallback-cli-'));
    env = { ...offlineEnv('fallback-cli', tmp), OMNI_REGION: 'cn' };
    src = path.join(tmp, 'in');
    await mkdir(src, { recursive: true });
    await silentMp3(path.join(src, 'tape.mp3'), 600);
  }, 60_000);
  afterAll(async () => {
    await dropPrefix(env.OMNIBATCH_PREFIX);
    await rm(tmp, { recursive: true, force: true });
  });

  it('refuses --batch-fallback without --deadline or without --via batch, and --via auto without --deadline; no run exists', async () => {
    const out = path.join(tmp, 'out');
    // the four processes at once: each is refused on its own, and none may leave a run or a schedule behind
    const [noDeadline, auto, est, sched] = await Promise.all([
      cli('run', src, '--out', out, ...model, '--via', 'batch', '--batch-fallback', 'realtime'),
      cli('run', src, '--out', out, ...model, '--via', 'auto'),
      cli('estimate', src, ...model, '--via', 'auto'),
      cli('schedule', 'add', 'nightly', src, '--cron', '0 2 * * *', '--out', out, ...model, '--via', 'batch', '--batch-fallback', 'realtime'),
    ]);
    expect(noDeadline.code).toBe(1);
    expect(noDeadline.stderr).toMatch(/invalid_argument: --batch-fallback realtime needs --deadline/);
    expect(auto.code).toBe(1);
    expect(auto.stderr).toMatch(/invalid_argument: --via auto needs --deadline/);
    expect(est.code).toBe(1);
    expect(est.stderr).toMatch(/invalid_argument: --via auto needs --deadline/);
    expect(sched.code).toBe(1);
    expect(sched.stderr).toMatch(/invalid_argument: --batch-fallback realtime needs --deadline/);
    const redis = testRedis();
    try {
      expect(await redis.keys(`${env.OMNIBATCH_PREFIX}:*run*`)).toEqual([]);
      expect(await redis.keys(`${env.OMNIBATCH_PREFIX}:*sched*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 300_000);

  it('estimate --via auto --deadline says which way the run would go, and why', async () => {
    // the three estimates at once (each reads the source and prices it alone)
    const [nearOut, farOut, intl] = await Promise.all([
      cli('estimate', src, ...model, '--via', 'auto', '--deadline', '8h', '--json'),
      cli('estimate', src, ...model, '--via', 'auto', '--deadline', '30h', '--json'),
      runCli(['estimate', src, ...model, '--via', 'auto', '--deadline', '30h'], { env: { ...env, OMNI_REGION: 'intl' }, timeoutMs: 120_000 }),
    ]);
    // 8 h is closer than the 24-h window: real time
    const near = JSON.parse(nearOut.stdout);
    expect(near.via_choice).toEqual({ via: 'realtime', reason: expect.stringMatching(/closer than the completion window \(24 h 0 min\)/) });
    expect(near.batch).toBeUndefined();
    // 30 h leaves the window and the run's real-time wall time after it: Batch, with the fallback, priced both ways
    const far = JSON.parse(farOut.stdout);
    expect(far.via_choice).toMatchObject({ via: 'batch', batch_fallback: 'realtime', reason: expect.stringMatching(/leaves the completion window/) });
    expect(far.batch.saving.amount_micros).toBeGreaterThan(0);
    // where Batch does not serve the run (Singapore), auto means real time, and says so
    expect(intl.code).toBe(0);
    expect(intl.stdout).toMatch(/via auto: realtime: Batch does not serve this run \(the Batch API does not serve qwen-omni-turbo in region intl/);
  }, 300_000);

  it('--via batch --deadline closer than the window: says a batch may take all of it (and suggests the fallback)', async () => {
    const est = await cli('estimate', src, ...model, '--via', 'batch', '--deadline', '8h');
    expect(est.code).toBe(0);
    expect(est.stdout).toMatch(
      /via batch: a batch may take its whole completion window \(24 h 0 min\), longer than the deadline leaves \(8 h 0 min\).*--batch-fallback realtime/,
    );
  }, 300_000);

  it('run and schedule add: the deadline planner turns --via auto into batch with the fallback, or realtime, in the request', async () => {
    const cfg = loadConfig({ env: { ...process.env, ...env } });
    const deps = { cfg, log: createLogger({ level: 'silent' }), source: openStorage(src, storageOptionsFromConfig(cfg)) };
    const flags = { out: path.join(tmp, 'out'), task: 'transcribe', model: 'qwen-omni-turbo', via: 'auto' };
    const far = await planDeadline(deps, runRequestFrom(src, flags), '30h');
    expect(far.request).toMatchObject({ via: 'batch', batchFallback: 'realtime', deadline: '30h' });
    expect(viaLines(far.via)).toEqual([expect.stringMatching(/^via auto: batch, with --batch-fallback realtime: /)]);
    // the request as planned builds a Batch run that falls back
    expect(buildRunSpec(far.request, cfg, newRunId())).toMatchObject({ via: 'batch', batchFallback: 'realtime' });
    const near = await planDeadline(deps, runRequestFrom(src, flags), '8h');
    expect(near.request.via).toBe('realtime');
    expect(near.request.batchFallback).toBeUndefined();
    expect(buildRunSpec(near.request, cfg, newRunId()).via).toBeUndefined();
    // an explicit fallback is kept through the planner
    const kept = await planDeadline(deps, runRequestFrom(src, { ...flags, via: 'batch', batchFallback: 'realtime' }), '8h');
    expect(kept.request).toMatchObject({ via: 'batch', batchFallback: 'realtime' });
    expect(kept.via.warning).toBeUndefined();
  }, 120_000);
});
