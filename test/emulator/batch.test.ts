// The official openai client against the emulator's Batch (file input) API: upload, create, poll through the
// documented statuses, download the output, list, cancel, and the Batch bill kept apart in /stats.
import path from 'node:path';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, type EmulatorStats, startEmulator } from '../../src/emulator/server.ts';
import { media } from '../helpers/paths.ts';
import { batchEmulator, chatLine, lines, settle, submit, upload } from './batch-helpers.ts';
import { CHAT, dataUrl, post, shortHash } from './helpers.ts';

const JFK = media('whisper__jfk.flac');
let emu: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emu, client } = await batchEmulator());
});
afterAll(async () => {
  await emu.close();
});

const audioPart = (url: string) => [
  { type: 'input_audio', input_audio: { data: url, format: 'flac' } },
  { type: 'text', text: 'Transcribe this audio verbatim.' },
];

describe('a batch through the official openai client', () => {
  it('goes validating -> in_progress -> finalizing -> completed, and its output lines answer each custom_id with usage', async () => {
    emu.resetStats();
    const created = await submit(client, [chatLine('a', audioPart(dataUrl(JFK))), chatLine('b', 'Say hello.'), chatLine('c', 'Say goodbye.')], {
      metadata: { ds_name: 'smoke', run: 'r1' },
    });
    expect(created).toMatchObject({ object: 'batch', status: 'validating', endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(created.metadata).toEqual({ ds_name: 'smoke', run: 'r1' });
    expect(created.request_counts).toEqual({ total: 0, completed: 0, failed: 0 });

    const { batch, seen } = await settle(client, created.id);
    expect(seen).toEqual(['validating', 'in_progress', 'finalizing', 'completed']);
    expect(batch.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    expect(batch.error_file_id).toBeNull();
    expect(batch.output_file_id).toMatch(/^file-batch_output-/);
    for (const k of ['in_progress_at', 'finalizing_at', 'completed_at'] as const) expect(batch[k]).toBeGreaterThanOrEqual(batch.created_at);
    expect(batch.expires_at).toBe(batch.created_at + 24 * 3600);

    const out = await lines(client, batch.output_file_id);
    expect(out.map((l) => l.custom_id).sort()).toEqual(['a', 'b', 'c']);
    for (const l of out) {
      expect(l.error).toBeNull();
      expect(l.response.status_code).toBe(200);
      expect(l.response.request_id).toBe(l.id);
      expect(l.response.body).toMatchObject({ object: 'chat.completion', model: 'qwen-omni-turbo' });
      const u = l.response.body.usage;
      expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
      expect(u.completion_tokens).toBeGreaterThan(0);
    }
    const a = out.find((l) => l.custom_id === 'a');
    expect(a.response.body.choices[0].message.content).toContain(`[${shortHash(JFK)}]`);
    expect(a.response.body.usage.prompt_tokens_details.audio_tokens).toBe(Math.ceil(11 * 25));

    // The bill: the batch section only, at half the real-time rate; the real-time counters are untouched.
    const stats = emu.stats();
    expect(stats.billed).toEqual({});
    expect(stats.completed).toBe(0);
    expect(stats.batch).toMatchObject({
      via: 'batch',
      rate: 0.5,
      files: 1,
      created: 1,
      batches: { completed: 1 },
      lines: { completed: 3, failed: 0, notRun: 0 },
    });
    const billed = stats.batch.billed['qwen-omni-turbo'];
    const sum = (o: Record<string, number>) => Object.values(o).reduce((x, y) => x + y, 0);
    expect(sum(billed.input) + sum(billed.output)).toBe(out.reduce((n, l) => n + l.response.body.usage.total_tokens, 0));
  });

  it('bills a line the same tokens as the real-time request it stands for (so its price is exactly the rate times)', async () => {
    emu.resetStats();
    const created = await submit(client, [chatLine('x', audioPart(dataUrl(JFK)))]);
    await settle(client, created.id);
    const realtime = await post(
      emu.url,
      CHAT,
      { ...chatLine('x', audioPart(dataUrl(JFK))).body, stream: true, stream_options: { include_usage: true } },
      { authorization: 'Bearer sk-batch' },
    );
    await realtime.text();
    const s: EmulatorStats = emu.stats();
    expect(s.batch.billed['qwen-omni-turbo']).toEqual(s.billed['qwen-omni-turbo']);
    expect(s.batch.rate).toBe(0.5);
  });

  it('answers media given as a loopback URL, as the real-time path does', async () => {
    const { createServer } = await import('node:http');
    const { readFileSync } = await import('node:fs');
    const server = createServer((_req, res) => res.end(readFileSync(JFK)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/jfk.flac`;
      const { batch } = await settle(client, (await submit(client, [chatLine('u', audioPart(url))])).id);
      const [line] = await lines(client, batch.output_file_id);
      expect(line.response.body.choices[0].message.content).toContain(`[${shortHash(JFK)}]`);
    } finally {
      server.close();
    }
  });

  it('lists, retrieves and deletes files; an input file cannot be downloaded, an output file can', async () => {
    const id = await upload(client, `${JSON.stringify(chatLine('1', 'hi'))}\n`, 'mine.jsonl');
    const f = await client.files.retrieve(id);
    expect(f).toMatchObject({ id, object: 'file', purpose: 'batch', filename: 'mine.jsonl', status: 'processed' });
    expect(id).toMatch(/^file-batch-/);
    await expect(client.files.content(id)).rejects.toMatchObject({ status: 400 });
    const listed = await client.files.list({ purpose: 'batch', limit: 100 });
    expect(listed.data.map((x) => x.id)).toContain(id);
    expect(listed.data.every((x) => x.purpose === 'batch')).toBe(true);
    expect(await client.files.delete(id)).toMatchObject({ id, deleted: true });
    expect((await client.files.list({ limit: 100 })).data.map((x) => x.id)).not.toContain(id);
    await expect(client.files.retrieve(id)).rejects.toMatchObject({ status: 404 });
    await expect(client.batches.retrieve('batch_nope')).rejects.toMatchObject({ status: 404 });
  });

  it('lists batches newest first, page by page (limit, after), and by input file', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await submit(client, [chatLine('1', `n${i}`)], { metadata: { ds_name: `page-${i}` } })).id);
    const first = await client.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first.has_more).toBe(true);
    const second = await client.batches.list({ limit: 2, after: ids[1] });
    expect(second.data[0].id).toBe(ids[0]);
    const byFile = await client.batches.list({ limit: 5 }, { query: { input_file_ids: (await client.batches.retrieve(ids[1])).input_file_id } });
    expect(byFile.data.map((b) => b.id)).toEqual([ids[1]]);
    const byName = await client.batches.list({ limit: 5 }, { query: { ds_name: 'page-2' } });
    expect(byName.data.map((b) => b.id)).toEqual([ids[2]]);
    for (const id of ids) await settle(client, id);
  });

  it('cancels: cancelling, then cancelled; lines done stay in the output (billed), the others are batch_cancelled in the error file', async () => {
    const slow = await batchEmulator({ batchInProgressMs: 3000, batchConcurrency: 1 });
    try {
      const all = Array.from({ length: 6 }, (_, i) => chatLine(`l${i}`, `line ${i}`));
      const created = await submit(slow.client, all);
      await expect
        .poll(async () => (await slow.client.batches.retrieve(created.id)).request_counts?.completed, { timeout: 5000, interval: 20 })
        .toBeGreaterThan(0);
      const cancelling = await slow.client.batches.cancel(created.id);
      expect(cancelling.status).toBe('cancelling');
      expect(cancelling.cancelling_at).toBeGreaterThan(0);
      const { batch, seen } = await settle(slow.client, created.id);
      expect(seen.at(-1)).toBe('cancelled');
      expect(batch.cancelled_at).toBeGreaterThan(0);
      const done = batch.request_counts!.completed;
      expect(done).toBeGreaterThan(0);
      expect(done).toBeLessThan(6);
      const out = await lines(slow.client, batch.output_file_id);
      const err = await lines(slow.client, batch.error_file_id);
      expect(out).toHaveLength(done);
      expect(err).toHaveLength(6 - done);
      for (const e of err) expect(e).toMatchObject({ response: null, error: { code: 'batch_cancelled' } });
      expect(new Set([...out, ...err].map((l) => l.custom_id)).size).toBe(6);
      expect(slow.emu.stats().batch.lines).toEqual({ completed: done, failed: 0, notRun: 6 - done });
      await expect(slow.client.batches.cancel(created.id)).rejects.toMatchObject({ status: 400 });
    } finally {
      await slow.emu.close();
    }
  });

  it('serves the free batch-test-model at /v1/chat/ds-test with its fixed answer, billing nothing', async () => {
    emu.resetStats();
    const line = (id: string) => ({
      custom_id: id,
      method: 'POST',
      url: '/v1/chat/ds-test',
      body: { model: 'batch-test-model', messages: [{ role: 'user', content: 'Hello' }] },
    });
    const created = await client.batches.create({
      input_file_id: await upload(client, `${JSON.stringify(line('1'))}\n${JSON.stringify(line('2'))}\n`),
      endpoint: '/v1/chat/ds-test' as '/v1/chat/completions',
      completion_window: '24h',
    });
    const { batch } = await settle(client, created.id);
    expect(batch.status).toBe('completed');
    const out = await lines(client, batch.output_file_id);
    expect(out.map((l) => l.response.body.choices[0].message.content)).toEqual(['This is a test result.', 'This is a test result.']);
    expect(out[0].response.body.usage).toEqual({ completion_tokens: 6, prompt_tokens: 20, total_tokens: 26 });
    expect(emu.stats().batch.billed).toEqual({});
  });
});

describe('cancelling a batch before it is in progress', () => {
  it('ends it cancelled, also when the cancel comes while its file is being validated', async () => {
    // validation starts at once: a cancel right after the create lands before it, or during it (a file read)
    const running = await batchEmulator({ batchValidatingMs: 0, batchInProgressMs: 60_000, batchCancellingMs: 0 });
    try {
      const lines = Array.from({ length: 200 }, (_, i) => chatLine(String(i), `line ${i}`));
      const ends = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const created = await submit(running.client, lines);
          await running.client.batches.cancel(created.id);
          let status = '';
          await expect
            .poll(async () => (status = (await running.client.batches.retrieve(created.id)).status), { timeout: 10_000, interval: 20 })
            .toMatch(/^(cancelled|in_progress)$/);
          return status;
        }),
      );
      // never in progress after the provider accepted the cancel
      expect(ends).toEqual(ends.map(() => 'cancelled'));
    } finally {
      await running.emu.close();
    }
  });

  it('takes the cancelling time there too: a batch cancelled while validating is cancelling first, then cancelled', async () => {
    const running = await batchEmulator({ batchValidatingMs: 200, batchInProgressMs: 60_000, batchCancellingMs: 400 });
    try {
      const created = await submit(running.client, [chatLine('1', 'a')]);
      const t0 = Date.now();
      expect((await running.client.batches.cancel(created.id)).status).toBe('cancelling');
      await expect.poll(async () => (await running.client.batches.retrieve(created.id)).status, { timeout: 10_000, interval: 20 }).toBe('cancelled');
      // (it ended at the validation's end, 200 ms after the create, before)
      expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    } finally {
      await running.emu.close();
    }
  });
});

describe('closing the emulator', () => {
  it('stops a running batch at once and removes its files', async () => {
    const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    // a temp folder of this test's own: another file's emulator, running at the same time, makes its folders in
    // the shared one (os.tmpdir() reads TMPDIR at each call)
    const saved = process.env.TMPDIR;
    const mine = mkdtempSync(path.join(tmpdir(), 'omnibatch-emu-close-'));
    process.env.TMPDIR = mine;
    try {
      const ours = () => readdirSync(mine).filter((d) => d.startsWith('omnibatch-emu-batch-'));
      const running = await batchEmulator({ batchInProgressMs: 60_000, batchConcurrency: 1 });
      const created = await submit(running.client, [chatLine('1', 'a'), chatLine('2', 'b'), chatLine('3', 'c')]);
      await expect.poll(async () => (await running.client.batches.retrieve(created.id)).status, { timeout: 5000, interval: 20 }).toBe('in_progress');
      expect(ours()).toHaveLength(1);
      const t0 = Date.now();
      await running.emu.close();
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(ours()).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(mine, { recursive: true, force: true });
    }
  });
});

describe('the Batch API and authentication', () => {
  it('refuses a wrong key with 401 like every other route', async () => {
    const other = await startEmulator({ apiKey: 'sk-right' });
    try {
      const res = await fetch(`${other.url}/compatible-mode/v1/batches`, { headers: { authorization: 'Bearer sk-wrong' } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error.code).toBe('invalid_api_key');
    } finally {
      await other.close();
    }
  });
});
