/**
 * Redis restart: the harness's own redis-server, with persistence on as production runs it (AOF,
 * appendfsync always), is stopped and started again on the same port while a 200-file run is a third done.
 * Workers and the driver reconnect by themselves. Passes when the run completes with every file, one result
 * each, no answer twice, every chunk once in the ledger, and the ledger within the billing (a request whose
 * response came back while Redis was down is staged; its ledger entry is written on the retry, not paid again).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withHarness } from '../lib/harness.ts';
import { chaosCorpus } from '../lib/media.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';
import { checkOutputs, ledgerVsBilling } from '../lib/verify.ts';

const MODEL = 'qwen3-omni-30b-a3b-captioner';

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  return withHarness(
    { name: 'redis-restart', redis: 'aof', emulator: { latencyMs: 400 }, scanSecrets: true, env: { OMNIBATCH_LOCK_MS: '5000', LOG_LEVEL: 'debug' } },
    async (h) => {
      const src = path.join(h.tmp, 'in');
      const out = path.join(h.tmp, 'out');
      const files = await chaosCorpus(path.join(h.tmp, 't'), src);
      h.spawnWorker(['--infer-concurrency', '8']);
      h.spawnWorker(['--infer-concurrency', '8']);
      await sleep(2500);
      const t0 = Date.now();
      const runId = await h.createRun({ source: src, destination: out, task: 'caption' });
      let restartedAt: Record<string, unknown> | undefined;
      for (let i = 0; i < 1200 && !restartedAt; i++) {
        const s = await h.ctx.runs.state(runId);
        if (s && s.counts.terminal >= files / 3) {
          const t = Date.now();
          await h.privateRedis!.restart();
          restartedAt = { atS: round((t - t0) / 1000, 2), downS: round((Date.now() - t) / 1000, 2), doneBefore: s.counts.terminal };
        }
        await sleep(100);
      }
      // The driver's own connection reconnects too; give it a moment before polling through it.
      const state = await h.waitRun(runId, { timeoutMs: 600_000, pollMs: 250 });
      const outputs = await checkOutputs(out);
      const ledger = await ledgerVsBilling(h, runId, MODEL);
      const redone = ledger.completed - outputs.chunks;
      return result(
        'redis-restart',
        'files_succeeded_fraction',
        [
          check('succeeded_fraction', state.counts.succeeded / files, '==', 1),
          check('restarted_mid_run', restartedAt ? 1 : 0, '==', 1),
          check('results', outputs.results, '==', files),
          check('results_with_text_twice', outputs.textTwice.length + outputs.badChunks.length, '==', 0),
          check('staging_left', outputs.staging, '==', 0),
          check('ledger_chunks_vs_result_chunks', ledger.ledgerChunks - outputs.chunks, '==', 0),
          check('billed_minus_ledger_tokens_min', ledger.diff, '>=', 0),
          check('billed_minus_ledger_tokens_max', ledger.diff, '<=', Math.max(0, redone) * outputs.maxChunkAudioTokens),
        ],
        {
          files,
          chunks: outputs.chunks,
          restart: restartedAt,
          status: state.status,
          failures: await h.failures(runId),
          ledger,
          redoneCompletedRequests: redone,
          emulator: { requests: h.emulator.stats().requests, byStatus: h.emulator.stats().byStatus },
          retries: state.counts.retries,
          wallS: round((state.endedAtMs - t0) / 1000, 1),
          textTwice: outputs.textTwice.slice(0, 5),
          stagingLeft: outputs.stagingKeys,
        },
        opts.quick,
      );
    },
  );
}
