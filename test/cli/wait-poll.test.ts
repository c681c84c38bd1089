/** OMNIBATCH_WAIT_POLL_MS: how often `--wait` reads the run's state, so a script learns of its end that soon. */
import { describe, expect, it } from 'vitest';
import type { Context } from '../../src/app/context.ts';
import { waitForRun } from '../../src/cli/wait.ts';
import { loadConfig } from '../../src/config/index.ts';

/** A run that is running for `reads` looks, then completed; every look counted. */
function fakeContext(env: Record<string, string>, reads: number) {
  const cfg = loadConfig({ env: { ...env, OMNI_API_KEY: 'sk-x' } });
  let looks = 0;
  const ctx = {
    cfg,
    runs: {
      state: async () => {
        looks++;
        return { status: looks > reads ? 'completed' : 'running', spec: { runId: 'r1', via: 'realtime' } };
      },
    },
  } as unknown as Context;
  return { ctx, looks: () => looks };
}

describe('OMNIBATCH_WAIT_POLL_MS', () => {
  it('is parsed, and refused under 50 ms', () => {
    expect(loadConfig({ env: { OMNIBATCH_WAIT_POLL_MS: '100' } }).waitPollMs).toBe(100);
    expect(loadConfig({ env: {} }).waitPollMs).toBeUndefined();
    expect(() => loadConfig({ env: { OMNIBATCH_WAIT_POLL_MS: '10' } })).toThrow(/OMNIBATCH_WAIT_POLL_MS/);
  });

  it('sets the interval between two reads of the state (the default waits 1 s off a terminal)', async () => {
    const fast = fakeContext({ OMNIBATCH_WAIT_POLL_MS: '50' }, 3);
    let t = Date.now();
    expect((await waitForRun(fast.ctx, 'r1', { quiet: true })).status).toBe('completed');
    expect(fast.looks()).toBe(4);
    expect(Date.now() - t).toBeGreaterThanOrEqual(3 * 50 - 5);
    expect(Date.now() - t).toBeLessThan(900);

    const slow = fakeContext({}, 1);
    t = Date.now();
    await waitForRun(slow.ctx, 'r1', { quiet: true });
    expect(Date.now() - t).toBeGreaterThanOrEqual(process.stderr.isTTY && !process.env.CI ? 245 : 995);
  });
});
