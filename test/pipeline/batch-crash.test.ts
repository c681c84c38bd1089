/**
 * --via batch with a crash at each step of the hand-off: the provider did the work but the worker never
 * learnt it (the upload stored, the batch created, the results half read when the connection died). The
 * redone job must find what was done: one batch per input file (found again by its metadata, never created
 * twice), every chunk recorded once, and the ledger equal to what the emulator billed. A real SIGKILL of a
 * worker process at a random instant of the same run ends the same way.
 */
import type { ChildProcess } from 'node:child_process';
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, type ExpectStatic, expect, it } from 'vitest';
import { waitForRun } from '../../src/cli/wait.ts';
import type { BatchApi } from '../../src/models/batch-api.ts';
import { createRun } from '../../src/producers/run.ts';
import { OmniError } from '../../src/util/errors.ts';
import { BATCH_ENV, FAST_BATCH } from '../helpers/batch.ts';
import { startCli } from '../helpers/cli.ts';
import { media } from '../helpers/paths.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

const MODEL = 'qwen-omni-turbo';
let h: Harness | undefined;
const procs: ChildProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
  await h?.close();
  h = undefined;
});

async function source(x: Harness, n: number): Promise<string> {
  const src = path.join(x.tmp, 'in');
  await mkdir(src, { recursive: true });
  const names = ['whisper__jfk.flac', 'funasr__0.wav', 'funasr__sample.wav'];
  for (let i = 0; i < n; i++) await cp(media(names[i % names.length]), path.join(src, `f${i}-${names[i % names.length]}`));
  return src;
}

/** The run every case makes: transcribe through Batch, in 20-s chunks. */
const batchRun = (x: Harness, src: string) => ({
  source: src,
  destination: path.join(x.tmp, 'out'),
  task: 'transcribe',
  model: MODEL,
  via: 'batch',
  chunkSeconds: 20,
});

const lost = () => new OmniError('connection', 'ECONNRESET: the worker never saw the answer (simulated)');

/** The Batch API as the worker sees it when it dies right after the provider did `step`, once. */
function crashOnce(api: BatchApi, step: 'upload' | 'create' | 'download'): { api: BatchApi; crashed: () => boolean } {
  let done = false;
  return {
    crashed: () => done,
    api: {
      ...api,
      async uploadFile(file, name) {
        const r = await api.uploadFile(file, name);
        if (step === 'upload' && !done) {
          done = true;
          throw lost();
        }
        return r;
      },
      async createBatch(...a) {
        const r = await api.createBatch(...a);
        if (step === 'create' && !done) {
          done = true;
          throw lost();
        }
        return r;
      },
      async *fileLines(id) {
        let i = 0;
        for await (const line of api.fileLines(id)) {
          if (step === 'download' && !done && ++i === 2) {
            done = true;
            throw lost();
          }
          yield line;
        }
      },
    },
  };
}

async function checkRun(expect: ExpectStatic, x: Harness, runId: string, files: number): Promise<void> {
  const state = await waitForRun(x.ctx, runId, { quiet: true, pollMs: 100, signal: AbortSignal.timeout(120_000) });
  expect(state.status).toBe('completed');
  expect(state.counts.succeeded).toBe(files);
  const inputs = await x.ctx.batches.inputs(runId);
  const stats = x.emulator.stats().batch;
  // one batch per input file: the provider holds exactly as many batches as the run has inputs
  expect(Object.values(stats.batches).reduce((a, b) => a + b, 0)).toBe(inputs.length);
  expect(new Set(inputs.map((r) => r.batchId)).size).toBe(inputs.length);
  const totals = await x.ctx.costs.totals(runId);
  expect(totals.chunks).toBe(stats.lines.completed);
  expect(totals.usage.input.audio).toBe(stats.billed[MODEL].input.audio);
  expect(totals.usage.output.text).toBe(stats.billed[MODEL].output.text);
}

describe('--via batch survives a crash at each step', () => {
  // The three steps at once, each on its own harness, all closed after the last (before the SIGKILL case): a
  // worker's close ends every ffmpeg child of the process (workers/index.ts), the other cases' too.
  describe('in-process workers', () => {
    const harnesses: Harness[] = [];
    afterAll(async () => {
      await Promise.all(harnesses.splice(0).map((x) => x.close()));
    });
    it.concurrent.for(['upload', 'create', 'download'] as const)('after the provider did: %s', { timeout: 120_000 }, async (step, { expect }) => {
      const x = await startHarness({ emulator: FAST_BATCH, env: BATCH_ENV });
      harnesses.push(x);
      const src = await source(x, 3);
      const c = crashOnce(x.ctx.batchApi, step);
      (x.ctx as { batchApi: BatchApi }).batchApi = c.api;
      await x.startWorkers({ inferConcurrency: 4 });
      const spec = await createRun(x.ctx, batchRun(x, src));
      await checkRun(expect, x, spec.runId, 3);
      expect(c.crashed()).toBe(true);
    });
  });

  it('a worker process SIGKILLed while its batch is in progress, then replaced', async () => {
    h = await startHarness({ emulator: { ...FAST_BATCH, batchInProgressMs: 1500 }, env: { ...BATCH_ENV, OMNIBATCH_LOCK_MS: '4000' } });
    const src = await source(h, 4);
    const clis: ReturnType<typeof startCli>[] = [];
    const worker = () => {
      const c = startCli(['worker'], { env: { ...h!.env, LOG_LEVEL: 'warn' } });
      clis.push(c);
      return c.child;
    };
    procs.push(worker());
    try {
      const spec = await createRun(h.ctx, batchRun(h, src));
      await expect.poll(async () => (await h!.ctx.batches.inputs(spec.runId)).some((r) => r.batchId), { timeout: 60_000, interval: 50 }).toBe(true);
      procs[0].kill('SIGKILL');
      await sleep(200);
      procs.push(worker());
      await checkRun(expect, h, spec.runId, 4);
    } catch (err) {
      // what the workers said, when the run did not end as it should
      for (const c of clis) process.stderr.write(c.output.stderr.slice(-4000));
      throw err;
    }
  }, 180_000);
});
