/**
 * The `omnibatch` command. Each command lives in its own file under src/cli/ and exports
 * `register(program)`; this file only wires them together and turns coded errors into one clear line.
 */

import { Command } from 'commander';
import { describeError, isOmniError } from '../util/errors.ts';
import { printable } from '../util/printable.ts';

/** command name -> the file that registers it (a media helper's commands share names with their files) */
const COMMAND_MODULES: Record<string, string> = {
  ask: './ask.ts',
  emulator: './emulator.ts',
  run: './run.ts',
  worker: './worker.ts',
  health: './health.ts',
  status: './status.ts',
  runs: './status.ts',
  report: './report.ts',
  retry: './retry.ts',
  cancel: './cancel.ts',
  schedule: './schedule.ts',
  estimate: './estimate.ts',
  demo: './demo.ts',
  dashboard: './dashboard.ts',
  probe: './probe.ts',
  plan: './plan.ts',
  chunk: './chunk.ts',
  models: './models.ts',
  metrics: './metrics.ts',
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
  const wanted = invoked && COMMAND_MODULES[invoked] ? [COMMAND_MODULES[invoked]] : [...new Set(Object.values(COMMAND_MODULES))];
  for (const mod of wanted) {
    const { register } = (await import(mod)) as { register: (p: Command) => void };
    register(program);
  }
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
