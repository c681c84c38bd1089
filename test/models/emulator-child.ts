// Runs the emulator in its own process (for tests that measure this process's memory): prints its URL,
// stops when stdin closes.
import { startEmulator } from '../../src/emulator/server.ts';

const em = await startEmulator({ apiKey: process.argv[2] });
process.stdout.write(`${em.url}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void em.close().then(() => process.exit(0));
});
