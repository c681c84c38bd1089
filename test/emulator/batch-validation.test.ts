// What the Batch API refuses, as the provider reports it: a file that breaks the input-file rules fails its batch
// in validation (status failed, errors.data with line numbers, no output); a bad create or upload is an HTTP 400
// envelope; a line Batch cannot answer lands in the error file with the real-time refusal.
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.ts';
import { batchEmulator, chatLine, jsonl, lines, settle, submit, upload } from './batch-helpers.ts';

let emu: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emu, client } = await batchEmulator({ batchMaxRequests: 3, batchMaxLineBytes: 2000 }));
});
afterAll(async () => {
  await emu.close();
});

/** Submits, waits for the end, and returns the failed batch's errors. */
async function failedWith(c: OpenAI, input: readonly unknown[]): Promise<{ code: string; line: number | null; message: string }[]> {
  const { batch, seen } = await settle(c, (await submit(c, input)).id);
  expect(seen).toEqual(['validating', 'failed']);
  expect(batch.failed_at).toBeGreaterThan(0);
  expect(batch.output_file_id).toBeNull();
  expect(batch.error_file_id).toBeNull();
  return batch.errors!.data!.map((e) => ({ code: e.code!, line: e.line ?? null, message: e.message! }));
}

describe('a file that breaks the input-file rules fails its batch in validation', () => {
  it.each([
    ['a line over the per-line limit', [chatLine('1', 'ok'), chatLine('2', 'x'.repeat(3000))], 'line_too_large', 2],
    ['mixed models in one file', [chatLine('1', 'a'), chatLine('2', 'b', 'qwen3.5-omni-plus')], 'mismatched_model', 2],
    ['a model Batch does not serve', [chatLine('1', 'a', 'qwen3-omni-flash')], 'model_not_supported', 1],
    ['an alias that is not the stable name', [chatLine('1', 'a', 'qwen-omni-turbo-latest')], 'model_not_supported', 1],
    ['the captioner', [chatLine('1', 'a', 'qwen3-omni-30b-a3b-captioner')], 'model_not_supported', 1],
    ['a line that is not JSON', [chatLine('1', 'a'), '{"custom_id": "2", "method": "POST",'], 'invalid_json_line', 2],
    ['a repeated custom_id', [chatLine('1', 'a'), chatLine('1', 'b')], 'duplicate_custom_id', 2],
    ['a line without custom_id', [{ method: 'POST', url: '/v1/chat/completions', body: { model: 'qwen-omni-turbo' } }], 'missing_required_parameter', 1],
    ['a GET line', [{ ...chatLine('1', 'a'), method: 'GET' }], 'invalid_method', 1],
    ['a url unlike the endpoint', [{ ...chatLine('1', 'a'), url: '/v1/embeddings' }], 'mismatched_url', 1],
    ['two thinking modes in one file', [chatLine('1', 'a', 'qwen-omni-turbo', { enable_thinking: false }), chatLine('2', 'b')], 'mismatched_thinking_mode', 2],
    ['the test model at the chat endpoint', [{ ...chatLine('1', 'a', 'batch-test-model') }], 'mismatched_test_url', 1],
  ])('%s', async (_name, input, code, line) => {
    const errors = await failedWith(client, input);
    expect(errors).toContainEqual(expect.objectContaining({ code, line }));
  });

  it('too many requests in one file (a whole-file error: no line)', async () => {
    const errors = await failedWith(
      client,
      [1, 2, 3, 4].map((i) => chatLine(String(i), 'a')),
    );
    expect(errors).toEqual([expect.objectContaining({ code: 'too_many_requests', line: null })]);
    expect(errors[0].message).toContain('limit is 3');
  });

  it('an empty file', async () => {
    expect(await failedWith(client, [''])).toEqual([expect.objectContaining({ code: 'empty_file', line: null })]);
  });

  it('the test model over its 100 lines', async () => {
    const big = await batchEmulator();
    try {
      const line = (i: number) => ({ custom_id: String(i), method: 'POST', url: '/v1/chat/ds-test', body: { model: 'batch-test-model', messages: [] } });
      const created = await big.client.batches.create({
        input_file_id: await upload(big.client, jsonl(Array.from({ length: 101 }, (_, i) => line(i)))),
        endpoint: '/v1/chat/ds-test' as '/v1/chat/completions',
        completion_window: '24h',
      });
      const { batch } = await settle(big.client, created.id);
      expect(batch.status).toBe('failed');
      expect(batch.errors!.data![0]).toMatchObject({ code: 'too_many_requests', line: null });
      expect(batch.errors!.data![0].message).toContain('100 for batch-test-model');
    } finally {
      await big.emu.close();
    }
  });

  it('an omni model in Singapore, whose Batch serves text models only; the test model is served there', async () => {
    const sg = await batchEmulator({ region: 'intl' });
    try {
      const errors = await failedWith(sg.client, [chatLine('1', 'a')]);
      expect(errors).toEqual([expect.objectContaining({ code: 'model_not_supported', line: 1 })]);
      expect(errors[0].message).toContain('Singapore');
      const test = { custom_id: '1', method: 'POST', url: '/v1/chat/ds-test', body: { model: 'batch-test-model', messages: [] } };
      const created = await sg.client.batches.create({
        input_file_id: await upload(sg.client, jsonl([test])),
        endpoint: '/v1/chat/ds-test' as '/v1/chat/completions',
        completion_window: '24h',
      });
      expect((await settle(sg.client, created.id)).batch.status).toBe('completed');
    } finally {
      await sg.emu.close();
    }
  });
});

describe('bad requests to the API are HTTP 400 envelopes', () => {
  const create = async (body: Record<string, unknown>) => {
    const input = await upload(client, jsonl([chatLine('1', 'a')]));
    return client.batches.create({ input_file_id: input, endpoint: '/v1/chat/completions', completion_window: '24h', ...body } as never);
  };
  it.each([
    ['a completion window under 24h', { completion_window: '12h' }, 'between 24h and 336h'],
    ['a completion window over 336h', { completion_window: '15d' }, 'between 24h and 336h'],
    ['a completion window in minutes', { completion_window: '1440m' }, 'hours or days'],
    ['an endpoint Batch does not take', { endpoint: '/v1/responses' }, 'endpoint must be'],
    ['an unknown input file', { input_file_id: 'file-batch-nope' }, 'input_file_id'],
    ['a ds_name over 100 characters', { metadata: { ds_name: 'n'.repeat(101) } }, 'ds_name'],
    ['more than 16 metadata pairs', { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, '16'],
  ])('%s', async (_name, body, words) => {
    const err = await create(body).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toMatchObject({ status: 400, code: 'invalid_parameter_error' });
    expect(err.message).toContain(words);
  });

  it('accepts the window in days ("14d" is the 336h maximum)', async () => {
    const b = await create({ completion_window: '14d' });
    expect(b.completion_window).toBe('14d');
    const { batch } = await settle(client, b.id);
    expect(batch.expires_at).toBe(batch.created_at + 336 * 3600);
  });

  it('refuses an upload over the file limit, and a purpose other than batch', async () => {
    const small = await batchEmulator({ batchMaxFileBytes: 1000 });
    try {
      await expect(upload(small.client, 'x'.repeat(2000))).rejects.toMatchObject({ status: 400 });
      const { toFile } = await import('openai');
      await expect(small.client.files.create({ file: await toFile(Buffer.from('{}\n'), 'a.jsonl'), purpose: 'fine-tune' })).rejects.toMatchObject({
        status: 400,
      });
      expect(small.emu.stats().byStatus['400']).toBe(2);
    } finally {
      await small.emu.close();
    }
  });
});

describe('a line Batch cannot answer is refused in the error file; the others complete', () => {
  it('stream: true and audio output are line errors with the real-time envelope', async () => {
    const { batch } = await settle(
      client,
      (
        await submit(client, [
          chatLine('ok', 'hello'),
          chatLine('stream', 'hello', 'qwen-omni-turbo', { stream: true }),
          chatLine('audio', 'hello', 'qwen-omni-turbo', { modalities: ['text', 'audio'], audio: { voice: 'Cherry', format: 'wav' } }),
        ])
      ).id,
    );
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 3, completed: 1, failed: 2 });
    const out = await lines(client, batch.output_file_id);
    const err = await lines(client, batch.error_file_id);
    expect(out.map((l) => l.custom_id)).toEqual(['ok']);
    const byId = Object.fromEntries(err.map((l) => [l.custom_id, l]));
    expect(byId.stream.response.status_code).toBe(400);
    expect(byId.stream.error.code).toBe('invalid_parameter_error');
    expect(byId.stream.response.body.error.message).toContain('stream is not supported in Batch');
    expect(byId.audio.response.status_code).toBe(400);
    expect(byId.audio.error.message).toContain('audio output in Batch');
    expect(emu.stats().batch.lines.failed).toBeGreaterThanOrEqual(2);
  });
});

describe("Batch's own context ceiling", () => {
  it('qwen3.5-omni-plus takes 256K tokens a line in Batch (the real-time path takes more): beyond, the real overflow envelope', async () => {
    const big = await batchEmulator();
    try {
      const text = '字'.repeat(256 * 1024 + 1);
      const { batch } = await settle(
        big.client,
        (await submit(big.client, [chatLine('long', text, 'qwen3.5-omni-plus'), chatLine('short', '字', 'qwen3.5-omni-plus')])).id,
      );
      expect(batch.request_counts).toEqual({ total: 2, completed: 1, failed: 1 });
      const [err] = await lines(big.client, batch.error_file_id);
      expect(err.custom_id).toBe('long');
      expect(err.response.status_code).toBe(400);
      expect(err.error.message).toContain(`Range of input length should be [1, ${256 * 1024}]`);
    } finally {
      await big.emu.close();
    }
  });
});
