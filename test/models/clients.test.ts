/**
 * Each protocol's client against the emulator over real HTTP on 127.0.0.1: text, text + audio (a valid
 * WAV as long as the emulator's audio tokens say), thinking, usage equal to what the emulator billed,
 * the captioner on a real file, 429 with and without Retry-After, a cut stream, a stall -> timeout. Each
 * protocol sends the names its real endpoint serves: chat the DashScope names, responses DMXAPI's -all
 * names, the native dashscope protocol the captioner only (omni models are refused before sending).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.ts';
import { createClient, type StreamingClient } from '../../src/models/client.ts';
import type { EndpointConfig, ModelRequest, Protocol, Usage } from '../../src/models/types.ts';
import { parseWavHeader } from '../../src/models/wav.ts';
import { failure } from '../helpers/failure.ts';
import { media } from '../helpers/paths.ts';
import { emulatorEndpoint, FLASH_NAME, silentWav } from './helpers.ts';

const KEY = 'test-key-clients';
let emu: Awaited<ReturnType<typeof startEmulator>>;
let dir: string;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY });
  dir = await mkdtemp(path.join(os.tmpdir(), 'omni-clients-'));
});
afterAll(async () => {
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});

const endpoint = (protocol: Protocol, url: string, over: Partial<EndpointConfig> = {}) => emulatorEndpoint(protocol, url, KEY, over);

/** what the emulator billed for one model since the last reset, in our Usage shape */
function billed(model: string): Pick<Usage, 'input' | 'output'> {
  const b = emu.stats().billed[model];
  return { input: b.input, output: b.output };
}

describe.each(['chat', 'responses'] as const)('%s client', (protocol) => {
  const name = FLASH_NAME[protocol];
  let client: StreamingClient;
  beforeAll(() => {
    client = createClient(endpoint(protocol, emu.url));
  });
  afterAll(async () => {
    await client.close();
  });
  beforeEach(() => emu.resetStats());

  it('text: streams deltas to the hook, returns text, usage as billed, finish reason, request id', async () => {
    const deltas: string[] = [];
    const r = await client.complete({ model: name, prompt: 'Say something about rivers.' }, { onText: (t) => deltas.push(t) });
    expect(r.text).toContain('qwen3-omni-flash');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(r.text);
    expect(r.reasoning).toBe('');
    expect(r.audio).toBeUndefined();
    expect(r.finishReason).toBe('stop');
    expect(r.requestId).toBeTruthy();
    expect(r.model).toBe(name);
    expect(r.usage.input.text).toBeGreaterThan(0);
    expect(r.usage.output.text).toBeGreaterThan(0);
    expect({ input: r.usage.input, output: r.usage.output }).toEqual(billed('qwen3-omni-flash'));
    expect(r.usage.inputTotal).toBe(r.usage.input.text);
    expect(r.usage.outputTotal).toBe(r.usage.output.text);
  });

  it('text + audio: the WAV on disk is valid and as long as the audio tokens billed (12.5 per second)', async () => {
    const file = path.join(dir, `${protocol}-speech.wav`);
    const r = await client.complete({
      model: name,
      prompt: 'Read this aloud.',
      audioOut: { voice: 'Cherry', file },
      headers: { 'x-emulator-audio-seconds': '4' },
    });
    const wav = readFileSync(file);
    const h = parseWavHeader(wav);
    expect(h).toBeDefined();
    expect(h!.format).toEqual({ sampleRate: 24_000, channels: 1, bitsPerSample: 16 });
    expect(h!.dataOffset).toBe(44);
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(h!.dataBytes).toBe(wav.length - 44);
    expect(h!.dataBytes).toBe(4 * 24_000 * 2);
    expect(r.audio).toEqual({ file, bytes: 4 * 48_000, seconds: 4 });
    // the PCM length and the billed output audio tokens agree: seconds x 12.5
    expect(r.usage.output.audio).toBe((h!.dataBytes / 48_000) * 12.5);
    expect(r.usage.output.audio).toBe(billed('qwen3-omni-flash').output.audio);
    expect(r.text.length).toBeGreaterThan(0);
  });

  it('thinking mode: reasoning text and usage.output.reasoning', async () => {
    const r = await client.complete({ model: name, prompt: 'Why is the sky blue?', thinking: true });
    expect(r.reasoning.length).toBeGreaterThan(0);
    expect(r.text.length).toBeGreaterThan(0);
    expect(r.reasoning).not.toBe(r.text);
    expect(r.usage.output.reasoning).toBeGreaterThan(0);
    expect(r.usage.output).toEqual(billed('qwen3-omni-flash').output);
    expect(r.usage.outputTotal).toBe(r.usage.output.text + r.usage.output.reasoning);
  });

  it('429 without Retry-After -> rate_limited, retryable, no retryAfterMs', async () => {
    const err = await failure(client.complete({ model: name, prompt: 'x', headers: { 'x-emulator-fault': 'rate_limit' } }));
    expect(err).toMatchObject({ code: 'rate_limited', retryable: true, status: 429 });
    expect(err.retryAfterMs).toBeUndefined();
  });

  it('429 with Retry-After -> rate_limited with retryAfterMs', async () => {
    const err = await failure(client.complete({ model: name, prompt: 'x', headers: { 'x-emulator-fault': 'rate_limit_retry_after' } }));
    expect(err).toMatchObject({ code: 'rate_limited', retryable: true, status: 429, retryAfterMs: 2000 });
  });

  it('a cut stream -> stream_truncated (retryable), no result, no partial WAV left', async () => {
    const file = path.join(dir, `${protocol}-cut.wav`);
    const seen: string[] = [];
    const req: ModelRequest = { model: name, prompt: 'x', audioOut: { voice: 'Cherry', file }, headers: { 'x-emulator-fault': 'cut' } };
    const err = await failure(client.complete(req, { onText: (t) => seen.push(t) }));
    expect(err).toMatchObject({ code: 'stream_truncated', retryable: true });
    expect(seen.length).toBeGreaterThan(0); // it did stream some text before the cut
    expect(existsSync(file)).toBe(false);
  });

  it('an audio file that cannot be written -> audio_write_failed, not retryable', async () => {
    const file = path.join(dir, 'no-such-dir', 'x.wav');
    const err = await failure(client.complete({ model: name, prompt: 'x', audioOut: { voice: 'Cherry', file } }));
    expect(err).toMatchObject({ code: 'audio_write_failed', retryable: false });
  });

  it('a stall -> timeout (idle), retryable', async () => {
    const impatient = createClient(endpoint(protocol, emu.url, { idleTimeoutMs: 300 }));
    try {
      const err = await failure(impatient.complete({ model: name, prompt: 'x', headers: { 'x-emulator-fault': 'stall' } }));
      expect(err).toMatchObject({ code: 'timeout', retryable: true });
      expect(err.details).toMatchObject({ phase: 'idle', ms: 300 });
    } finally {
      await impatient.close();
    }
  });
});

describe('dashscope (native) client', () => {
  let client: StreamingClient;
  let wav: string;
  beforeAll(() => {
    client = createClient(endpoint('dashscope', emu.url));
    wav = path.join(dir, 'silence.wav');
    writeFileSync(wav, silentWav(2));
  });
  afterAll(async () => {
    await client.close();
  });
  beforeEach(() => emu.resetStats());
  const captioner = (headers: Record<string, string> = {}): ModelRequest => ({
    model: 'qwen3-omni-30b-a3b-captioner',
    media: { kind: 'audio', source: { file: wav } },
    headers,
  });

  it('refuses an omni model before sending: Qwen-Omni is OpenAI-compatible only (seeds 001, 004)', async () => {
    const err = await failure(client.complete({ model: 'qwen3-omni-flash', prompt: 'hello' }));
    expect(err).toMatchObject({ code: 'protocol_unsupported', retryable: false });
    expect(err.message).toMatch(/OpenAI-compatible API only/);
    expect(emu.stats().requests).toBe(0);
  });

  it('the captioner: text, audio tokens by duration, usage as billed', async () => {
    const r = await client.complete(captioner());
    expect(r.text).toContain('qwen3-omni-30b-a3b-captioner');
    expect(r.usage.input).toEqual({ text: 0, audio: 25, image: 0, video: 0 });
    expect({ input: r.usage.input, output: r.usage.output }).toEqual(billed('qwen3-omni-30b-a3b-captioner'));
  });

  it('429 with Retry-After, a cut stream, a stall', async () => {
    expect(await failure(client.complete(captioner({ 'x-emulator-fault': 'rate_limit_retry_after' })))).toMatchObject({
      code: 'rate_limited',
      retryable: true,
      status: 429,
      retryAfterMs: 2000,
    });
    expect(await failure(client.complete(captioner({ 'x-emulator-fault': 'cut' })))).toMatchObject({ code: 'stream_truncated', retryable: true });
    const impatient = createClient(endpoint('dashscope', emu.url, { idleTimeoutMs: 300 }));
    try {
      expect(await failure(impatient.complete(captioner({ 'x-emulator-fault': 'stall' })))).toMatchObject({ code: 'timeout', retryable: true });
    } finally {
      await impatient.close();
    }
  });
});

describe.each(['chat', 'dashscope'] as const)('%s: captioner', (protocol) => {
  let client: StreamingClient;
  beforeAll(() => {
    client = createClient(endpoint(protocol, emu.url));
  });
  afterAll(async () => {
    await client.close();
  });
  beforeEach(() => emu.resetStats());

  it('the captioner on a real file: no prompt, audio tokens by duration, English caption', async () => {
    const r = await client.complete({ model: 'qwen3-omni-30b-a3b-captioner', media: { kind: 'audio', source: { file: media('whisper__jfk.flac') } } });
    expect(r.text).toMatch(/^Audio clip, 11\.\d+ s/);
    expect(r.text).toContain('qwen3-omni-30b-a3b-captioner');
    // 11.0 s x 12.5 = 137.5 -> 138 audio tokens; no text sent
    expect(r.usage.input).toEqual({ text: 0, audio: 138, image: 0, video: 0 });
    expect({ input: r.usage.input, output: r.usage.output }).toEqual(billed('qwen3-omni-30b-a3b-captioner'));
  });
});
