/**
 * The command's real entry, bin/omnibatch.js (tsx over the sources, what a user starts), and the bundle the other
 * tests start instead (test/helpers/cli-bundle.ts) are one program: the same help, every command registered,
 * and the same coded refusal.
 */
import { describe, expect, it } from 'vitest';
import { BIN, CLI_ENTRY, runCli } from '../helpers/cli.ts';

describe('the omnibatch entry', () => {
  it('bin/omnibatch.js and the tests bundle print the same help and refuse the same way', async () => {
    expect(CLI_ENTRY).not.toBe(BIN); // the integration project provides the bundle
    const env = { LOG_LEVEL: 'silent', REDIS_URL: 'redis://127.0.0.1:9' };
    const [real, bundled, realBad, bundledBad] = await Promise.all([
      runCli(['--help'], { entry: [BIN], env }),
      runCli(['--help'], { entry: [CLI_ENTRY], env }),
      runCli(['run', 'folder-that-is-not-there', '--out', 'out-that-is-not-made', '--task', 'no-such-task'], { entry: [BIN], env }),
      runCli(['run', 'folder-that-is-not-there', '--out', 'out-that-is-not-made', '--task', 'no-such-task'], { entry: [CLI_ENTRY], env }),
    ]);
    expect(real.code).toBe(0);
    for (const command of ['ask', 'emulator', 'run', 'worker', 'status', 'runs', 'report', 'estimate', 'dashboard', 'models', 'metrics'])
      expect(real.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(bundled).toEqual(real);
    expect(realBad.code).toBe(1);
    expect(realBad.stderr).toMatch(/^omnibatch: \w+: /);
    expect(bundledBad).toEqual(realBad);
  });
});
