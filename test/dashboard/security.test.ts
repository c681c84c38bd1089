/**
 * The dashboard as an attacker meets it: real Redis (own prefix), the real express server on a free port,
 * raw HTTP requests with forged Host/Origin headers (node:http, since fetch will not forge Host).
 */

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Context, createContext } from '../../src/app/context.ts';
import { loadConfig } from '../../src/config/index.ts';
import { allowedHosts, checkRequest, hostName, isLoopback } from '../../src/dashboard/guard.ts';
import { startDashboard } from '../../src/dashboard/server.ts';
import { queueName } from '../../src/jobs/queues.ts';
import type { RunningServer } from '../../src/ops/http.ts';
import { isOmniError } from '../../src/util/errors.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { dropKeys } from '../helpers/redis.ts';

const prefix = `test-dashsec-${randomUUID().slice(0, 8)}`;
let ctx: Context;
const servers: RunningServer[] = [];

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function request(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        data += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function start(opts: Parameters<typeof startDashboard>[1]): Promise<RunningServer> {
  const s = await startDashboard(ctx, opts);
  servers.push(s);
  return s;
}

const infer = queueName('infer');
const isPaused = () => ctx.queues.infer.isPaused();
const jobCount = async () => Object.values(await ctx.queues.infer.getJobCounts()).reduce((a, b) => a + b, 0);

beforeAll(() => {
  ctx = createContext(loadConfig({ flags: { queuePrefix: prefix, logLevel: 'silent' } }), silentLogger);
});

afterAll(async () => {
  for (const s of servers) await s.close();
  if (ctx) {
    await ctx.queues.infer.resume();
    await dropKeys(ctx.redis, prefix);
    await ctx.close();
  }
});

describe('dashboard access', () => {
  it('refuses a Host it does not answer to (DNS rebinding): a PUT with Host: evil.example pauses nothing', async () => {
    const s = await start({ port: 0, host: '127.0.0.1', allowActions: true });
    const evil = { host: `evil.example:${s.port}`, origin: `http://evil.example:${s.port}` };
    const put = await request(s.port, 'PUT', `/queues/api/queues/${infer}/pause`, evil);
    expect(put.status).toBe(421);
    expect(JSON.parse(put.body).error).toBe('host_not_allowed');
    expect(await isPaused()).toBe(false);
    // a GET through a rebound name is refused too: nothing leaks to the foreign page
    expect((await request(s.port, 'GET', '/api/runs', { host: 'evil.example' })).status).toBe(421);
    // the dashboard's own name still works
    expect((await request(s.port, 'GET', '/api/runs')).status).toBe(200);
    expect((await request(s.port, 'GET', '/api/runs', { host: `localhost:${s.port}` })).status).toBe(200);
  });

  it('refuses a cross-site text/plain POST (no preflight needed) and a mutation without an Origin', async () => {
    const s = await start({ port: 0, host: '127.0.0.1', allowActions: true });
    const before = await jobCount();
    const body = JSON.stringify({ name: 'evil', data: { x: 1 } });
    const cross = await request(s.port, 'POST', `/queues/api/queues/${infer}/add`, { origin: 'http://evil.example', 'content-type': 'text/plain' }, body);
    expect(cross.status).toBe(403);
    expect(JSON.parse(cross.body).error).toBe('csrf_origin_mismatch');
    const none = await request(s.port, 'PUT', `/queues/api/queues/${infer}/pause`);
    expect(none.status).toBe(403);
    // same host name, other port: another origin
    const otherPort = await request(s.port, 'PUT', `/queues/api/queues/${infer}/pause`, { origin: `http://127.0.0.1:${s.port + 1}` });
    expect(otherPort.status).toBe(403);
    expect(await jobCount()).toBe(before);
    expect(await isPaused()).toBe(false);

    // with --allow-actions, the dashboard's own page may act
    const own = await request(s.port, 'PUT', `/queues/api/queues/${infer}/pause`, { origin: `http://127.0.0.1:${s.port}` });
    expect(own.status).toBe(200);
    expect(await isPaused()).toBe(true);
    await ctx.queues.infer.resume();
  });

  it('is read-only by default: same-origin mutations are refused and Bull Board reports read-only queues', async () => {
    const s = await start({ port: 0, host: '127.0.0.1' });
    const own = { origin: `http://127.0.0.1:${s.port}`, 'content-type': 'application/json' };
    const before = await jobCount();
    const pause = await request(s.port, 'PUT', `/queues/api/queues/${infer}/pause`, own);
    expect(pause.status).toBe(405);
    expect(JSON.parse(pause.body).error).toBe('dashboard_read_only');
    const add = await request(s.port, 'POST', `/queues/api/queues/${infer}/add`, own, JSON.stringify({ name: 'x', data: {} }));
    expect(add.status).toBe(405);
    expect(await isPaused()).toBe(false);
    expect(await jobCount()).toBe(before);
    // reading still works, and the board itself knows it is read-only (no buttons)
    const list = await request(s.port, 'GET', '/queues/api/queues');
    expect(list.status).toBe(200);
    const queues = (JSON.parse(list.body) as { queues: { name: string; readOnlyMode: boolean }[] }).queues;
    expect(queues.length).toBeGreaterThan(0);
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
  });

  it('refuses to listen beyond loopback without credentials, and demands them when it has them', async () => {
    const err = await startDashboard(ctx, { port: 0, host: '0.0.0.0' }).catch((e: unknown) => e);
    expect(isOmniError(err) && err.code).toBe('dashboard_auth_required');

    const token = `tok-${randomUUID()}`;
    const s = await start({ port: 0, host: '0.0.0.0', auth: { token } });
    const anon = await request(s.port, 'GET', '/api/runs');
    expect(anon.status).toBe(401);
    expect(anon.headers['www-authenticate']).toMatch(/^Basic/);
    expect((await request(s.port, 'GET', '/api/runs', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await request(s.port, 'GET', '/api/runs', { authorization: `Bearer ${token}` })).status).toBe(200);
    const basic = Buffer.from(`anyone:${token}`).toString('base64');
    expect((await request(s.port, 'GET', '/api/runs', { authorization: `Basic ${basic}` })).status).toBe(200);

    const b = await start({ port: 0, host: '0.0.0.0', auth: { basic: 'ops:s3cret' } });
    expect((await request(b.port, 'GET', '/', { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` })).status).toBe(200);
    expect((await request(b.port, 'GET', '/', { authorization: `Basic ${Buffer.from('ops:nope').toString('base64')}` })).status).toBe(401);
  });
});

describe('guard decisions (pure)', () => {
  const policy = { allowedHosts: allowedHosts('127.0.0.1', ['board.internal']), auth: {}, allowActions: true, queuesPath: '/queues' };
  const req = (method: string, headers: Record<string, string>) => checkRequest({ method, path: '/queues/api/x', headers }, policy);

  it('knows loopback and host names', () => {
    expect(['127.0.0.1', '127.3.2.1', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', 'evil.example', '127.0.0.1.nip.io'].some(isLoopback)).toBe(false);
    expect(hostName('Board.Internal:8080')).toBe('board.internal');
    expect(hostName('[::1]:3000')).toBe('::1');
  });

  it('lets configured names in, keeps rebound names and foreign origins out', () => {
    expect(req('GET', { host: 'board.internal:3000' })).toEqual({ ok: true });
    expect(req('PUT', { host: 'board.internal:3000', origin: 'http://board.internal:3000' })).toEqual({ ok: true });
    expect(req('PUT', { host: 'board.internal:3000', referer: 'http://board.internal:3000/queues/' })).toEqual({ ok: true });
    expect(req('PUT', { host: 'board.internal:3000', origin: 'null' })).toMatchObject({ ok: false, code: 'csrf_origin_mismatch' });
    expect(req('PUT', { host: 'board.internal:3000', origin: 'http://127.0.0.1:3000' })).toMatchObject({ ok: false, code: 'csrf_origin_mismatch' });
    expect(req('GET', { host: 'attacker.test' })).toMatchObject({ ok: false, status: 421 });
    expect(req('GET', {})).toMatchObject({ ok: false, status: 421 });
  });
});
