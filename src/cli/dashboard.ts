/**
 * `omnibatch dashboard --port P [--host H]`: the runs page and Bull Board, until SIGINT/SIGTERM.
 * Read-only unless --allow-actions; credentials are required to listen beyond loopback (guard.ts).
 */
import type { Command } from 'commander';
import { createContext } from '../app/context.ts';
import { startDashboard } from '../dashboard/server.ts';
import type { RunningServer } from '../ops/http.ts';
import { collect, configFrom, int, loggerFor } from './common.ts';

interface DashboardFlags {
  port: number;
  host: string;
  allowActions?: boolean;
  authToken?: string;
  basicAuth?: string;
  allowedHost?: string[];
}

export function register(program: Command): void {
  program
    .command('dashboard')
    .description('serve a web page of runs (progress, cost against budget, failures, charts) and Bull Board for the queues')
    .option('--port <port>', 'port to listen on (0 picks a free one)', int, 3000)
    // Loopback by default: anything wider needs credentials (refused without them).
    .option('--host <host>', 'address to bind (0.0.0.0 for every interface: needs --auth-token or --basic-auth)', '127.0.0.1')
    .option('--allow-actions', "enable Bull Board's retry, clean, delete, pause and add (default: read-only)")
    .option('--auth-token <token>', 'require this token: Authorization: Bearer <token>, or as the basic-auth password (env OMNIBATCH_DASHBOARD_TOKEN)')
    .option('--basic-auth <user:password>', 'require basic auth (env OMNIBATCH_DASHBOARD_BASIC_AUTH)')
    .option('--allowed-host <name>', 'another host name the dashboard is reached by, e.g. behind a proxy (repeatable)', collect)
    .action(async (f: DashboardFlags, cmd: Command) => {
      const cfg = configFrom(cmd);
      const log = loggerFor(cfg);
      const env = process.env;
      const auth = {
        token: f.authToken ?? (env.OMNIBATCH_DASHBOARD_TOKEN || undefined),
        basic: f.basicAuth ?? (env.OMNIBATCH_DASHBOARD_BASIC_AUTH || undefined),
      };
      const ctx = createContext(cfg, log);
      let server: RunningServer;
      try {
        server = await startDashboard(ctx, { port: f.port, host: f.host, allowActions: f.allowActions, auth, allowedHosts: f.allowedHost });
      } catch (err) {
        await ctx.close();
        throw err;
      }
      log.info({ url: server.url, queues: `${server.url}/queues`, allowActions: Boolean(f.allowActions) }, 'dashboard listening');
      process.stdout.write(`dashboard: ${server.url}/  (queues: ${server.url}/queues${f.allowActions ? '' : ', read-only'})\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await server.close();
      await ctx.close();
    });
}
