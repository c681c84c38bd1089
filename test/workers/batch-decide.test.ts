/** The Batch deciders and line formats, pure: packing, polling, where each line of an ended batch goes. */
import { describe, expect, it } from 'vitest';
import { answerResult, batchRequestLine, isAnswer, lineError, neverRan, parseResultLine } from '../../src/models/batch-lines.ts';
import { lineWakeMs } from '../../src/workers/batch-line-decide.ts';
import { errorLineFate, pollDelayMs, unansweredFate, unansweredWhy, windowSeconds } from '../../src/workers/batch-poll-decide.ts';
import { batchMetadata, decidePack, isBatchOf, minimumInputs } from '../../src/workers/batch-submit-decide.ts';

const S = { maxRequests: 3, maxBytes: 1000, quietMs: 30_000, maxWaitMs: 600_000 };

describe('decidePack', () => {
  it('packs everything once no line came for the quiet period, or the oldest waited its longest', () => {
    expect(decidePack({ count: 2, bytes: 10, oldestAt: 0, newestAt: 1000 }, S, 31_000)).toEqual({ kind: 'pack-all' });
    expect(decidePack({ count: 2, bytes: 10, oldestAt: 0, newestAt: 599_000 }, S, 600_000)).toEqual({ kind: 'pack-all' });
    expect(decidePack({ count: 0, bytes: 0 }, S, 5)).toEqual({ kind: 'pack-all' });
  });
  it('waits while lines keep coming, until the sooner of the two', () => {
    expect(decidePack({ count: 2, bytes: 10, oldestAt: 0, newestAt: 10_000 }, S, 20_000)).toEqual({ kind: 'wait', waitMs: 20_000 });
    expect(decidePack({ count: 2, bytes: 10, oldestAt: 0, newestAt: 590_000 }, S, 595_000)).toEqual({ kind: 'wait', waitMs: 5_000 });
  });
  it('packs full files at once and waits for the rest', () => {
    expect(decidePack({ count: 3, bytes: 10, oldestAt: 0, newestAt: 10_000 }, S, 20_000)).toEqual({ kind: 'pack-full', waitMs: 20_000 });
    expect(decidePack({ count: 1, bytes: 1000, oldestAt: 0, newestAt: 10_000 }, S, 20_000)).toMatchObject({ kind: 'pack-full' });
  });
  it('counts the fewest files the limits allow', () => {
    expect(minimumInputs(2000, 10, { maxRequests: 50_000, maxBytes: 1e9 })).toBe(1);
    expect(minimumInputs(7, 10, S)).toBe(3);
    expect(minimumInputs(2, 2500, S)).toBe(3);
    expect(minimumInputs(0, 0, S)).toBe(0);
  });
  it('names the run and the input in the metadata, and finds the batch by it', () => {
    const m = batchMetadata('r1', 4, 'file-1');
    expect(isBatchOf(m, 'r1', 4)).toBe(true);
    expect(isBatchOf(m, 'r1', 5)).toBe(false);
    expect(isBatchOf(m, 'r2', 4)).toBe(false);
    expect(isBatchOf(null, 'r1', 4)).toBe(false);
  });
});

describe('polling and line fates', () => {
  it('reads a young batch often and an old one every few minutes', () => {
    expect(pollDelayMs(0, 10_000, 300_000)).toBe(10_000);
    expect(pollDelayMs(600_000, 10_000, 300_000)).toBe(60_000);
    expect(pollDelayMs(10 * 3600_000, 10_000, 300_000)).toBe(300_000);
    expect(windowSeconds('24h')).toBe(86_400);
    expect(windowSeconds('14d')).toBe(14 * 86_400);
  });
  it('resends transient errors and unanswered lines a few times, then fails them', () => {
    expect(errorLineFate('server_error', 'x', 1, 3)).toEqual({ kind: 'resend' });
    expect(unansweredFate(3, 3, 'expired')).toEqual({ kind: 'resend' });
    expect(unansweredFate(4, 3, 'the batch ended expired')).toMatchObject({ kind: 'fail', code: 'batch_failed', message: /sent in 4 batches/ });
  });
  it('fails permanent errors with their own code (a too-large chunk re-plans, a blocked one is a result)', () => {
    expect(errorLineFate('input_too_large', 'big', 1, 3)).toEqual({ kind: 'fail', code: 'input_too_large', message: 'big' });
    expect(errorLineFate('content_blocked', 'no', 1, 3)).toMatchObject({ code: 'content_blocked' });
    expect(errorLineFate('not-a-code', 'no', 1, 3)).toMatchObject({ code: 'batch_failed' });
  });
  it('says why a batch left lines unanswered', () => {
    expect(unansweredWhy('expired')).toMatch(/ended expired/);
    expect(unansweredWhy('failed', [{ code: 'mismatched_model', message: 'two models' }])).toMatch(/failed validation \(mismatched_model: two models\)/);
  });
});

describe('the files of the Batch API', () => {
  it('a request line is the real-time chat body without stream, stream_options and speech', () => {
    const line = JSON.parse(
      batchRequestLine('f1.0', {
        model: 'qwen-omni-turbo',
        stream: true,
        stream_options: { include_usage: true },
        modalities: ['text', 'audio'],
        audio: { voice: 'Cherry' },
        messages: [{ role: 'user', content: [] }],
        max_tokens: 100,
      }),
    );
    expect(line).toEqual({
      custom_id: 'f1.0',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'qwen-omni-turbo', messages: [{ role: 'user', content: [] }], max_tokens: 100 },
    });
  });
  it('an answer line becomes the real-time result, its usage read as the chat protocol reads it', () => {
    const line = parseResultLine(
      JSON.stringify({
        id: 'x',
        custom_id: 'f1.0',
        response: {
          status_code: 200,
          request_id: 'req-1',
          body: {
            model: 'qwen-omni-turbo',
            choices: [{ message: { content: 'hello' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 30, completion_tokens: 2, prompt_tokens_details: { audio_tokens: 25, text_tokens: 5 } },
          },
        },
        error: null,
      }),
    )!;
    expect(isAnswer(line)).toBe(true);
    const r = answerResult(line, { model: 'qwen-omni-turbo', promptText: 'p', audioTokensPerSecond: 25, mediaKind: 'audio' });
    expect(r).toMatchObject({ text: 'hello', requestId: 'req-1', finishReason: 'stop' });
    expect(r.usage.input.audio).toBe(25);
    expect(r.usage.output.text).toBe(2);
  });
  it('an error line is classified as the real-time error would be', () => {
    const err = (o: object) => lineError({ custom_id: 'a', ...o });
    expect(err({ response: { status_code: 500, body: { error: { code: 'InternalError', message: 'oops' } } } }).code).toBe('server_error');
    expect(err({ response: { status_code: 400, body: { error: { code: 'InvalidParameter', message: 'The audio duration exceeds the limit' } } } }).code).toBe(
      'input_too_large',
    );
    expect(err({ response: { status_code: 400, body: { error: { code: 'DataInspectionFailed', message: 'x' } } } }).code).toBe('content_blocked');
    const expired = { custom_id: 'a', response: null, error: { code: 'batch_expired', message: 'x' } };
    expect(isAnswer(expired)).toBe(false);
    // a line the batch never ran is not an error of the request: it goes again (unansweredFate)
    expect(neverRan(expired)).toBe(true);
    expect(neverRan({ custom_id: 'a', response: { status_code: 500, body: {} } })).toBe(false);
    expect(parseResultLine('not json')).toBeUndefined();
    expect(parseResultLine('{"no":"id"}')).toBeUndefined();
  });
});

describe('lineWakeMs', () => {
  const H = 3_600_000;
  const S = { pollMaxMs: 2_000, packMaxWaitMs: 600_000, windowMs: 24 * H };
  it("a waiting line job's safety-net wake: not before an answer could come, then as long as it has waited", () => {
    expect(lineWakeMs(0, S)).toBe(620_000);
    expect(lineWakeMs(300_000, S)).toBe(620_000);
    expect(lineWakeMs(H, S)).toBe(H);
  });
  it('an eighth of the completion window at most: a handful of wakes per line in a 24-h batch, not hundreds', () => {
    const d = { pollMaxMs: 5 * 60_000, packMaxWaitMs: 10 * 60_000, windowMs: 24 * H };
    expect(lineWakeMs(10 * H, d)).toBe(3 * H);
    let waited = 0;
    let wakes = 0;
    while (waited < 24 * H) {
      waited += lineWakeMs(waited, d);
      wakes++;
    }
    expect(wakes).toBeLessThanOrEqual(10);
  });
});
