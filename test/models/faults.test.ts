/**
 * The error classification against the emulator's faults, over real HTTP, for all three protocols: each
 * forced fault kind -> the expected code / retryable / status / retryAfterMs. Plus what no header can
 * force: the RPM limit, a refused connection, a slow first byte, the caller's abort.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.ts';
import { createClient, type StreamingClient } from '../../src/models/client.ts';
import type { EndpointConfig, ModelRequest, Protocol } from '../../src/models/types.ts';
import { failure } from '../helpers/failure.ts';
import { emulatorEndpoint, silentWav } from './helpers.ts';

// What each protocol's endpoint serves: DashScope chat names, DMXAPI's -all names, and on the native
// protocol only the captioner (audio, no prompt).
const WAV = path.join(mkdtempSync(path.join(os.tmpdir(), 'omni-faults-')), 'silence.wav');
writeFileSync(WAV, silentWav(1));
function base(protocol: Protocol): ModelRequest {
  if (protocol === 'dashscope') return { model: 'qwen3-omni-30b-a3b-captioner', media: { kind: 'audio', source: { file: WAV } } };
  return { model: protocol === 'responses' ? 'qwen3-omni-flash-all' : 'qwen3-omni-flash', prompt: 'hello' };
}

const KEY = 'test-key-faults';
const PROTOCOLS = ['chat', 'responses', 'dashscope'] as const;

const endpoint = (protocol: Protocol, url: string, over: Partial<EndpointConfig> = {}) => emulatorEndpoint(protocol, url, KEY, { idleTimeoutMs: 400, ...over });

interface Expect {
  code: string;
  retryable: boolean;
  status?: number | 'any';
  retryAfterMs?: number;
}

/** status 'any': an in-stream error after HTTP 200 carries the frame's status only where the protocol has one (native). */
const FAULTS: Record<string, Expect> = {
  server_error: { code: 'server_error', retryable: true, status: 500 },
  unavailable: { code: 'server_error', retryable: true, status: 503 },
  rate_limit: { code: 'rate_limited', retryable: true, status: 429 },
  rate_limit_retry_after: { code: 'rate_limited', retryable: true, status: 429, retryAfterMs: 2000 },
  quota: { code: 'quota_exceeded', retryable: true, status: 429 },
  auth: { code: 'auth', retryable: false, status: 401 },
  arrears: { code: 'arrears', retryable: false, status: 400 },
  bad_request: { code: 'service_invalid_request', retryable: false, status: 400 },
  too_large: { code: 'input_too_large', retryable: false, status: 413 },
  model_not_found: { code: 'model_not_found', retryable: false, status: 404 },
  inspect_input: { code: 'content_blocked', retryable: false, status: 400 },
  cut: { code: 'stream_truncated', retryable: true, status: 'any' },
  stall: { code: 'timeout', retryable: true, status: 'any' },
  inspect_output: { code: 'content_blocked', retryable: false, status: 'any' },
  stream_rate_limit: { code: 'quota_exceeded', retryable: true, status: 'any' },
};

let emu: Awaited<ReturnType<typeof startEmulator>>;
beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY });
});
afterAll(async () => {
  await emu?.close();
});

describe.each(PROTOCOLS)('%s: forced faults', (protocol) => {
  let client: StreamingClient;
  beforeAll(() => {
    client = createClient(endpoint(protocol, emu.url));
  });
  afterAll(async () => {
    await client.close();
  });

  it.each(Object.entries(FAULTS))('%s', async (kind, want) => {
    const err = await failure(client.complete({ ...base(protocol), headers: { 'x-emulator-fault': kind } }));
    expect(err.code).toBe(want.code);
    expect(err.retryable).toBe(want.retryable);
    if (want.status !== 'any') expect(err.status).toBe(want.status);
    expect(err.retryAfterMs).toBe(want.retryAfterMs);
    if (['rate_limit', 'rate_limit_retry_after', 'quota', 'auth', 'arrears', 'inspect_input', 'stream_rate_limit'].includes(kind)) {
      expect(err.providerCode).toBeTruthy();
    }
    // the key never leaks into what gets logged
    expect(JSON.stringify(err)).not.toContain(KEY);
    expect(err.message).not.toContain(KEY);
  });

  it('a wrong key is auth, not retryable', async () => {
    const other = createClient({ ...endpoint(protocol, emu.url), apiKey: 'wrong' });
    try {
      expect(await failure(other.complete(base(protocol)))).toMatchObject({ code: 'auth', retryable: false, status: 401 });
    } finally {
      await other.close();
    }
  });

  it('an unknown model is model_not_found', async () => {
    expect(await failure(client.complete({ model: 'qwen-nonexistent', prompt: 'x' }))).toMatchObject({ code: 'model_not_found', retryable: false });
  });
});

describe('beyond forced faults', () => {
  it('the RPM limit -> rate_limited with the Retry-After the server sent', async () => {
    const limited = await startEmulator({ apiKey: KEY, rpm: 1, retryAfterS: 5 });
    const client = createClient(endpoint('chat', limited.url));
    try {
      await client.complete({ model: 'qwen3-omni-flash', prompt: 'first' });
      const err = await failure(client.complete({ model: 'qwen3-omni-flash', prompt: 'second' }));
      expect(err).toMatchObject({ code: 'rate_limited', retryable: true, status: 429, retryAfterMs: 5000, providerCode: 'limit_requests' });
    } finally {
      await client.close();
      await limited.close();
    }
  });

  it('a refused connection -> connection, retryable', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const client = createClient(endpoint('chat', `http://127.0.0.1:${port}`));
    try {
      expect(await failure(client.complete({ model: 'qwen3-omni-flash', prompt: 'x' }))).toMatchObject({ code: 'connection', retryable: true });
    } finally {
      await client.close();
    }
  });

  it.each(PROTOCOLS)('%s: a slow first byte -> timeout (first byte)', async (protocol) => {
    const slow = await startEmulator({ apiKey: KEY, ttfbMs: 5000 });
    const client = createClient(endpoint(protocol, slow.url, { firstByteTimeoutMs: 300, idleTimeoutMs: 10_000 }));
    try {
      const err = await failure(client.complete(base(protocol)));
      expect(err).toMatchObject({ code: 'timeout', retryable: true, details: { phase: 'first byte', ms: 300 } });
    } finally {
      await client.close();
      await slow.close();
    }
  });

  it('the caller aborting mid-stream -> aborted (retryable: the job goes back to the queue, which finds a stopped run stopped), no result', async () => {
    const client = createClient(endpoint('chat', emu.url, { idleTimeoutMs: 10_000 }));
    const ac = new AbortController();
    try {
      // the stall keeps the stream open; the first text delta triggers the abort
      const err = await failure(
        client.complete(
          { model: 'qwen3-omni-flash', prompt: 'x', signal: ac.signal, headers: { 'x-emulator-fault': 'stall' } },
          { onText: () => ac.abort(new Error('user pressed ^C')) },
        ),
      );
      expect(err).toMatchObject({ code: 'aborted', retryable: true });
      expect(err.message).toContain('user pressed ^C');
    } finally {
      await client.close();
    }
  });
});
