// Injected Batch faults, forced per batch by x-emulator-batch-fault or drawn from the option rates: a batch that
// expires half done (finished lines kept, the rest batch_expired in the error file), lines failed with a real-time
// error, a validation failure. Only completed lines are billed.
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.ts';
import { batchEmulator, chatLine, lines, settle, submit } from './batch-helpers.ts';

let emu: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emu, client } = await batchEmulator({ batchConcurrency: 1 }));
});
afterAll(async () => {
  await emu.close();
});

const eight = Array.from({ length: 8 }, (_, i) => chatLine(`c${i}`, `line ${i}`));
const total = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

describe('forced batch faults', () => {
  it('expire=0.5: expired half done; finished lines in the output (billed), the rest batch_expired in the error file (not billed)', async () => {
    emu.resetStats();
    const { batch, seen } = await settle(client, (await submit(client, eight, { fault: 'expire=0.5' })).id);
    expect(seen).toEqual(['validating', 'in_progress', 'expired']);
    expect(batch.expired_at).toBeGreaterThan(0);
    expect(batch.request_counts).toEqual({ total: 8, completed: 4, failed: 0 });
    const out = await lines(client, batch.output_file_id);
    const err = await lines(client, batch.error_file_id);
    expect(out.map((l) => l.custom_id).sort()).toEqual(['c0', 'c1', 'c2', 'c3']);
    expect(err.map((l) => l.custom_id).sort()).toEqual(['c4', 'c5', 'c6', 'c7']);
    for (const e of err) expect(e).toMatchObject({ response: null, error: { code: 'batch_expired' } });
    const stats = emu.stats().batch;
    expect(stats.lines).toEqual({ completed: 4, failed: 0, notRun: 4 });
    expect(stats.batches).toEqual({ expired: 1 });
    const billed = stats.billed['qwen-omni-turbo'];
    expect(total(billed.input) + total(billed.output)).toBe(out.reduce((n, l) => n + l.response.body.usage.total_tokens, 0));
  });

  it('fail-lines=1:rate_limit: every line refused with the real-time 429 envelope, nothing billed', async () => {
    emu.resetStats();
    const { batch } = await settle(client, (await submit(client, eight.slice(0, 3), { fault: 'fail-lines=1:rate_limit' })).id);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 3, completed: 0, failed: 3 });
    expect(batch.output_file_id).toBeNull();
    const err = await lines(client, batch.error_file_id);
    for (const e of err) {
      expect(e.response.status_code).toBe(429);
      expect(e.response.body.error.code).toBe('limit_requests');
      expect(e.error.code).toBe('limit_requests');
    }
    expect(emu.stats().batch.billed).toEqual({});
  });

  it('validation: failed with errors, nothing run', async () => {
    const { batch } = await settle(client, (await submit(client, eight.slice(0, 2), { fault: 'validation' })).id);
    expect(batch.status).toBe('failed');
    expect(batch.errors!.data![0].code).toBe('invalid_input_file');
  });

  it('refuses an unknown fault or a kind that is not a refusal', async () => {
    await expect(submit(client, eight.slice(0, 1), { fault: 'melt' })).rejects.toMatchObject({ status: 400 });
    await expect(submit(client, eight.slice(0, 1), { fault: 'fail-lines=0.5:cut' })).rejects.toMatchObject({ status: 400 });
  });
});

describe('fault rates from the options', () => {
  it('batchFailLines fails about that share of lines (seeded), with batchFailKind', async () => {
    const r = await batchEmulator({ batchFailLines: 0.5, batchFailKind: 'server_error', seed: 7, batchInProgressMs: 50 });
    try {
      const many = Array.from({ length: 40 }, (_, i) => chatLine(`m${i}`, `n ${i}`));
      const { batch } = await settle(r.client, (await submit(r.client, many)).id);
      const failed = batch.request_counts!.failed;
      expect(failed).toBeGreaterThan(8);
      expect(failed).toBeLessThan(32);
      expect(batch.request_counts!.completed + failed).toBe(40);
      for (const e of await lines(r.client, batch.error_file_id)) expect(e.response.status_code).toBe(500);
    } finally {
      await r.emu.close();
    }
  });

  it('batchExpire = 1 expires every batch after batchExpireAfter of its lines; batchValidationFail = 1 fails every one', async () => {
    const x = await batchEmulator({ batchExpire: 1, batchExpireAfter: 0.25 });
    const v = await batchEmulator({ batchValidationFail: 1 });
    try {
      const expired = await settle(x.client, (await submit(x.client, eight)).id);
      expect(expired.batch.status).toBe('expired');
      expect(expired.batch.request_counts!.completed).toBe(2);
      expect((await settle(v.client, (await submit(v.client, eight)).id)).batch.status).toBe('failed');
    } finally {
      await x.emu.close();
      await v.emu.close();
    }
  });
});
