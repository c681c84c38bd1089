/**
 * The `omnibatch` command. Each command lives in its own file under src/cli/ and exports
 * `register(program)`; this file only wires them together and turns coded errors into one clear line.
 */
import { Command } from 'commander';
import { describeError, isOmniError } from '../util/errors.ts';

const COMMAND_MODULES = [
  './ask.ts',
  './emulator.ts',
] as const;

export async function buildProgram(): Promise<Command> {
  const program = new Command('omnibatch')
    .description('Qwen-Omni batch worker: captions, transcripts, moderation and speech for media in object storage')
    .option('--config <file>', 'JSON config file (settings as in the README table)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .showHelpAfterError();
  for (const mod of COMMAND_MODULES) {
    const { register } = (await import(mod)) as { register: (p: Command) => void };
    register(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = describeError(err);
    process.stderr.write(`omnibatch: ${e.code}: ${e.message}\n`);
    if (!isOmniError(err) && process.env.LOG_LEVEL === 'debug') console.error(err);
    process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
  }
}

await main(process.argv);
