/** `omnibatch models [--json]`: the model catalogue with names, protocols, limits, voices and priced sources. */
import type { Command } from 'commander';
import { describeCatalog, renderCatalog } from './models-table.ts';
import { printJson } from './common.ts';

export function register(program: Command): void {
  program
    .command('models')
    .description('list the model catalogue: names and the protocols that serve them, limits, voices, prices with their source')
    .option('--json', 'print JSON')
    .action((f: { json?: boolean }) => {
      const models = describeCatalog();
      if (f.json) return printJson(models);
      process.stdout.write(renderCatalog(models));
    });
}
