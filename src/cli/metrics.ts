/**
 * `omnibatch metrics --port N`: the queue-depth and work-left gauges (and /healthz) without a worker, for
 * an autoscaler that must see the backlog while zero workers run. Light: Redis and the queues only.
 */
import type { Command } from 'commander';
import { createContext } from '../app/context.ts';
import { readDepth } from '../ops/depth.ts';
import { checkTarget } from '../ops/healthcheck.ts';
import { allowedHosts } from '../ops/host-allow.ts';
import { createMetrics, startMetricsServer } from '../ops/metrics.ts';
import { configFrom, int, loggerFor } from './common.ts';

export function register(program: Command): void {
  program
    .command('metrics')
    .description('serve queue-depth gauges (Prometheus /metrics and /healthz) for autoscaling; needs Redis, no worker')
    .requiredOption('--port <port>', 'port to serve on (0: any free port, printed)', int)
    .option('--host <addr>', 'interface to bind (0.0.0.0 inside a container)', '127.0.0.1')
    .option('--allowed-host <name...>', 'more Host names it answers to (a Service name, a DNS name); others are refused', [])
    .action(async (f: { port: number; host: string; allowedHost: string[] }, cmd: Command) => {
      const cfg = configFrom(cmd);
      const log = loggerFor(cfg);
      const ctx = createContext(cfg, log);
      const metrics = createMetrics();
      metrics.depthSource(() => readDepth(ctx));
      const health = async (): Promise<void> => {
        const h = await checkTarget(cfg.redisUrl, 2_000);
        if (!h.ok) throw new Error(h.detail);
      };
      // Like the dashboard: only its own names (DNS rebinding would otherwise read run ids and costs from a browser).
      const server = await startMetricsServer(f.port, { host: f.host, metrics, health, allowedHosts: allowedHosts(f.host, f.allowedHost) });
      process.stdout.write(`metrics on ${server.url}/metrics\n`);
      log.info({ port: server.port }, 'metrics exporter started');
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await server.close();
      await ctx.close();
    });
}
