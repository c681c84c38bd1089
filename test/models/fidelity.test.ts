/**
 * Issue 11: where the clients and the emulator agreed with each other but not with the real services as the
 * seed documents describe them. One block per item; each asserts the seed's behaviour on both sides (our
 * client or catalogue, and the emulator standing in for the service), over real HTTP where a wire is involved.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { estimateChunkCost, estimateRun, outputBound } from '../../src/cost/estimate.ts';
import { costOf, resolvePrices, usageCost } from '../../src/cost/price.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { ffprobeJson } from '../../src/media/ffmpeg.ts';
import { checkVoice, findModel, MODELS, serves } from '../../src/models/catalog.ts';
import { createClient, type StreamingClient } from '../../src/models/client.ts';
import { classifyError } from '../../src/models/errors.ts';
import { buildBody } from '../../src/models/request.ts';
import { normalizeUsage } from '../../src/models/stream.ts';
import { textTokens } from '../../src/models/tokens.ts';
import type { Protocol, Usage } from '../../src/models/types.ts';
import { parseWavHeader } from '../../src/models/wav.ts';
import { buildResult } from '../../src/outputs/result.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { TASK_SPECS } from '../../src/tasks/catalog.ts';
import type { OmniError } from '../../src/util/errors.ts';
import { failure } from '../helpers/failure.ts';
import { makeSeedVideo, seedSpeech, sendSeed } from '../helpers/seed-requests.ts';
import { emulatorEndpoint, silentWav } from './helpers.ts';

const KEY = 'sk-fidelity';
let emu: Emulator;
let dir: string;
let wav: string;

const endpoint = (protocol: Protocol, url = emu.url) => emulatorEndpoint(protocol, url, KEY);
/** The seeds' spoken request for `model` in `voice` (`extra` replacing parts of it), sent to the emulator over `protocol`. */
const speak = (protocol: 'chat' | 'responses', model: string, voice: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  sendSeed(emu.url, protocol, seedSpeech(protocol, model, voice, extra), { key: KEY, headers });
async function withClient<T>(protocol: Protocol, f: (c: StreamingClient) => Promise<T>, url?: string): Promise<T> {
  const c = createClient(endpoint(protocol, url));
  try {
    return await f(c);
  } finally {
    await c.close();
  }
}

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY });
  dir = await mkdtemp(path.join(os.tmpdir(), 'omni-fidelity-'));
  wav = path.join(dir, 'silence.wav');
  await writeFile(wav, silentWav(4));
});
afterAll(async () => {
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('1. the model name is sent as given', () => {
  it('a run keeps the -all name, a snapshot and an alias; the catalogue entry only supplies limits and prices', () => {
    const responses = loadConfig({ env: { OMNI_PROTOCOL: 'responses' } });
    const chat = loadConfig({ env: {} });
    expect(buildRunSpec({ source: 'x', destination: 'y', task: 'transcribe', model: 'qwen3-omni-flash-all' }, responses, newRunId()).model).toBe(
      'qwen3-omni-flash-all',
    );
    expect(buildRunSpec({ source: 'x', destination: 'y', task: 'transcribe', model: 'qwen3.5-omni-plus-all' }, responses, newRunId()).model).toBe(
      'qwen3.5-omni-plus-all',
    );
    expect(buildRunSpec({ source: 'x', destination: 'y', task: 'transcribe', model: 'qwen3-omni-flash-2025-09-15' }, chat, newRunId()).model).toBe(
      'qwen3-omni-flash-2025-09-15',
    );
    // A task's default model goes by the name the protocol's endpoint serves.
    expect(buildRunSpec({ source: 'x', destination: 'y', task: 'transcribe' }, responses, newRunId()).model).toBe('qwen3-omni-flash-all');
    expect(buildRunSpec({ source: 'x', destination: 'y', task: 'transcribe' }, chat, newRunId()).model).toBe('qwen3-omni-flash');
    for (const alias of ['qwen-omni-turbo-2025-01-19', 'qwen-omni-turbo-0119', 'qwen-omni-turbo-latest']) expect(findModel(alias)?.id).toBe('qwen-omni-turbo');
    expect(findModel('qwen3-omni-flash-0915')?.id).toBe('qwen3-omni-flash');
    // The result records both names.
    const doc = buildResult({
      source: { uri: 'a', key: 'a', etag: 'e', size: 1, durationS: 1 },
      task: 'transcribe',
      model: 'qwen3-omni-flash-all',
      modelId: findModel('qwen3-omni-flash-all')!.id,
      protocol: 'responses',
      region: 'intl',
      fingerprint: 'f',
      chunks: [
        {
          index: 0,
          startS: 0,
          endS: 1,
          text: 't',
          usage: { input: { text: 1, audio: 0, image: 0, video: 0 }, output: { text: 1, audio: 0, reasoning: 0 }, inputTotal: 1, outputTotal: 1 },
          cost: { amountMicros: 0, currency: 'USD', priced: true },
          attempts: 1,
        },
      ],
      text: 't',
      outputs: [],
      createdAt: '2026-01-01T00:00:00Z',
    });
    expect(doc).toMatchObject({ model: 'qwen3-omni-flash-all', model_id: 'qwen3-omni-flash' });
  });

  it('the emulator serves each name only on its own endpoint: 404 model_not_found elsewhere', async () => {
    expect(serves('qwen3-omni-flash-all', 'responses')).toBe(true);
    expect(serves('qwen3-omni-flash-all', 'chat')).toBe(false);
    const dmx = await speak('responses', 'qwen3-omni-flash', 'Serena');
    expect(dmx.status).toBe(404);
    expect(await dmx.json()).toMatchObject({ error: { code: 'model_not_found' } });
    expect((await speak('chat', 'qwen3-omni-flash-all', 'Cherry')).status).toBe(404);
    expect((await speak('chat', 'qwen-omni-turbo-0119', 'Cherry')).status).toBe(200);
    // The client sends the name unchanged; the reply echoes it.
    const r = await withClient('responses', (c) => c.complete({ model: 'qwen3-omni-flash-all', prompt: '你是谁?' }));
    expect(r.model).toBe('qwen3-omni-flash-all');
    const e = await withClient('responses', (c) => failure(c.complete({ model: 'qwen3-omni-flash', prompt: 'x' })));
    expect(e).toMatchObject({ code: 'model_not_found', status: 404, retryable: false });
  });
});

describe('2. a 4xx is never a server error; an input overflow re-plans', () => {
  it('classifies by HTTP status first, then by code and message', () => {
    const overflow = classifyError({
      status: 400,
      body: { code: 'InternalError.Algo.InvalidParameter', message: 'Range of input length should be [1, 49152]' },
    });
    expect(overflow).toMatchObject({ code: 'input_too_large', retryable: false, providerCode: 'InternalError.Algo.InvalidParameter' });
    expect(classifyError({ status: 400, body: { code: 'InternalError.Algo.InvalidParameter', message: 'Input should be a valid voice' } })).toMatchObject({
      code: 'service_invalid_request',
      retryable: false,
    });
    expect(classifyError({ status: 400, body: { code: 'InternalError', message: 'bad input' } })).toMatchObject({
      code: 'service_invalid_request',
      retryable: false,
    });
    expect(
      classifyError({ inStream: true, body: { code: 'InternalError.Algo.InvalidParameter', message: 'Range of input length should be [1, 30720]' } }),
    ).toMatchObject({ code: 'input_too_large', retryable: false });
    expect(classifyError({ status: 500, body: { code: 'InternalError', message: 'An internal error has occured' } })).toMatchObject({
      code: 'server_error',
      retryable: true,
    });
  });

  it('the emulator answers an overflow with the real envelope on every protocol, and the client makes it input_too_large', async () => {
    const tight = await startEmulator({ apiKey: KEY, maxInputTokens: 40 });
    try {
      const native = await fetch(`${tight.url}/api/v1/services/aigc/multimodal-generation/generation`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'qwen3-omni-30b-a3b-captioner',
          input: { messages: [{ role: 'user', content: [{ audio: `data:;base64,${silentWav(4).toString('base64')}` }] }] },
        }),
      });
      expect(native.status).toBe(400);
      expect(await native.json()).toMatchObject({ code: 'InternalError.Algo.InvalidParameter', message: 'Range of input length should be [1, 40]' });
      const dmx = await fetch(`${tight.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: KEY, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'qwen3-omni-flash-all',
          stream: true,
          input: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: `data:;base64,${silentWav(4).toString('base64')}` } }] }],
        }),
      });
      expect(dmx.status).toBe(400);
      expect(await dmx.json()).toMatchObject({ error: { code: 'InternalError.Algo.InvalidParameter', message: 'Range of input length should be [1, 40]' } });
      for (const protocol of ['chat', 'responses', 'dashscope'] as const) {
        const model = protocol === 'dashscope' ? 'qwen3-omni-30b-a3b-captioner' : protocol === 'responses' ? 'qwen3-omni-flash-all' : 'qwen3-omni-flash';
        const err = await withClient(protocol, (c) => failure(c.complete({ model, media: { kind: 'audio', source: { file: wav } } })), tight.url);
        expect(err).toMatchObject({ code: 'input_too_large', retryable: false, status: 400 });
      }
    } finally {
      await tight.close();
    }
  });
});

describe("2b. bad parameters in the algorithm layer's envelope are permanent request errors", () => {
  it('over DMXAPI (relayed InternalError.Algo.InvalidParameter) and compat, a refused voice or system message is service_invalid_request', async () => {
    const voice = await speak('responses', 'qwen3-omni-flash-all', 'Nobody');
    expect(voice.status).toBe(400);
    expect(await voice.json()).toMatchObject({
      error: { code: 'InternalError.Algo.InvalidParameter', message: 'Voice Nobody is not supported by qwen3-omni-flash-all.' },
    });
    const file = path.join(dir, 'never.wav');
    const err = await withClient('responses', (c) => failure(c.complete({ model: 'qwen3-omni-flash-all', prompt: 'x', audioOut: { voice: 'Nobody', file } })));
    expect(err).toMatchObject({ code: 'service_invalid_request', retryable: false, status: 400, providerCode: 'InternalError.Algo.InvalidParameter' });
    const compat = await speak('chat', 'qwen-omni-turbo', 'Cherry', {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(await compat.json()).toMatchObject({
      error: {
        code: 'invalid_parameter_error',
        message: '<400> InternalError.Algo.InvalidParameter: A system message is not supported when audio output is requested.',
      },
    });
  });
});

describe("3. voices come from each name's seed", () => {
  it('documented voices pass; an unknown one warns unless the seed closes the list', () => {
    expect(checkVoice('qwen3-omni-flash-all', 'Serena')).toEqual({ ok: true });
    expect(checkVoice('qwen3-omni-flash-all', 'Eldric Sage')).toEqual({ ok: true });
    expect(checkVoice('qwen3.5-omni-plus-all', 'Tina')).toEqual({ ok: true });
    expect(checkVoice('qwen3.5-omni-plus-all', 'Aurora')).toMatchObject({ ok: false, refuse: false });
    expect(checkVoice('qwen-omni-turbo', 'Tina')).toMatchObject({ ok: false, refuse: true });
    const cfg = loadConfig({ env: { OMNI_PROTOCOL: 'responses' } });
    const warnings: string[] = [];
    const spec = buildRunSpec(
      { source: 'x', destination: 'y', task: 'speak', model: 'qwen3.5-omni-plus-all', voice: 'Aurora' },
      cfg,
      newRunId(),
      new Date(),
      (m) => warnings.push(m),
    );
    expect(spec.voice).toBe('Aurora');
    expect(warnings.join()).toMatch(/not documented for qwen3\.5-omni-plus-all on the responses protocol \(6 of its 55 voices/);
    expect(buildRunSpec({ source: 'x', destination: 'y', task: 'speak', model: 'qwen3-omni-flash-all', voice: 'Serena' }, cfg, newRunId()).voice).toBe(
      'Serena',
    );
    expect(buildRunSpec({ source: 'x', destination: 'y', task: 'speak', model: 'qwen3.5-omni-plus-all' }, cfg, newRunId()).voice).toBe('Tina');
  });

  it("the emulator takes the seeds' voices and refuses where its list is complete", async () => {
    expect((await speak('responses', 'qwen3-omni-flash-all', 'Serena')).status).toBe(200);
    expect((await speak('responses', 'qwen3-omni-flash-all', 'Radio Gol')).status).toBe(200);
    expect((await speak('responses', 'qwen3.5-omni-plus-all', 'Tina')).status).toBe(200);
    expect((await speak('responses', 'qwen3.5-omni-plus-all', 'Aurora')).status).toBe(200); // 49 of 55 unknown to us
    expect((await speak('chat', 'qwen-omni-turbo', 'Tina')).status).toBe(400);
    expect((await speak('chat', 'qwen3-omni-flash', 'Serena')).status).toBe(400); // not among DashScope's 17
  });
});

describe('4. the responses protocol joins every audio part', () => {
  it('a spoken answer split over three output_item.done events arrives whole in the WAV', async () => {
    const raw = await (
      await speak('responses', 'qwen3-omni-flash-all', 'Serena', {}, { 'x-emulator-audio-parts': '3', 'x-emulator-audio-seconds': '3' })
    ).text();
    expect(raw.match(/"output_audio"/g)).toHaveLength(3);
    const file = path.join(dir, 'joined.wav');
    const r = await withClient('responses', (c) =>
      c.complete({
        model: 'qwen3-omni-flash-all',
        prompt: '你是谁?',
        audioOut: { voice: 'Serena', file },
        headers: { 'x-emulator-audio-parts': '3', 'x-emulator-audio-seconds': '3' },
      }),
    );
    expect(r.audio).toEqual({ file, bytes: 3 * 48_000, seconds: 3 });
    expect(parseWavHeader(await readFile(file))!.dataBytes).toBe(3 * 48_000);
  });
});

describe("5. an unsplit usage: a video's sound is audio, both output parts are priced, the split is marked inferred", () => {
  const ctx = { model: 'qwen3-omni-flash-all', promptText: 'Describe it.', audioTokensPerSecond: 12.5 };
  it('infers the split from the request and the audio received', () => {
    const u = normalizeUsage({ inputTotal: 2624, input: {}, outputTotal: 1708, output: {} }, { ...ctx, mediaKind: 'video', mediaSeconds: 10 }, 20);
    expect(u.input).toEqual({ text: 3, audio: 125, image: 0, video: 2624 - 3 - 125 });
    expect(u.output).toEqual({ text: 1708 - 250, audio: 250, reasoning: 0 });
    expect(u.inferred).toBe(true);
    // A reported split is not inferred.
    expect(normalizeUsage({ inputTotal: 10, input: { text: 10 }, outputTotal: 5, output: { text: 5 } }, ctx).inferred).toBeUndefined();
  });

  it('prices the inferred text output even beside audio; a reported split keeps the text free', () => {
    const prices = resolvePrices('qwen3-omni-flash', 'intl')!;
    const base: Usage = {
      input: { text: 0, audio: 100, image: 0, video: 0 },
      output: { text: 1000, audio: 250, reasoning: 0 },
      inputTotal: 100,
      outputTotal: 1250,
    };
    const reported = usageCost(base, prices).amountMicros;
    const inferred = usageCost({ ...base, inferred: true }, prices).amountMicros;
    expect(inferred - reported).toBe(Math.round((1000 * prices.outputTextMultimodal!) / 1e6));
  });

  it("over DMXAPI, a video chunk's audio track is billed as audio, as the emulator billed it", async () => {
    const video = path.join(dir, 'clip.mp4');
    await makeSeedVideo(video, 440);
    const seconds = Number(((await ffprobeJson(video)).format as { duration: string }).duration);
    emu.resetStats();
    const r = await withClient('responses', (c) =>
      c.complete({ model: 'qwen3-omni-flash-all', prompt: 'Describe it.', media: { kind: 'video', source: { file: video }, seconds } }),
    );
    const billed = emu.stats().billed['qwen3-omni-flash'];
    expect(billed.input.audio).toBeGreaterThan(0);
    expect(r.usage.input).toEqual(billed.input);
    expect(r.usage.inferred).toBe(true);
  });
});

describe('6. the native protocol carries the captioner only', () => {
  it('a run refuses --protocol dashscope for an omni model, with a clear message', () => {
    const cfg = loadConfig({ env: { OMNI_PROTOCOL: 'dashscope' } });
    const err = (() => {
      try {
        buildRunSpec({ source: 'x', destination: 'y', task: 'transcribe', model: 'qwen3-omni-flash' }, cfg, newRunId());
      } catch (e) {
        return e as OmniError;
      }
    })();
    expect(err).toMatchObject({ code: 'protocol_unsupported' });
    expect(err!.message).toMatch(/OpenAI-compatible API only.*qwen3-omni-30b-a3b-captioner/);
    expect(buildRunSpec({ source: 'x', destination: 'y', task: 'caption' }, cfg, newRunId()).model).toBe('qwen3-omni-30b-a3b-captioner');
  });
});

describe("7. spoken-output estimates follow each model's audio token rate", () => {
  it('turbo (25/s) reserves twice the audio tokens of flash (12.5/s) for the same text', () => {
    const opts = { region: 'cn' as const, task: 'speak' as const };
    const flash = estimateRun([{ durationS: 30 }], { ...opts, model: 'qwen3-omni-flash' });
    const turbo = estimateRun([{ durationS: 30 }], { ...opts, model: 'qwen-omni-turbo' });
    // speak's expected prior is 80 text tokens: 80 x 10/3 and 80 x 20/3 audio tokens.
    expect(flash.output.expected).toBe(80 + Math.ceil((80 * 10) / 3));
    expect(turbo.output.expected).toBe(80 + Math.ceil((80 * 20) / 3));
    // A capped budget reservation: 300 text tokens are 2,000 audio tokens on turbo (the text itself is free beside audio).
    const capped = estimateChunkCost(30, { ...opts, model: 'qwen-omni-turbo', audioOut: true, maxOutputTokens: 300 });
    const prices = resolvePrices('qwen-omni-turbo', 'cn')!;
    const scaled = textTokens(TASK_SPECS.speak.prompt!) * prices.inputText! + 30 * 25 * prices.inputAudio! + 2000 * prices.outputAudio!;
    expect(capped.amountMicros).toBe(Math.round(scaled / 1e6));
  });
});

describe("8. the captioner's template text tokens are priced", () => {
  it('an emulator that reports template tokens leaves the chunk priced', async () => {
    const templ = await startEmulator({ apiKey: KEY, templateTextTokens: 17 });
    try {
      for (const protocol of ['chat', 'dashscope'] as const) {
        const r = await withClient(
          protocol,
          (c) => c.complete({ model: 'qwen3-omni-30b-a3b-captioner', media: { kind: 'audio', source: { file: wav } } }),
          templ.url,
        );
        expect(r.usage.input).toEqual({ text: 17, audio: 50, image: 0, video: 0 });
        const cost = costOf(r.usage, 'qwen3-omni-30b-a3b-captioner', 'intl');
        expect(cost.priced).toBe(true);
        expect(cost.amountMicros).toBe(Math.round((67 * 3_810_000 + r.usage.output.text * 3_060_000) / 1e6));
      }
    } finally {
      await templ.close();
    }
  });
});

describe('9. no system message beside audio where the seed forbids it', () => {
  it('the emulator refuses it for turbo and qwen3.5-omni-plus, accepts it for qwen3-omni-flash', async () => {
    const sys = [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: '你是谁?' },
    ];
    expect((await speak('responses', 'qwen3.5-omni-plus-all', 'Tina', { input: sys })).status).toBe(400);
    expect((await speak('chat', 'qwen-omni-turbo', 'Cherry', { messages: sys })).status).toBe(400);
    expect((await speak('chat', 'qwen3-omni-flash', 'Cherry', { messages: sys })).status).toBe(200);
    expect((await speak('responses', 'qwen3.5-omni-plus-all', 'Tina', { input: sys, modalities: ['text'], audio: undefined })).status).toBe(200);
  });

  it('the client moves the role into an opening user/assistant pair there (001:1433), and the request is accepted', async () => {
    const body = buildBody('responses', { model: 'qwen3.5-omni-plus-all', system: 'Be brief.', prompt: 'Hi', audioOut: { voice: 'Tina', file: 'x.wav' } });
    expect((body.input as { role: string }[]).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(
      (
        buildBody('chat', { model: 'qwen3-omni-flash', system: 'Be brief.', prompt: 'Hi', audioOut: { voice: 'Cherry', file: 'x.wav' } }).messages as {
          role: string;
        }[]
      )[0].role,
    ).toBe('system');
    const file = path.join(dir, 'plus.wav');
    const r = await withClient('responses', (c) =>
      c.complete({ model: 'qwen3.5-omni-plus-all', system: 'Be brief.', prompt: 'Hi', audioOut: { voice: 'Tina', file } }),
    );
    expect(r.audio?.seconds).toBeGreaterThan(0);
  });
});

describe('10. DMXAPI: any 2xx SSE is a stream; no output cap is relied on', () => {
  it('reads a 2xx stream whatever its content type; a 2xx JSON envelope is still an error', async () => {
    const plain = await startEmulator({ apiKey: KEY, streamContentType: 'text/plain; charset=utf-8' });
    try {
      const r = await withClient('responses', (c) => c.complete({ model: 'qwen3-omni-flash-all', prompt: 'hi' }), plain.url);
      expect(r.text).toContain('qwen3-omni-flash');
      expect(r.finishReason).toBe('stop');
    } finally {
      await plain.close();
    }
  });

  it("a budgeted responses request sends no cap and reserves the model's whole output ceiling", () => {
    expect(outputBound('responses', 30, 'speak', 'qwen3-omni-flash-all')).toEqual({ reserve: MODELS['qwen3-omni-flash'].limits.maxOutputTokens });
    const chat = outputBound('chat', 30, 'speak', 'qwen3-omni-flash');
    expect(chat.send).toBe(chat.reserve);
    expect(chat.send).toBeLessThan(MODELS['qwen3-omni-flash'].limits.maxOutputTokens);
  });
});
