/** What every command shares: config from flags + env + file, the root logger, the context. */

import type { Command } from 'commander';
import { type Context, createContext } from '../app/context.ts';
import { applyProcessSettings } from '../app/process-settings.ts';
import { type Config, type ConfigInput, loadConfig } from '../config/index.ts';
import { useCatalog } from '../models/catalog.ts';
import { loadCatalogFile } from '../models/catalog-file.ts';
import { createLogger, type Logger } from '../util/logger.ts';
import { jsonPrintable } from '../util/printable.ts';

/** The help of every command's `--catalog` flag. */
export const CATALOG_HELP = 'catalog file: models and facts merged over the built-in catalogue (OMNIBATCH_CATALOG)';

/**
 * The command's config; a catalog file it names (`--catalog`, OMNIBATCH_CATALOG) becomes this process's
 * catalogue, validated whole before anything else happens.
 */
export function configFrom(cmd: Command, flags: ConfigInput = {}): Config {
  const g = cmd.optsWithGlobals() as { config?: string; logLevel?: string; catalog?: string };
  const cfg = loadConfig({
    file: g.config,
    flags: { ...flags, ...(g.logLevel && { logLevel: g.logLevel }), ...(g.catalog && { catalogFile: g.catalog }) },
  });
  applyCatalog(cfg);
  applyProcessSettings(cfg);
  return cfg;
}

export function applyCatalog(cfg: Config): void {
  if (cfg.catalogFile) useCatalog(loadCatalogFile(cfg.catalogFile));
}

/** The root logger: human-readable on a terminal (not in CI), JSON lines otherwise. */
export function loggerFor(cfg: Config): Logger {
  return createLogger({ level: cfg.logLevel, pretty: process.stderr.isTTY === true && !process.env.CI });
}

export async function withContext<T>(cmd: Command, flags: ConfigInput, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const cfg = configFrom(cmd, flags);
  const ctx = createContext(cfg, loggerFor(cfg));
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

export const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a whole number: ${v}`);
  return n;
};
export const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a number: ${v}`);
  return n;
};
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function printJson(value: unknown): void {
  process.stdout.write(`${jsonPrintable(JSON.stringify(value, null, 2))}\n`);
}

/** A command about one run, `omnibatch <name> <runId>`: cancel, retry, report, status. */
export function runCommand(program: Command, name: string, description: string): Command {
  return program.command(name).description(description).argument('<runId>');
}
