import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { notifyBackoff, QUEUE_POLICY } from '../../src/jobs/policy.ts';
import { HEADER, notifyUrlProblem, sendWebhook, shouldRetry, signBody, verifySignature } from '../../src/ops/webhook.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { OmniError } from '../../src/util/errors.ts';
import { createLogger } from '../../src/util/logger.ts';
import { runCli } from '../helpers/cli.ts';

const SECRET = 'whsec-test-4f1c9a';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real receiver on 127.0.0.1 answering each POST with the next status of `script` (then 200). */
async function receiver(
  script: Array<number | { status: number; headers: Record<string, string> }> = [],
): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      const step = script[got.length - 1] ?? 200;
      const { status, headers } = typeof step === 'number' ? { status: step, headers: {} } : step;
      res.writeHead(status, headers);
      res.end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/omnibatch?token=q-secret-77`,
    got,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The error a send threw (the notify queue's retry decision rides on it). */
async function thrown(p: Promise<unknown>): Promise<OmniError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof OmniError)) throw new Error(`expected an OmniError, got ${String(err)}`);
  return err;
}

const report = { run_id: 'run-1', status: 'completed', counts: { done: 3, failed: 0 }, cost: { currency: 'USD', amount: '0.0123' } };

describe('sendWebhook against a real receiver', () => {
  let rx: Awaited<ReturnType<typeof receiver>> | undefined;
  afterEach(async () => {
    await rx?.close();
    rx = undefined;
  });

  it('delivers the run report, signed so that the receiver verifies it', async () => {
    rx = await receiver();
    const result = await sendWebhook(rx.url, 'run.completed', report, { secret: SECRET });
    expect(result).toMatchObject({ delivered: true, status: 200 });
    expect(rx.got).toHaveLength(1);
    const [req] = rx.got;
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers[HEADER.event]).toBe('run.completed');
    expect(req.headers[HEADER.delivery]).toBe(result.deliveryId);
    expect(req.headers[HEADER.signature]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(JSON.parse(req.body)).toEqual({ schema: 'omnibatch.webhook/v1', event: 'run.completed', delivery: result.deliveryId, data: report });
    expect(verifySignature({ body: req.body, secret: SECRET, headers: req.headers })).toEqual({ ok: true });
    // the documented scheme, recomputed by hand from the headers
    const ts = Number(req.headers[HEADER.timestamp]);
    expect(req.headers[HEADER.signature]).toBe(
      `sha256=${signBody(req.body, SECRET, { timestamp: ts, deliveryId: result.deliveryId, event: 'run.completed' })}`,
    );
  });

  it('fails verification with a wrong secret, a changed body or a swapped event header', async () => {
    rx = await receiver();
    await sendWebhook(rx.url, 'run.budget_threshold', { spent: '8.00', budget: '10.00' }, { secret: SECRET });
    const [req] = rx.got;
    expect(verifySignature({ body: req.body, secret: 'wrong-secret', headers: req.headers })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifySignature({ body: req.body.replace('8.00', '1.00'), secret: SECRET, headers: req.headers })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifySignature({ body: req.body, secret: SECRET, headers: { ...req.headers, [HEADER.event]: 'run.completed' } })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const { [HEADER.signature]: _drop, ...unsigned } = req.headers;
    expect(verifySignature({ body: req.body, secret: SECRET, headers: unsigned })).toEqual({ ok: false, reason: 'missing_header' });
    const ts = Number(req.headers[HEADER.timestamp]);
    expect(verifySignature({ body: req.body, secret: SECRET, headers: req.headers, nowS: ts + 301 })).toEqual({ ok: false, reason: 'stale_timestamp' });
  });

  it('sends once: a 503 throws a retryable webhook_failed for the queue to retry, under the same delivery id', async () => {
    rx = await receiver([503, 200]);
    const err = await thrown(sendWebhook(rx.url, 'run.completed', report, { secret: SECRET, deliveryId: 'run-1.0' }));
    expect(err).toMatchObject({ code: 'webhook_failed', retryable: true, status: 503 });
    expect(err.retryAfterMs).toBeUndefined();
    expect(rx.got).toHaveLength(1);
    const again = await sendWebhook(rx.url, 'run.completed', report, { secret: SECRET, deliveryId: 'run-1.0' });
    expect(again).toMatchObject({ delivered: true, status: 200, deliveryId: 'run-1.0' });
    expect(rx.got.map((r) => r.headers[HEADER.delivery])).toEqual(['run-1.0', 'run-1.0']);
    for (const r of rx.got) expect(verifySignature({ body: r.body, secret: SECRET, headers: r.headers })).toEqual({ ok: true });
  });

  it('a 400 throws a permanent webhook_refused', async () => {
    rx = await receiver([400]);
    expect(await thrown(sendWebhook(rx.url, 'run.completed', report, { secret: SECRET }))).toMatchObject({
      code: 'webhook_refused',
      retryable: false,
      status: 400,
    });
    expect(rx.got).toHaveLength(1);
  });

  it("carries a 429's Retry-After (seconds or an HTTP date) on the error", async () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    rx = await receiver([
      { status: 429, headers: { 'retry-after': '7' } },
      { status: 503, headers: { 'retry-after': 'Thu, 01 Jan 2026 00:00:10 GMT' } },
    ]);
    expect(await thrown(sendWebhook(rx.url, 'run.completed', report, { secret: SECRET }))).toMatchObject({
      code: 'webhook_failed',
      retryable: true,
      retryAfterMs: 7000,
    });
    expect(await thrown(sendWebhook(rx.url, 'run.completed', report, { secret: SECRET, now: () => now }))).toMatchObject({ retryAfterMs: 10_000 });
  });

  it('a receiver that is not listening is a retryable webhook_failed', async () => {
    rx = await receiver();
    const url = rx.url;
    await rx.close();
    rx = undefined;
    expect(await thrown(sendWebhook(url, 'run.completed', report, { secret: SECRET }))).toMatchObject({
      code: 'webhook_failed',
      retryable: true,
      status: undefined,
    });
  });

  it('never logs the secret, the body or the URL query', async () => {
    rx = await receiver([503, 200]);
    let logged = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logged += chunk.toString();
        cb();
      },
    });
    const log = createLogger({ level: 'debug', pretty: false, destination: sink });
    await thrown(sendWebhook(rx.url, 'run.completed', { ...report, note: 'body-marker' }, { secret: SECRET, log }));
    await sendWebhook(rx.url, 'run.completed', { ...report, note: 'body-marker' }, { secret: SECRET, log });
    expect(logged).toContain('webhook delivered');
    expect(logged).toContain('/hooks/omnibatch');
    for (const secret of [SECRET, 'q-secret-77', 'body-marker']) expect(logged).not.toContain(secret);
  });

  it('refuses to send without a secret unless unsigned webhooks are allowed, and says why', async () => {
    rx = await receiver();
    let logged = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logged += chunk.toString();
        cb();
      },
    });
    const log = createLogger({ level: 'info', pretty: false, destination: sink });
    const refused = await sendWebhook(rx.url, 'ping', {}, { log });
    expect(refused).toMatchObject({ delivered: false, refused: 'webhook_unsigned' });
    expect(rx.got).toHaveLength(0);
    expect(logged).toContain('"code":"webhook_unsigned"');

    const result = await sendWebhook(rx.url, 'ping', {}, { allowUnsigned: true, log });
    expect(result.delivered).toBe(true);
    expect(rx.got[0].headers[HEADER.signature]).toBeUndefined();
    expect(logged).toContain('webhook sent unsigned');
  });

  it('refuses a non-http URL or a payload that is not JSON without trying', async () => {
    rx = await receiver();
    expect(await sendWebhook('file:///etc/passwd', 'ping', {}, { secret: SECRET })).toMatchObject({ delivered: false });
    expect(await sendWebhook(rx.url, 'ping', { n: 1n }, { secret: SECRET })).toMatchObject({ delivered: false });
    expect(rx.got).toHaveLength(0);
  });
});

describe('a run naming a notify URL', () => {
  const cfg = (env: Record<string, string> = {}) => loadConfig({ env });
  const req = { source: '/in/', destination: '/out/', task: 'caption', notifyUrl: 'https://hooks.example/omnibatch' };

  it('is refused up front without a secret, with a coded error', () => {
    expect(() => buildRunSpec(req, cfg(), newRunId())).toThrow(expect.objectContaining({ code: 'webhook_unsigned', retryable: false }));
    expect(() => buildRunSpec({ ...req, notifyUrl: 'file:///etc/passwd' }, cfg({ OMNIBATCH_WEBHOOK_SECRET: SECRET }), newRunId())).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });

  it('is accepted with a secret, or with unsigned webhooks allowed by the run or the operator', () => {
    expect(buildRunSpec(req, cfg({ OMNIBATCH_WEBHOOK_SECRET: SECRET }), newRunId()).allowUnsignedWebhooks).toBeUndefined();
    expect(buildRunSpec({ ...req, allowUnsignedWebhooks: true }, cfg(), newRunId()).allowUnsignedWebhooks).toBe(true);
    expect(buildRunSpec(req, cfg({ OMNIBATCH_ALLOW_UNSIGNED_WEBHOOKS: '1' }), newRunId()).notifyUrl).toBe(req.notifyUrl);
    expect(notifyUrlProblem(req.notifyUrl, { secret: SECRET })).toBeUndefined();
  });

  it('`omnibatch run --notify-url` without a secret exits 1 with the code, before anything is queued', async () => {
    const r = await runCli(['run', os.tmpdir(), '--out', path.join(os.tmpdir(), 'never'), '--task', 'caption', '--notify-url', 'http://127.0.0.1:9/hook'], {
      env: {
        OMNIBATCH_PREFIX: `test-whk-${process.pid}`,
        LOG_LEVEL: 'silent',
        OMNIBATCH_WEBHOOK_SECRET: undefined,
        OMNIBATCH_ALLOW_UNSIGNED_WEBHOOKS: undefined,
      },
      timeoutMs: 60_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('webhook_unsigned');
  }, 70_000);
});

describe('webhook decisions', () => {
  it("the notify queue backs off exponentially with equal jitter, capped, unless the receiver's Retry-After says otherwise", () => {
    const job = { opts: QUEUE_POLICY.notify.job };
    expect([1, 2, 3, 4].map((n) => notifyBackoff(n, 'notify', new Error('x'), job, () => 0))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((n) => notifyBackoff(n, 'notify', new Error('x'), job, () => 1))).toEqual([2000, 4000, 8000, 16000]);
    expect(notifyBackoff(30, 'notify', undefined, job, () => 1)).toBe(600_000);
    const later = new OmniError('webhook_failed', '429', { retryAfterMs: 7000 });
    expect(notifyBackoff(1, 'notify', later, job)).toBe(7000);
    expect(notifyBackoff(5, 'notify', new OmniError('webhook_failed', '503', { retryAfterMs: 3_600_000 }), job)).toBe(600_000);
  });

  it('retries network errors, 408, 429 and 5xx only', () => {
    expect(['network', 408, 429, 500, 503].map((s) => shouldRetry(s as number | 'network'))).toEqual([true, true, true, true, true]);
    expect([400, 401, 403, 404, 410, 422, 301].map(shouldRetry)).toEqual([false, false, false, false, false, false, false]);
  });
});
