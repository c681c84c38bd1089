/**
 * `omnibatch demo` (`npm run demo`): everything end to end on one machine with nothing configured: the
 * emulator in-process, local folders, caption, transcribe and moderate runs with --wait. Redis from
 * REDIS_URL, or a private redis-server when nothing answers there.
 */
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createContext } from '../app/context.ts';
import { applyProcessSettings } from '../app/process-settings.ts';
import { loadConfig } from '../config/index.ts';
import { type PrivateRedis, redisAnswers, startPrivateRedis } from '../demo/redis.ts';
import { startEmulator } from '../emulator/server.ts';
import { runFfmpeg } from '../media/ffmpeg.ts';
import { createRun } from '../producers/run.ts';
import { runKey } from '../storage/keys.ts';
import { startWorkers } from '../workers/index.ts';
import { loggerFor } from './common.ts';
import { exitCodeFor } from './progress.ts';
import { waitForRun } from './wait.ts';

const DEMO_MEDIA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../demo/media');

export function register(program: Command): void {
  program
    .command('demo')
    .description('run caption, transcribe and moderate end to end against the built-in emulator, on local folders')
    .option('--dir <dir>', 'where the demo writes its input and output', 'omnibatch-demo')
    .action(async (f: { dir: string }) => {
      const dir = path.resolve(f.dir);
      const input = path.join(dir, 'in');
      const output = path.join(dir, 'out');
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(input, { recursive: true });
      for (const name of readdirSync(DEMO_MEDIA).filter((n) => !n.endsWith('.md'))) cpSync(path.join(DEMO_MEDIA, name), path.join(input, name));
      const say = (s: string) => process.stdout.write(`${s}\n`);
      say('omnibatch demo: generating a short test video...');
      await runFfmpeg([
        '-y',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=320x240:rate=10:duration=6',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:duration=6',
        '-c:v',
        'libx264',
        '-pix_fmt',
        'yuv420p',
        '-c:a',
        'aac',
        '-shortest',
        path.join(input, 'test-pattern.mp4'),
      ]);

      let redis: PrivateRedis | undefined;
      let redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
      if (!(await redisAnswers(redisUrl))) {
        redis = await startPrivateRedis();
        redisUrl = redis.url;
        say(`omnibatch demo: no Redis at REDIS_URL; started a private redis-server on ${redisUrl}`);
      }
      const emulator = await startEmulator({ latencyMs: 300 });
      const env = {
        ...process.env,
        REDIS_URL: redisUrl,
        OMNI_BASE_URL: `${emulator.url}/compatible-mode/v1`,
        OMNI_PROTOCOL: 'chat',
        OMNI_API_KEY: 'demo-key',
        OMNIBATCH_PREFIX: `omnibatch-demo-${process.pid}`,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      };
      const cfg = loadConfig({ env });
      applyProcessSettings(cfg);
      const ctx = createContext(cfg, loggerFor(cfg));
      const workers = await startWorkers(ctx, { inferConcurrency: 8 });
      let worst = 0;
      try {
        say(`omnibatch demo: emulator on ${emulator.url}; input ${input}`);
        for (const task of ['caption', 'transcribe', 'moderate'] as const) {
          const spec = await createRun(ctx, { source: input, destination: path.join(output, task), task });
          say(`\n== ${task} (${spec.model}) run ${spec.runId}`);
          const state = await waitForRun(ctx, spec.runId);
          worst = Math.max(worst, exitCodeFor(state.status));
          say(`   results: ${path.join(output, task)}`);
          say(`   report:  ${path.join(output, task, runKey(spec.runId, 'report.json'))}`);
        }
        const s = emulator.stats();
        say(`\nomnibatch demo: done. The emulator answered ${s.requests} requests. Look at ${output}`);
      } finally {
        await workers.close();
        await ctx.redis.keys(`${cfg.queuePrefix}:*`).then((keys) => (keys.length ? ctx.redis.del(...keys) : 0));
        await ctx.close();
        await emulator.close();
        await redis?.stop();
      }
      process.exitCode = worst;
    });
}
