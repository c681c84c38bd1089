/**
 * A Batch line sent in real time by --batch-fallback, over the in-memory fakes: the budget's Batch-rate
 * reservation is made again at the real-time rate, and the answer is priced and marked as real time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateChunkCost, outputBound } from '../../src/cost/estimate.ts';
import { costOf } from '../../src/cost/price.ts';
import { stagedKey } from '../../src/lifecycle/file-state.ts';
import type { ChunkResult } from '../../src/runs/types.ts';
import { realtimePorts } from '../../src/workers/batch-line-ports.ts';
import { type InferJob, runInfer } from '../../src/workers/infer.ts';
import { type Answer, usageOf } from '../fakes/client.ts';
import { fakeInfer, fakePayload } from '../fakes/infer.ts';

const MODEL = 'qwen-omni-turbo';
const payload = fakePayload;
const job: InferJob = { id: 'bln.r1.f1.0', attemptsMade: 0, data: payload };
const estimate = (via: 'batch' | 'realtime') =>
  estimateChunkCost(30, { model: MODEL, region: 'cn', task: 'transcribe', maxOutputTokens: outputBound('chat', 30, 'transcribe', MODEL).reserve, via })
    .amountMicros;

describe('a Batch line sent in real time', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-fallback-'));
  });
  afterAll(async () => rm(tmp, { recursive: true, force: true }));

  function setup(budgetMicros: number, answers: Answer[] = []) {
    const f = fakeInfer({ tmpDir: tmp, spec: { model: MODEL, region: 'cn', budgetMicros, via: 'batch', batchFallback: 'realtime' }, answers });
    f.runs.addFile('f1');
    f.storage.put(payload.stagingKey, Buffer.from('ID3 fake mp3'));
    return f;
  }

  it('reserves again at the real-time rate: a budget that held the Batch price but not the real-time one stops the run', async () => {
    const [batch, realtime] = [estimate('batch'), estimate('realtime')];
    expect(realtime).toBeGreaterThan(batch);
    const f = setup(realtime - 1, [{ text: 'never' }]);
    // the line's reservation when it was written for its batch
    expect(await f.costs.reserve('r1', 'f1', 0, batch, realtime - 1)).toBe(true);
    expect(await runInfer(job, realtimePorts(f.ports, f.costs))).toEqual({ skipped: 'budget' });
    expect(f.client.requests).toHaveLength(0);
    expect(f.runs.stopped).toMatchObject({ reason: 'budget' });
  });

  it('calls the model in real time (the chunk downloaded), prices the answer at the real-time rate and marks it via realtime', async () => {
    const usage = usageOf(300, 40);
    const f = setup(5_000_000, [{ text: 'the words', usage }]);
    await f.costs.reserve('r1', 'f1', 0, estimate('batch'), 5_000_000);
    expect(await runInfer(job, realtimePorts(f.ports, f.costs))).toEqual({ chunk: 0, requests: 1, reused: false });
    expect(f.client.requests).toHaveLength(1);
    expect(f.client.requests[0]!.media!.source).toMatchObject({ file: expect.stringMatching(/chunk\.mp3$/) });
    const staged = JSON.parse((await f.storage.getText(stagedKey('r1', 'f1', undefined, 0, 'result.json')))!) as ChunkResult;
    expect(staged.via).toBe('realtime');
    const rt = costOf(usage, MODEL, 'cn', undefined, 'realtime');
    expect(staged.cost).toEqual(rt);
    expect(rt.amountMicros).toBeGreaterThan(costOf(usage, MODEL, 'cn', undefined, 'batch').amountMicros);
    expect(f.costs.ledger.get('f1#0')!.cost).toEqual(rt);
    expect(f.costs.settled.get('f1#0')).toBe(rt.amountMicros);
    expect(f.costs.reserved.size).toBe(0);
  });
});
