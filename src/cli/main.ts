/**
 * The `omnibatch` command. Each command lives in its own file under src/cli/ and exports
 * `register(program)`; this file only wires them together and turns coded errors into one clear line.
 */

import { Command } from 'commander';
import { describeError, isOmniError } from '../util/errors.ts';
import { printable } from '../util/printable.ts';

type CommandModule = { register: (p: Command) => void };

/**
 * command name -> its file (a media helper's commands share names with their files). Literal imports, so a
 * bundler sees every command (the tests start the CLI from one esbuild bundle: half the start-up of tsx).
 */
const COMMAND_MODULES: Record<string, () => Promise<CommandModule>> = {
  ask: () => import('./ask.ts'),
  emulator: () => import('./emulator.ts'),
  run: () => import('./run.ts'),
  worker: () => import('./worker.ts'),
  health: () => import('./health.ts'),
  status: () => import('./status.ts'),
  runs: () => import('./status.ts'),
  report: () => import('./report.ts'),
  retry: () => import('./retry.ts'),
  cancel: () => import('./cancel.ts'),
  schedule: () => import('./schedule.ts'),
  estimate: () => import('./estimate.ts'),
  demo: () => import('./demo.ts'),
  dashboard: () => import('./dashboard.ts'),
  probe: () => import('./probe.ts'),
  plan: () => import('./plan.ts'),
  chunk: () => import('./chunk.ts'),
  models: () => import('./models.ts'),
  metrics: () => import('./metrics.ts'),
};

/**
 * Loads only the invoked command's module (a quick `ask` never loads BullMQ or the AWS SDK); help and
 * unknown commands load them all.
 */
export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command('omnibatch')
    .description('Qwen-Omni batch worker: captions, transcripts, moderation and speech for media in object storage')
    .option('--config <file>', 'JSON config file (settings as in the README table)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .showHelpAfterError();
  let invoked: string | undefined;
  for (let i = 2; i < argv.length && !invoked; i++) {
    if (argv[i] === '--config' || argv[i] === '--log-level') i++;
    else if (!argv[i].startsWith('-')) invoked = argv[i];
  }
  const wanted = invoked && COMMAND_MODULES[invoked] ? [COMMAND_MODULES[invoked]] : Object.values(COMMAND_MODULES);
  // a file registering two commands (status, runs) is loaded once and registers once
  const modules = new Set<CommandModule>();
  for (const load of wanted) modules.add(await load());
  for (const { register } of modules) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = describeError(err);
    process.stderr.write(`omnibatch: ${e.code}: ${printable(e.message)}\n`);
    if (!isOmniError(err) && process.env.LOG_LEVEL === 'debug') console.error(err);
    process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
  }
}

await main(process.argv);
