/**
 * Every request carries the task's output cap, with or without --budget: a recording proxy between the worker
 * and the emulator reads each request body on the wire.
 */

import { mkdir } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { MODELS } from '../../src/models/catalog.ts';
import { outputCapTokens } from '../../src/tasks/catalog.ts';
import { longNameFile } from '../fixtures/hostile/bombs.ts';
import { API_KEY, type Harness, startHarness } from '../helpers/pipeline.ts';

/** Forwards to `target`, keeping each JSON body it passed on. */
async function recordingProxy(target: URL): Promise<{ url: string; bodies: Record<string, unknown>[]; server: Server }> {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      try {
        bodies.push(JSON.parse(body.toString('utf8')) as Record<string, unknown>);
      } catch {
        /* not JSON */
      }
      const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, server };
}

describe('output cap without a budget', () => {
  let h: Harness;
  let upstream: Emulator;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;

  beforeAll(async () => {
    upstream = await startEmulator({ apiKey: API_KEY });
    proxy = await recordingProxy(new URL(upstream.url));
    h = await startHarness({ env: { OMNI_BASE_URL: `${proxy.url}/compatible-mode/v1` } });
    await h.startWorkers();
  });
  afterAll(async () => {
    await h?.close();
    proxy?.server.close();
    await upstream?.close();
  });

  it('a transcribe run with no --budget sends max_tokens on every request, the task cap for its chunk', async () => {
    const src = path.join(h.tmp, 'in');
    await mkdir(src, { recursive: true });
    await longNameFile(src, '.mp3', 12);
    const state = await h.run({ source: src, destination: path.join(h.tmp, 'out'), task: 'transcribe' });
    expect(state.status).toBe('completed');
    expect(state.spec.budgetMicros).toBeUndefined();
    expect(proxy.bodies.length).toBe(1);
    const cap = outputCapTokens('transcribe', 3, MODELS['qwen3-omni-flash'].limits.maxOutputTokens);
    expect(cap).toBeLessThan(MODELS['qwen3-omni-flash'].limits.maxOutputTokens);
    // the chunk is the whole 3 s file (give or take the encoder's frame): 40 + 12 x 3
    expect(proxy.bodies[0].max_tokens).toBeGreaterThanOrEqual(cap - 2);
    expect(proxy.bodies[0].max_tokens).toBeLessThanOrEqual(cap + 2);
  });
});
