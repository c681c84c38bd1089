// Runs only the `emulator` command (as main.ts would register it), so its test does not depend on other commands.
import { Command } from 'commander';
import { register } from '../../src/cli/emulator.ts';

const program = new Command('omnibatch');
register(program);
await program.parseAsync(process.argv);
