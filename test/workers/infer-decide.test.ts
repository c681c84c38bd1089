/**
 * infer without the stack: every branch of the pure decideInfer, and the handler over in-memory fakes of the
 * run store, the costs and storage (test/fakes/). No Redis, no ffmpeg, no HTTP.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateChunkCost, outputBound } from '../../src/cost/estimate.ts';
import type { InferPayload } from '../../src/jobs/catalog.ts';
import { stagedKey } from '../../src/lifecycle/file-state.ts';
import type { ChunkResult } from '../../src/runs/types.ts';
import { OmniError } from '../../src/util/errors.ts';
import { type InferJob, ledgerFile, RepairLeftToJob, runInfer } from '../../src/workers/infer.ts';
import { decideInfer, type InferFacts } from '../../src/workers/infer-decide.ts';
import { usageOf } from '../fakes/client.ts';
import { fakeInfer, fakePayload, fakeSpec } from '../fakes/infer.ts';

const chunk = { kind: 'audio' as const, startS: 0, endS: 30 };

function facts(over: Partial<InferFacts> = {}): InferFacts {
  return { spec: fakeSpec(), chunk, canDelay: true, fileOpen: true, superseded: false, ...over };
}

const stagedResult: ChunkResult = {
  index: 0,
  startS: 0,
  endS: 30,
  attempts: 1,
  text: 'hello',
  usage: usageOf(100, 20),
  cost: { amountMicros: 42, currency: 'USD', priced: true },
  requests: 1,
} as ChunkResult;

describe('decideInfer', () => {
  it('skips a finished file before anything else, then a superseded one', () => {
    expect(decideInfer(facts({ fileOpen: false, superseded: true, stop: 'cancelled', staged: stagedResult }))).toEqual({
      kind: 'skip',
      reason: 'file already finished',
    });
    expect(decideInfer(facts({ superseded: true, stop: 'cancelled', staged: stagedResult }))).toEqual({ kind: 'skip', reason: 'file re-planned' });
  });

  it('ends the file as not run when the run is stopping, even with a staged result', () => {
    expect(decideInfer(facts({ stop: 'budget', staged: stagedResult }))).toEqual({ kind: 'not-run', stop: 'budget' });
  });

  it('reuses a staged result without reserving anything; it settles the budget only under one', () => {
    expect(decideInfer(facts({ staged: stagedResult, tpm: 10 }))).toEqual({ kind: 'reuse', result: stagedResult, settleBudget: false });
    expect(decideInfer(facts({ staged: stagedResult, spec: fakeSpec({ budgetMicros: 1 }) }))).toEqual({
      kind: 'reuse',
      result: stagedResult,
      settleBudget: true,
    });
  });

  it('asks for a budget reservation of the chunk at its output cap', () => {
    const d = decideInfer(facts({ spec: fakeSpec({ budgetMicros: 5_000_000 }) }));
    const cap = outputBound('chat', 30, 'transcribe', 'qwen3-omni-flash').reserve;
    const expected = estimateChunkCost(30, { model: 'qwen3-omni-flash', region: 'intl', task: 'transcribe', audioOut: false, maxOutputTokens: cap });
    expect(d).toEqual({ kind: 'reserve-budget', estimateMicros: expected.amountMicros, budgetMicros: 5_000_000 });
    expect(expected.amountMicros).toBeGreaterThan(0);
  });

  it('reserves more on responses, where the model ceiling bounds the output (no cap is sent)', () => {
    const chat = decideInfer(facts({ spec: fakeSpec({ budgetMicros: 5_000_000 }) }));
    const responses = decideInfer(facts({ spec: fakeSpec({ budgetMicros: 5_000_000, protocol: 'responses' }) }));
    if (chat.kind !== 'reserve-budget' || responses.kind !== 'reserve-budget') throw new Error('expected reservations');
    expect(responses.estimateMicros).toBeGreaterThan(chat.estimateMicros);
  });

  it('refuses a budget over a model without a price', () => {
    expect(decideInfer(facts({ spec: fakeSpec({ budgetMicros: 5_000_000, model: 'qwen2.5-omni-7b' }) }))).toEqual({ kind: 'unpriced' });
  });

  it('stops for the budget when the reservation was refused, and goes on when granted', () => {
    const spec = fakeSpec({ budgetMicros: 1 });
    expect(decideInfer(facts({ spec, budgetGranted: false }))).toEqual({ kind: 'stop-budget' });
    expect(decideInfer(facts({ spec, budgetGranted: true }))).toMatchObject({ kind: 'send' });
  });

  it('sends with the task output cap, and none on responses', () => {
    const cap = outputBound('chat', 30, 'transcribe', 'qwen3-omni-flash').send;
    expect(decideInfer(facts())).toEqual({ kind: 'send', sendMaxOutputTokens: cap });
    expect(decideInfer(facts({ spec: fakeSpec({ protocol: 'responses' }) }))).toEqual({ kind: 'send' });
  });

  it('asks for TPM tokens after the budget, and sends with the reservation it got', () => {
    const spec = fakeSpec({ budgetMicros: 5_000_000 });
    expect(decideInfer(facts({ spec, tpm: 100_000 })).kind).toBe('reserve-budget');
    const ask = decideInfer(facts({ spec, tpm: 100_000, budgetGranted: true }));
    if (ask.kind !== 'reserve-tokens') throw new Error(`expected reserve-tokens, got ${ask.kind}`);
    expect(ask.tpm).toBe(100_000);
    // the input is known exactly; the output part is the task's prior, which the bucket scales by what it learnt
    expect(ask.outputPrior).toBeGreaterThan(0);
    expect(ask.tokens).toBeGreaterThan(ask.outputPrior);
    expect(decideInfer(facts({ spec, tpm: 100_000, budgetGranted: true, tokens: { id: 't9' } }))).toMatchObject({
      kind: 'send',
      reservation: { id: 't9', outputPrior: ask.outputPrior },
    });
  });

  it('waits for TPM room inside a worker, and sends without a reservation outside one', () => {
    expect(decideInfer(facts({ tpm: 10, tokens: { waitMs: 700 } }))).toEqual({ kind: 'wait-tpm', delayMs: 700 });
    const d = decideInfer(facts({ tpm: 10, tokens: { waitMs: 700 }, canDelay: false }));
    expect(d).toMatchObject({ kind: 'send' });
    expect(d).not.toHaveProperty('reservation');
  });
});

describe('the infer handler over fakes', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'infer-fakes-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  const payload = fakePayload;
  const job = (over: Partial<InferPayload> = {}, attemptsMade = 0): InferJob => ({ id: 'j1', attemptsMade, data: { ...payload, ...over } });
  const resultKey = stagedKey('r1', 'f1', undefined, 0, 'result.json');
  function setup(opts: Parameters<typeof fakeInfer>[0] = {}) {
    const f = fakeInfer({ tmpDir: tmp, ...opts });
    f.runs.addFile('f1');
    f.storage.put(payload.stagingKey, Buffer.from('ID3 fake mp3'));
    return f;
  }

  it('sends the chunk, stages the result, records it once and settles its tokens', async () => {
    // the provider answered 3 s after the reservation (a slow upload): the reservation is dated to then
    const f = setup({ tpm: 100_000, answers: [{ text: 'the words', usage: usageOf(300, 40), answeredAt: Date.now() + 3_000 }] });
    expect(await runInfer(job(), f.ports)).toEqual({ chunk: 0, requests: 1, reused: false });
    expect(f.client.requests).toHaveLength(1);
    const req = f.client.requests[0]!;
    expect(req.media).toMatchObject({ kind: 'audio', format: 'mp3', seconds: 30 });
    expect(req.maxOutputTokens).toBe(outputBound('chat', 30, 'transcribe', 'qwen3-omni-flash').send);
    expect(f.storage.json<ChunkResult>(resultKey)).toMatchObject({ index: 0, text: 'the words', requests: 1, attempts: 1 });
    expect(f.costs.ledger.get('f1#0')).toMatchObject({ attempt: 'j1#1', requests: 1 });
    // settled to the real usage, with the real output against the prior the reservation was made with
    const prior = f.costs.tokenPriors[0]!;
    expect(prior).toMatchObject({ task: 'transcribe' });
    expect(prior.tokens).toBeGreaterThan(40);
    expect(f.costs.tokenSettles).toMatchObject([
      { model: 'qwen3-omni-flash', id: 't1', actual: 340, output: { tokens: prior.tokens, actual: 40, task: 'transcribe' } },
    ]);
    expect(f.costs.tokenSettles[0]!.admittedAfterMs).toBeGreaterThan(2_500);
    expect(f.costs.tokenSettles[0]!.admittedAfterMs).toBeLessThan(10_000);
    expect(f.runs.counts.get('requests')).toBe(1);
  });

  it('presigns the staged chunk in url mode instead of downloading it', async () => {
    const f = setup({ spec: { inputMode: 'url' }, answers: [{ text: 'x' }] });
    await runInfer(job(), f.ports);
    expect(f.client.requests[0]!.media!.source).toEqual({ url: `mem://${payload.stagingKey}?expires=3600` });
  });

  it('a redone job reuses the staged result: no second request, one ledger row', async () => {
    const f = setup({ spec: { budgetMicros: 5_000_000 }, answers: [{ text: 'once' }] });
    await runInfer(job(), f.ports);
    const first = f.costs.settled.get('f1#0');
    expect(await runInfer(job({}, 1), f.ports)).toEqual({ chunk: 0, requests: 0, reused: true });
    expect(f.client.requests).toHaveLength(1);
    expect(f.costs.recordCalls).toBe(2);
    expect(f.costs.ledger.size).toBe(1);
    expect(f.costs.ledger.get('f1#0')!.attempt).toBe('j1#1');
    expect(f.costs.settled.get('f1#0')).toBe(first);
  });

  it('a job killed after staging its result: the redone job records it and settles its budget, without a request', async () => {
    const f = setup({ spec: { budgetMicros: 5_000_000 } });
    await f.costs.reserve('r1', 'f1', 0, 9_999, 5_000_000); // the dead attempt's reservation, never settled
    f.storage.put(resultKey, JSON.stringify(stagedResult));
    expect(await runInfer(job({}, 1), f.ports)).toEqual({ chunk: 0, requests: 0, reused: true });
    expect(f.client.requests).toHaveLength(0);
    expect(f.costs.ledger.get('f1#0')).toMatchObject({ attempt: 'j1#2', requests: 1, cost: { amountMicros: 42 } });
    expect(f.costs.reserved.size).toBe(0);
    expect(f.costs.settled.get('f1#0')).toBe(42);
  });

  it('stops the run for its budget when the chunk cannot be reserved', async () => {
    const f = setup({ spec: { budgetMicros: 1 }, answers: [{ text: 'never' }] });
    expect(await runInfer(job(), f.ports)).toEqual({ skipped: 'budget' });
    expect(f.runs.stopped).toMatchObject({ reason: 'budget' });
    expect(f.runs.notRun).toEqual([{ fileId: 'f1', reason: 'budget' }]);
    expect(f.client.requests).toHaveLength(0);
    expect(f.costs.ledger.size).toBe(0);
  });

  it('tells the budget alert after settling a budgeted chunk, and not without a budget', async () => {
    const budgeted = setup({ spec: { budgetMicros: 5_000_000 }, answers: [{ text: 'x' }] });
    await runInfer(job(), budgeted.ports);
    expect(budgeted.alerts).toEqual(['r1']);
    expect(budgeted.costs.settled.has('f1#0')).toBe(true);
    const free = setup({ answers: [{ text: 'x' }] });
    await runInfer(job(), free.ports);
    expect(free.alerts).toEqual([]);
  });

  it('refuses an unpriced budgeted chunk with a permanent budget_unpriced', async () => {
    const f = setup({ spec: { budgetMicros: 5_000_000, model: 'qwen2.5-omni-7b' } });
    await expect(runInfer(job(), f.ports)).rejects.toMatchObject({ code: 'budget_unpriced', retryable: false });
    expect(f.client.requests).toHaveLength(0);
  });

  it('delays the job while the TPM window is full; outside a worker it sends unreserved', async () => {
    const f = setup({ tpm: 100_000, tpmRoom: 0, answers: [{ text: 'x' }] });
    await expect(runInfer(job(), f.ports)).rejects.toMatchObject({ name: 'DelayedError' });
    expect(f.delays).toEqual([1500]);
    expect(f.client.requests).toHaveLength(0);
    const g = setup({ tpm: 100_000, tpmRoom: 0, canDelay: false, answers: [{ text: 'x' }] });
    expect(await runInfer(job(), g.ports)).toMatchObject({ requests: 1 });
    expect(g.costs.tokenSettles).toEqual([]);
  });

  it('gives TPM tokens back for a request refused at the door, keeps them for one cut mid-stream', async () => {
    const door = setup({ tpm: 100_000, answers: [new OmniError('rate_limited', '429')] });
    await expect(runInfer(job(), door.ports)).rejects.toMatchObject({ code: 'rate_limited' });
    expect(door.costs.tokenSettles).toEqual([{ model: 'qwen3-omni-flash', id: 't1', actual: 0 }]);
    const cut = setup({ tpm: 100_000, answers: [new OmniError('stream_truncated', 'cut')] });
    await expect(runInfer(job(), cut.ports)).rejects.toMatchObject({ code: 'stream_truncated' });
    expect(cut.costs.tokenSettles).toEqual([]);
    expect(cut.storage.text(resultKey)).toBeUndefined();
  });

  it('records a provider refusal (content_blocked) as a zero-cost result', async () => {
    const f = setup({ spec: { task: 'moderate' }, answers: [new OmniError('content_blocked', 'blocked')] });
    expect(await runInfer(job(), f.ports)).toEqual({ chunk: 0, requests: 1, reused: false });
    expect(f.storage.json<ChunkResult>(resultKey)).toMatchObject({
      providerBlocked: true,
      requests: 1,
      cost: { amountMicros: 0 },
      verdict: { provider_blocked: true },
    });
  });

  it('skips a finished or superseded file and ends an open one as not run when the run is stopping', async () => {
    const done = setup({ answers: [] });
    done.runs.status.set('f1', 'succeeded');
    expect(await runInfer(job(), done.ports)).toEqual({ skipped: 'file already finished' });
    expect(done.storage.reads).toEqual([]);
    const replanned = setup();
    replanned.runs.generations.set('f1', 1);
    expect(await runInfer(job(), replanned.ports)).toEqual({ skipped: 'file re-planned' });
    const stopping = setup();
    stopping.runs.stopped = { reason: 'cancelled', message: '' };
    expect(await runInfer(job(), stopping.ports)).toEqual({ skipped: 'run stopping (cancelled)' });
    expect(stopping.runs.notRun).toEqual([{ fileId: 'f1', reason: 'cancelled' }]);
  });

  describe('moderation repair', () => {
    const verdict = JSON.stringify({ flagged: false, categories: [], segments: [], summary: 'fine' });

    it('repairs an answer without JSON with one text-only request, priced into the chunk', async () => {
      const f = setup({
        spec: { task: 'moderate' },
        answers: [
          { text: 'It seems fine to me.', usage: usageOf(300, 10) },
          { text: verdict, usage: usageOf(50, 15) },
        ],
      });
      expect(await runInfer(job(), f.ports)).toEqual({ chunk: 0, requests: 2, reused: false });
      expect(f.client.requests[1]!.media).toBeUndefined();
      const r = f.storage.json<ChunkResult>(resultKey)!;
      expect(r).toMatchObject({ requests: 2, text: verdict, usage: { inputTotal: 350, outputTotal: 25 } });
      expect(r.verdict).toMatchObject({ verdict: { flagged: false }, review_reasons: ['repaired'], answers: ['It seems fine to me.', verdict] });
      expect(f.storage.json(stagedKey('r1', 'f1', undefined, 0, 'first.json'))).toMatchObject({ text: 'It seems fine to me.' });
    });

    it('records both paid requests when the repair fails too, and a redone job does not pay for the first again', async () => {
      const f = setup({ spec: { task: 'moderate' }, answers: [{ text: 'no json' }, { text: 'still none' }, { text: verdict }] });
      await expect(runInfer(job(), f.ports)).rejects.toMatchObject({ code: expect.stringMatching(/^verdict_/) });
      expect(f.costs.ledger.get(`${ledgerFile(payload)}#0`)).toMatchObject({ requests: 2 });
      expect(f.storage.text(resultKey)).toBeUndefined();
      // the retry loads the staged first answer and sends only the repair
      expect(await runInfer(job({}, 1), f.ports)).toEqual({ chunk: 0, requests: 2, reused: false });
      expect(f.client.requests).toHaveLength(3);
      expect(f.client.requests[2]!.media).toBeUndefined();
    });

    it('the Batch poller (repairInJob) saves an answer that needs a repair and leaves the repair to the line job', async () => {
      const f = setup({
        spec: { task: 'moderate' },
        answers: [
          { text: 'no json', usage: usageOf(300, 10) },
          { text: verdict, usage: usageOf(50, 15) },
        ],
      });
      await expect(runInfer(job(), { ...f.ports, via: 'batch', repairInJob: true })).rejects.toBeInstanceOf(RepairLeftToJob);
      // nothing recorded, the first answer saved, no repair asked
      expect(f.client.requests).toHaveLength(1);
      expect(f.storage.text(resultKey)).toBeUndefined();
      expect(f.costs.ledger.size).toBe(0);
      expect(f.storage.json(stagedKey('r1', 'f1', undefined, 0, 'first.json'))).toMatchObject({ text: 'no json' });
      // the job: the saved answer and one repair, the first at the Batch rate and the repair at the real-time rate
      expect(await runInfer(job(), { ...f.ports, via: 'batch' })).toEqual({ chunk: 0, requests: 2, reused: false });
      expect(f.client.requests).toHaveLength(2);
      expect(f.client.requests[1]!.media).toBeUndefined();
      expect(f.storage.json<ChunkResult>(resultKey)).toMatchObject({ requests: 2, text: verdict, via: 'batch' });
    });
  });
});
