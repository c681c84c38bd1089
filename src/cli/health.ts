/**
 * `omnibatch health [target]`: the container healthcheck (Dockerfile HEALTHCHECK, compose healthchecks).
 * Prints one line without credentials; exit 0 when healthy, 1 when not. target: an http(s) URL (a
 * worker's /healthz, the emulator's) or a redis(s) URL; default the configured REDIS_URL.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { checkTarget } from '../ops/healthcheck.ts';

// not common.ts: it loads the queue and storage clients, and a healthcheck runs every few seconds
const ms = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`not a positive whole number: ${v}`);
  return n;
};

export function register(program: Command): void {
  program
    .command('health')
    .description('check a URL (http: below 500; redis: answers PING), default REDIS_URL; exit 0 when healthy (container healthcheck)')
    .argument('[target]', 'http(s):// or redis(s):// URL (default: REDIS_URL)')
    .option('--timeout <ms>', 'give up after this long', ms, 3_000)
    .action(async (target: string | undefined, f: { timeout: number }, cmd: Command) => {
      const file = (cmd.optsWithGlobals() as { config?: string }).config;
      const h = await checkTarget(target ?? loadConfig({ file }).redisUrl, f.timeout);
      process.stdout.write(`${h.ok ? 'healthy' : 'unhealthy'}: ${h.detail}\n`);
      process.exitCode = h.ok ? 0 : 1;
    });
}
