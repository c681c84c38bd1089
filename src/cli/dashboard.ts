/** `omnibatch dashboard --port P [--host H]`: the runs page and Bull Board, until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { startDashboard } from '../dashboard/server.ts';
import { createContext } from '../workers/context.ts';
import { configFrom, int, loggerFor } from './common.ts';

interface DashboardFlags { port: number; host: string; readOnly?: boolean }

export function register(program: Command): void {
  program.command('dashboard')
    .description('serve a web page of runs (progress, cost against budget, failures, charts) and Bull Board for the queues')
    .option('--port <port>', 'port to listen on (0 picks a free one)', int, 3000)
    // Loopback by default: Bull Board can retry and delete jobs, so exposing it is a choice to make.
    .option('--host <host>', 'address to bind (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--read-only', 'Bull Board without retry, clean, delete or pause')
    .action(async (f: DashboardFlags, cmd: Command) => {
      const cfg = configFrom(cmd);
      const log = loggerFor(cfg);
      const ctx = createContext(cfg, log);
      const server = await startDashboard(ctx, { port: f.port, host: f.host, readOnly: f.readOnly });
      log.info({ url: server.url, queues: `${server.url}/queues` }, 'dashboard listening');
      process.stdout.write(`dashboard: ${server.url}/  (queues: ${server.url}/queues)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await server.close();
      await ctx.close();
    });
}
