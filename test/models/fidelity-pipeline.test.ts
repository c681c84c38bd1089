/**
 * Issue 11 through the whole pipeline (real Redis, real ffmpeg, the emulator over HTTP):
 * - an input overflow answered with the real envelope (400 InternalError.Algo.InvalidParameter, "Range of
 *   input length should be [1, N]") re-plans the file smaller instead of being retried as a server error;
 * - a DMXAPI run sends the -all name as given, records both names, reserves the model's output ceiling
 *   (no cap is sent on that protocol), and its ledger marks the inferred usage split.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

async function noise(dir: string, name: string, seconds: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await runFfmpeg(['-v', 'error', '-y', '-f', 'lavfi', '-i', `anoisesrc=d=${seconds}:c=pink:r=16000:a=0.2`, '-ac', '1', path.join(dir, name)]);
}

describe('an input overflow with the real envelope, over DMXAPI (which relays the upstream code)', () => {
  let h: Harness;
  beforeAll(async () => {
    // The (emulated) service's input ceiling is 700 tokens: a 60 s chunk (750 audio tokens) overflows.
    const port = await freePort();
    h = await startHarness({ emulator: { port, maxInputTokens: 700 }, env: { OMNI_PROTOCOL: 'responses', OMNI_BASE_URL: `http://127.0.0.1:${port}/v1` } });
    await h.startWorkers({ inferConcurrency: 2 });
  });
  afterAll(async () => h?.close());

  it('re-plans the file smaller and succeeds; nothing is retried as a server error', async () => {
    const dir = path.join(h.tmp, 'in');
    await noise(dir, 'long.wav', 120);
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'transcribe', model: 'qwen3-omni-flash-all', chunkSeconds: 100 });
    expect(s.status).toBe('completed');
    const doc = JSON.parse(await readFile(path.join(out, 'long.wav.json'), 'utf8'));
    expect(doc.chunks.at(-1).end_s).toBeGreaterThan(119);
    for (const c of doc.chunks) expect(c.usage.input.total).toBeLessThanOrEqual(700);
    const stats = h.emulator.stats();
    // The first plan has at most two chunks (100 s target); each refused one was sent once, never retried
    // as a server error (which would have sent it again and again, and then failed the file).
    expect(stats.byStatus['400']).toBeGreaterThanOrEqual(1);
    expect(stats.byStatus['400']).toBeLessThanOrEqual(2);
  }, 120_000);
});

describe('a DMXAPI (responses) run', () => {
  let h: Harness;
  beforeAll(async () => {
    const port = await freePort();
    h = await startHarness({ emulator: { port }, env: { OMNI_PROTOCOL: 'responses', OMNI_BASE_URL: `http://127.0.0.1:${port}/v1` } });
    await h.startWorkers({ inferConcurrency: 2 });
  });
  afterAll(async () => h?.close());

  it('sends qwen3-omni-flash-all as given, records both names, and marks the inferred split in the ledger', async () => {
    const dir = path.join(h.tmp, 'in');
    await noise(dir, 'talk.wav', 6);
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'speak', model: 'qwen3-omni-flash-all', voice: 'Serena', budgetMicros: 5_000_000 });
    expect(s.status).toBe('completed');
    expect(s.spec.model).toBe('qwen3-omni-flash-all');
    const doc = JSON.parse(await readFile(path.join(out, 'talk.wav.json'), 'utf8'));
    expect(doc).toMatchObject({ model: 'qwen3-omni-flash-all', model_id: 'qwen3-omni-flash', protocol: 'responses' });
    // DMXAPI's usage has no split: audio output from the seconds received, the rest text, both priced.
    const c = doc.chunks[0];
    expect(c.usage.output.audio).toBeGreaterThan(0);
    expect(c.usage.output.text).toBeGreaterThan(0);
    const billed = h.emulator.stats().billed['qwen3-omni-flash'];
    expect(c.usage.output.audio).toBe(billed.output.audio);
    const [key] = await h.ctx.redis.keys(`${h.cfg.queuePrefix}*:run:${s.spec.runId}:ledger:chunks`);
    const records = (await h.ctx.redis.hvals(key)).map((v) => JSON.parse(v) as { usage: { inferred?: boolean } });
    expect(records).toHaveLength(doc.chunks.length);
    for (const r of records) expect(r.usage.inferred).toBe(true);
  }, 120_000);
});
