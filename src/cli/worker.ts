/** `omnibatch worker`: a long-running worker; start any number of them anywhere that reaches Redis and the bucket. */
import type { Command } from 'commander';
import { createContext } from '../app/context.ts';
import { STAGES, type Stage } from '../jobs/catalog.ts';
import { readDepth } from '../ops/depth.ts';
import { checkTarget } from '../ops/healthcheck.ts';
import { DEFAULT_METRICS_HOST, metrics as processMetrics, startMetricsServer } from '../ops/metrics.ts';
import { sweepTempDirs } from '../storage/temp.ts';
import { OmniError } from '../util/errors.ts';
import { startWorkers } from '../workers/index.ts';
import { CATALOG_HELP, configFrom, int, loggerFor } from './common.ts';

interface WorkerFlags {
  stages?: string;
  prepareConcurrency?: number;
  inferConcurrency?: number;
  inferWorkerConcurrency?: number;
  finalizeConcurrency?: number;
  rpm?: number;
  tpm?: number;
  metricsPort?: number;
  metricsHost: string;
  shutdownTimeout?: number;
  allowUnsignedWebhooks?: boolean;
}

export function parseStages(list: string | undefined): Stage[] {
  if (!list) return [...STAGES];
  const stages = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = stages.filter((s) => !(STAGES as readonly string[]).includes(s));
  if (bad.length) throw new OmniError('invalid_argument', `unknown stage(s) ${bad.join(', ')}: use ${STAGES.join(',')}`);
  return stages as Stage[];
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('process jobs from Redis until stopped (SIGTERM/SIGINT: finish or hand back in-flight jobs)')
    .option('--stages <list>', `comma-separated stages (default: ${STAGES.join(',')})`)
    .option('--prepare-concurrency <n>', 'prepare jobs at once in this worker (ffmpeg)', int)
    .option('--infer-concurrency <n>', 'requests in flight across ALL workers', int)
    .option('--infer-worker-concurrency <n>', 'requests in flight in THIS worker (default: all of --infer-concurrency)', int)
    .option('--finalize-concurrency <n>', 'finalize jobs at once in this worker', int)
    .option('--rpm <n>', 'requests per minute across ALL workers', int)
    .option('--tpm <n>', 'input + output tokens per minute across ALL workers (per model, as the provider meters them)', int)
    .option('--metrics-port <port>', 'serve Prometheus metrics and /healthz on this port', int)
    .option('--metrics-host <addr>', 'interface the metrics port binds (0.0.0.0 for a scraper on another machine)', DEFAULT_METRICS_HOST)
    .option('--shutdown-timeout <ms>', 'how long in-flight jobs may finish on SIGTERM', int)
    .option('--allow-unsigned-webhooks', 'send run notifications unsigned when OMNIBATCH_WEBHOOK_SECRET is not set (refused otherwise)')
    .option('--catalog <file>', `${CATALOG_HELP}; not needed for runs created with one: their spec carries the entry`)
    .action(async (f: WorkerFlags, cmd: Command) => {
      const cfg = configFrom(cmd, {
        prepareConcurrency: f.prepareConcurrency,
        inferConcurrency: f.inferConcurrency,
        inferWorkerConcurrency: f.inferWorkerConcurrency,
        finalizeConcurrency: f.finalizeConcurrency,
        rpm: f.rpm,
        tpm: f.tpm,
        ...(f.allowUnsignedWebhooks && { allowUnsignedWebhooks: true }),
      });
      const log = loggerFor(cfg);
      const stages = parseStages(f.stages);
      const swept = await sweepTempDirs({ base: cfg.tmpDir });
      if (swept) log.info({ swept }, 'removed temp dirs left by killed workers');
      const ctx = createContext(cfg, log);
      const running = await startWorkers(ctx, { stages });
      // /healthz: 503 (with the reason) while Redis does not answer PING
      const health = async (): Promise<void> => {
        const h = await checkTarget(cfg.redisUrl, 2_000);
        if (!h.ok) throw new Error(h.detail);
      };
      if (f.metricsPort !== undefined) processMetrics().depthSource(() => readDepth(ctx)); // queue depth for autoscalers
      const metrics = f.metricsPort !== undefined ? await startMetricsServer(f.metricsPort, { host: f.metricsHost, health }) : undefined;
      log.info({ stages, pid: process.pid, metricsPort: metrics?.port }, 'worker started');
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          log.info({ sig }, 'stopping: no new jobs');
          resolve();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      await running.close(f.shutdownTimeout ?? 30_000);
      await metrics?.close();
      await ctx.close();
      log.info('worker stopped');
    });
}
