/**
 * Issue 19, output hygiene with the requests and names made here: a stranger's object name with terminal
 * escapes is printed and written as visible escapes (CSV, failures.jsonl, JSON); the dashboard's read-only
 * guard holds for `/Queues/...` (Express routes case-insensitively); `omnibatch metrics` and the emulator,
 * both real processes or servers, refuse a Host that is not theirs (DNS rebinding).
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allowedHosts, checkRequest } from '../../src/dashboard/guard.ts';
import { startEmulator } from '../../src/emulator/server.ts';
import { costCsvRow, csvField } from '../../src/outputs/csv.ts';
import { failureLine } from '../../src/outputs/failures.ts';
import { jsonPrintable, printable, UNPRINTABLE_CLASS } from '../../src/util/printable.ts';
import { dropPrefix, offlineEnv, startCli } from '../helpers/cli.ts';

/** A GET with a chosen Host header (fetch would not let us set it). */
function get(port: number, p: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: p, method: 'GET', headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// ESC ] 8 (a hyperlink), CSI 2J (clear screen), a one-byte C1 CSI, a right-to-left override, a newline
const EVIL = 'talk\u001b]8;;https://evil.example\u0007\u001b[2J\u009b31m\u202egnp.exe\n.mp3';
const RAW = new RegExp(UNPRINTABLE_CLASS, 'u');

describe('names with terminal escapes', () => {
  it('are written as visible escapes in CSV, failures.jsonl and printed JSON, and still parse back', () => {
    const row = costCsvRow({ uri: `file:///in/${EVIL}`, status: 'failed' });
    expect(row.slice(0, -1)).not.toMatch(RAW);
    expect(row.split('\n')).toHaveLength(2); // one row: the name's newline is escaped, not a row break
    expect(csvField(EVIL)).toContain('\\x1b]8;;https://evil.example\\x07\\x1b[2J\\x9b31m\\u202egnp.exe\\x0a.mp3');
    const line = failureLine({ uri: `file:///in/${EVIL}`, code: 'media_unreadable', message: `cannot read ${EVIL}` });
    expect(line.slice(0, -1)).not.toMatch(RAW);
    expect(JSON.parse(line).uri).toBe(`file:///in/${EVIL}`);
    expect(JSON.parse(jsonPrintable(JSON.stringify({ k: EVIL }))).k).toBe(EVIL);
    // as printJson writes it: indented, its own newlines kept
    expect(JSON.parse(jsonPrintable(JSON.stringify({ k: EVIL }, null, 2))).k).toBe(EVIL);
    expect(jsonPrintable(JSON.stringify({ k: EVIL }, null, 2))).not.toMatch(/[\u0080-\u009f\u202e]/u);
    expect(printable(EVIL)).not.toMatch(RAW);
  });
});

describe("the dashboard's read-only guard", () => {
  it('refuses a state change under /Queues/... as under /queues/...', () => {
    const policy = { allowedHosts: allowedHosts('127.0.0.1'), auth: {}, allowActions: false, queuesPath: '/queues' };
    const headers = { host: '127.0.0.1:4000', origin: 'http://127.0.0.1:4000' };
    for (const p of ['/queues/api/queues/x/pause', '/Queues/api/queues/x/pause', '/QUEUES/api/queues/x/clean/failed']) {
      expect(checkRequest({ method: 'PUT', path: p, headers }, policy)).toMatchObject({ ok: false, code: 'dashboard_read_only' });
    }
  });
});

describe('Host checks against DNS rebinding', () => {
  const tmp = mkdtemp(path.join(os.tmpdir(), 'hygiene-'));
  afterAll(async () => {
    await rm(await tmp, { recursive: true, force: true });
  });

  it('the emulator answers only its own names', async () => {
    const emu = await startEmulator({});
    try {
      expect((await get(emu.port, '/stats', 'evil.example')).status).toBe(421);
      expect((await get(emu.port, '/stats', `evil.example:${emu.port}`)).status).toBe(421);
      expect((await get(emu.port, '/stats', `127.0.0.1:${emu.port}`)).status).toBe(200);
      expect((await get(emu.port, '/stats', `localhost:${emu.port}`)).status).toBe(200);
    } finally {
      await emu.close();
    }
    const named = await startEmulator({ allowedHosts: ['emulator'] });
    try {
      expect((await get(named.port, '/healthz', 'emulator:8080')).status).toBe(200);
    } finally {
      await named.close();
    }
  });

  it('`omnibatch metrics` refuses a rebound Host and serves its own and --allowed-host names', async () => {
    const env = offlineEnv('hygiene-metrics', await tmp);
    const cli = startCli(['metrics', '--port', '0', '--allowed-host', 'metrics.internal'], { env });
    try {
      const m = await cli.waitFor('stdout', /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/);
      const port = Number(m[1]);
      expect((await get(port, '/metrics', 'evil.example')).status).toBe(421);
      const own = await get(port, '/metrics', `127.0.0.1:${port}`);
      expect(own.status).toBe(200);
      expect(own.body).toContain('omnibatch_queue_jobs');
      expect((await get(port, '/metrics', `metrics.internal:${port}`)).status).toBe(200);
    } finally {
      await cli.stop();
      await dropPrefix(env.OMNIBATCH_PREFIX);
    }
  });
});
