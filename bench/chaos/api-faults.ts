/**
 * API faults: the emulator answers 10% of requests with 5xx (500/503), 5% with 429, cuts 5% of streams
 * mid-way and stalls 2% (deltas, then silence). Seeded, so a run is reproducible.
 * 200 files (180 clips sent as they are, 20 of 3 chunks). Passes when: 100% of files complete within their
 * attempts; no answer twice in any result (a cut or stalled stream's partial text is thrown away, never
 * appended); every kind of fault really happened; and, with no worker killed, the ledger equals the
 * emulator's billing exactly (faulted requests are not billed, each chunk is billed once).
 * Stalls are detected by the idle timeout between stream events, set to 2 s here (default 60 s).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withHarness } from '../lib/harness.ts';
import { chaosCorpus } from '../lib/media.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';
import { checkOutputs, ledgerVsBilling } from '../lib/verify.ts';

const MODEL = 'qwen3-omni-30b-a3b-captioner';

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const emulator = { latencyMs: 300, fail5xx: 0.1, fail429: 0.05, cut: 0.05, stall: 0.02, seed: 4242 };
  return withHarness({ name: 'api-faults', emulator, scanSecrets: true, env: { OMNIBATCH_IDLE_TIMEOUT_MS: '2000', LOG_LEVEL: 'debug' } }, async (h) => {
    const src = path.join(h.tmp, 'in');
    const out = path.join(h.tmp, 'out');
    const files = await chaosCorpus(path.join(h.tmp, 't'), src);
    h.spawnWorker(['--infer-concurrency', '16']);
    await sleep(2500);
    const t0 = Date.now();
    const runId = await h.createRun({ source: src, destination: out, task: 'caption' });
    const state = await h.waitRun(runId, { timeoutMs: 600_000, pollMs: 250 });
    const outputs = await checkOutputs(out);
    const ledger = await ledgerVsBilling(h, runId, MODEL);
    const stats = h.emulator.stats();
    const faults = stats.faults;
    const kinds = (...k: string[]) => k.reduce((n, x) => n + (faults[x] ?? 0), 0);
    return result(
      'api-faults',
      'files_succeeded_fraction',
      [
        check('succeeded_fraction', state.counts.succeeded / files, '==', 1),
        check('results', outputs.results, '==', files),
        check('results_with_text_twice', outputs.textTwice.length + outputs.badChunks.length, '==', 0),
        check('faults_5xx', kinds('server_error', 'unavailable'), '>=', 1),
        check('faults_429', kinds('rate_limit', 'rate_limit_retry_after'), '>=', 1),
        check('faults_cut', kinds('cut'), '>=', 1),
        check('faults_stall', kinds('stall'), '>=', 1),
        check('billed_minus_ledger_tokens', ledger.diff, '==', 0),
        check('ledger_chunks_vs_result_chunks', ledger.ledgerChunks - outputs.chunks, '==', 0),
      ],
      {
        files,
        chunks: outputs.chunks,
        status: state.status,
        failures: await h.failures(runId),
        faults,
        byStatus: stats.byStatus,
        requests: stats.requests,
        completed: stats.completed,
        retries: state.counts.retries,
        ledger,
        wallS: round((state.endedAtMs - t0) / 1000, 1),
        textTwice: outputs.textTwice.slice(0, 5),
      },
      opts.quick,
    );
  });
}
