/**
 * What the service says and what the run does about it: a bad key stops the run, a provider refusal is a
 * verdict, an invalid verdict gets one repair request; a signed webhook reports the end; manifests.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/ops/webhook.ts';
import { media } from '../helpers/paths.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

async function folder(h: Harness, files: Record<string, string>): Promise<string> {
  const dir = path.join(h.tmp, `in-${Object.keys(files).length}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  for (const [name, src] of Object.entries(files)) await cp(media(src), path.join(dir, name));
  return dir;
}

describe('errors, refusals and notifications', () => {
  let h: Harness | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  it('a rejected key stops the run with that reason; nothing else is attempted; the key is in no output', async () => {
    h = await startHarness({ env: { OMNI_API_KEY: 'sk-wrong-key-123' } });
    await h.startWorkers({ inferConcurrency: 1 });
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac', 'b.wav': 'funasr__sample.wav', 'c.wav': 'wenet__aishell-BAC009S0724W0121.wav' });
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'caption' });
    expect(s.status).toBe('stopped_error');
    expect(s.stopReason).toBe('auth');
    expect(s.counts.succeeded).toBe(0);
    expect(h.emulator.stats().byStatus['401']).toBeLessThanOrEqual(2); // at most the requests already in flight
    const failures = await readFile(path.join(out, '_runs', s.spec.runId, 'failures.jsonl'), 'utf8');
    expect(failures).toContain('"code":"auth"');
    expect(failures).not.toContain('sk-wrong-key-123');
  });

  it('a provider refusal (DataInspectionFailed) becomes a provider_blocked verdict, not a failure', async () => {
    h = await startHarness({ emulator: { inspectFail: 1 } });
    await h.startWorkers();
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac' });
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'moderate' });
    expect(s.status).toBe('completed');
    const v = JSON.parse(await readFile(path.join(out, 'a.flac.moderation.json'), 'utf8'));
    expect(v.status).toBe('provider_blocked');
    expect(v.flagged).toBe(true);
    const report = JSON.parse(await readFile(path.join(out, '_runs', s.spec.runId, 'report.json'), 'utf8'));
    expect(report.moderation.by_category.provider_blocked).toBe(1);
  });

  it('an answer that is not a valid verdict gets exactly one repair request', async () => {
    h = await startHarness({ emulator: { invalidModerationWithMedia: true } });
    await h.startWorkers();
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac', 'b.wav': 'funasr__sample.wav' });
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'moderate' });
    expect(s.status).toBe('completed');
    expect(h.emulator.stats().requests).toBe(4);
    const doc = JSON.parse(await readFile(path.join(out, 'a.flac.json'), 'utf8'));
    // Both requests' tokens are in the chunk's usage (the repair is text-only).
    expect(doc.usage.input.text).toBeGreaterThan(doc.usage.input.audio > 0 ? 100 : 0);
    const v = JSON.parse(await readFile(path.join(out, 'a.flac.moderation.json'), 'utf8'));
    expect(v.schema).toBe('omnibatch.moderation/v1');
  });

  it('a scan that fails for good ends the run: files it registered end not run, the report says why', async () => {
    h = await startHarness();
    await h.startWorkers();
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac' });
    const manifest = path.join(h.tmp, 'bad-manifest.jsonl');
    await writeFile(manifest, `"${path.join(dir, 'a.flac')}"\n"/somewhere/else/b.flac"\n`);
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'caption', manifest });
    expect(s.status).toBe('stopped_error');
    expect(s.counts).toMatchObject({ total: 1, not_run: 1 });
    const report = JSON.parse(await readFile(path.join(out, '_runs', s.spec.runId, 'report.json'), 'utf8'));
    expect(report.stop_reason).toMatch(/manifest_outside_source/);
  });

  it('a repair request that fails does not make the retried job pay for the first answer again', async () => {
    h = await startHarness({ emulator: { invalidModerationWithMedia: true, failTextOnly: 1 } });
    await h.startWorkers();
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac' });
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'moderate' });
    expect(s.status).toBe('completed');
    const stats = h.emulator.stats();
    // the answer with the media once, the repair refused with a 500, the repair again
    expect(stats.requests).toBe(3);
    expect(stats.byStatus['500']).toBe(1);
    const doc = JSON.parse(await readFile(path.join(out, 'a.flac.json'), 'utf8'));
    expect(doc.usage.input.audio).toBe(stats.billed['qwen3-omni-flash'].input.audio);
    const ledger = await h.ctx.costs.totals(s.spec.runId);
    expect(ledger.costMicros).toBe(doc.cost.amount_micros);
  });

  it('posts a signed report when the run ends; a manifest picks the files', async () => {
    const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    h = await startHarness({ env: { OMNIBATCH_WEBHOOK_SECRET: 'whsec-test' } });
    await h.startWorkers();
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac', 'b.wav': 'funasr__sample.wav', 'c.wav': 'wenet__aishell-BAC009S0724W0121.wav' });
    const manifest = path.join(h.tmp, 'manifest.jsonl');
    await writeFile(manifest, `${JSON.stringify({ uri: path.join(dir, 'a.flac') })}\n"${path.join(dir, 'c.wav')}"\n`);
    const s = await h.run({ source: dir, destination: path.join(h.tmp, 'out'), task: 'caption', manifest, notifyUrl: url });
    expect(s.counts).toMatchObject({ total: 2, succeeded: 2 });
    for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(received).toHaveLength(1);
    const [hook] = received;
    expect(hook.headers['x-omnibatch-event']).toBe('run.completed');
    expect(verifySignature({ body: hook.body, secret: 'whsec-test', headers: hook.headers }).ok).toBe(true);
    expect(verifySignature({ body: hook.body, secret: 'other', headers: hook.headers }).ok).toBe(false);
    const payload = JSON.parse(hook.body);
    expect(payload.data.run_id).toBe(s.spec.runId);
    expect(payload.data.counts.succeeded).toBe(2);
  });
});
