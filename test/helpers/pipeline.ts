/**
 * The whole pipeline in one test process: the emulator over real HTTP, real Redis under a private queue
 * prefix, real storage (local folders or s3rver), real ffmpeg, and workers started in-process.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Context, createContext } from '../../src/app/context.ts';
import { waitForRun } from '../../src/cli/wait.ts';
import { type Config, loadConfig } from '../../src/config/index.ts';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../src/emulator/server.ts';
import { createRun, type RunRequest } from '../../src/producers/run.ts';
import type { RunState } from '../../src/runs/types.ts';
import { createLogger } from '../../src/util/logger.ts';
import { type RunningWorkers, startWorkers, type WorkerOptions } from '../../src/workers/index.ts';
import { dropKeys, TEST_REDIS_URL } from './redis.ts';

export interface Harness {
  emulator: Emulator;
  cfg: Config;
  ctx: Context;
  env: Record<string, string>;
  tmp: string;
  workers?: RunningWorkers;
  startWorkers(opts?: WorkerOptions): Promise<RunningWorkers>;
  /** creates a run and waits for its end (workers must be running) */
  run(req: RunRequest): Promise<RunState>;
  close(): Promise<void>;
}

export const API_KEY = 'sk-test-secret-4f1d2c';

export async function startHarness(opts: { emulator?: EmulatorOptions; env?: Record<string, string> } = {}): Promise<Harness> {
  const emulator = await startEmulator({ apiKey: API_KEY, ...opts.emulator });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-it-'));
  const env: Record<string, string> = {
    REDIS_URL: TEST_REDIS_URL,
    OMNIBATCH_PREFIX: `it-${randomUUID().slice(0, 8)}`,
    OMNI_BASE_URL: `${emulator.url}/compatible-mode/v1`,
    OMNI_API_KEY: API_KEY,
    OMNIBATCH_TMP: path.join(tmp, 'work'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    OMNIBATCH_IDLE_TIMEOUT_MS: '5000',
    ...opts.env,
  };
  const cfg = loadConfig({ env: { ...process.env, ...env } });
  const ctx = createContext(cfg, createLogger({ level: cfg.logLevel, pretty: false }));
  const h: Harness = {
    emulator,
    cfg,
    ctx,
    env,
    tmp,
    async startWorkers(wopts) {
      h.workers = await startWorkers(ctx, wopts);
      return h.workers;
    },
    async run(req) {
      const spec = await createRun(ctx, req);
      return waitForRun(ctx, spec.runId, { quiet: true, pollMs: 100 });
    },
    async close() {
      await h.workers?.close(5000);
      await dropKeys(ctx.redis, cfg.queuePrefix);
      await ctx.close();
      await emulator.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
  return h;
}
