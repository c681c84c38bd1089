/** `omnibatch models [--json]`: the model catalogue with names, protocols, limits, voices and priced sources. */
import type { Command } from 'commander';
import { CATALOG_HELP, configFrom, printJson } from './common.ts';
import { describeCatalog, renderCatalog } from './models-table.ts';

export function register(program: Command): void {
  program
    .command('models')
    .description('list the model catalogue: names and the protocols that serve them, limits, voices, prices with their source, and where each entry came from')
    .option('--json', 'print JSON')
    .option('--catalog <file>', CATALOG_HELP)
    .action((f: { json?: boolean }, cmd: Command) => {
      configFrom(cmd);
      const models = describeCatalog();
      if (f.json) return printJson(models);
      process.stdout.write(renderCatalog(models));
    });
}
