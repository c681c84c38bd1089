// The official openai npm client reads the emulator's chat-completions and responses streams: proof the emulator
// speaks the protocols as the world's clients understand them. The seed cases use the seeds' exact parameters.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ffprobeJson, runFfmpeg } from '../../src/media/ffmpeg.ts';
import { startEmulator, type Emulator } from '../../src/emulator/server.ts';
import { media } from '../helpers/paths.ts';
import { dataUrl, shortHash } from './helpers.ts';

const JFK = media('whisper__jfk.flac');
let emu: Emulator;
let client: OpenAI;
let seconds: number;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: 'sk-test' });
  client = new OpenAI({ apiKey: 'sk-test', baseURL: `${emu.url}/compatible-mode/v1`, maxRetries: 0 });
  const probe = await ffprobeJson(JFK);
  seconds = Number((probe.format as { duration: string }).duration);
});
afterAll(async () => { await emu.close(); });

type Delta = { content?: string | null; reasoning_content?: string | null; audio?: { data?: string } };

describe('the official openai client', () => {
  it('reads text, raw PCM audio and the final usage chunk of an audio request', async () => {
    expect(seconds).toBeCloseTo(11, 2);
    const stream = await client.chat.completions.create({
      model: 'qwen3-omni-flash',
      messages: [{ role: 'user', content: [
        { type: 'input_audio', input_audio: { data: dataUrl(JFK), format: 'flac' as 'wav' } },
        { type: 'text', text: 'What is said in this clip?' },
      ] }],
      stream: true,
      stream_options: { include_usage: true },
      modalities: ['text', 'audio'],
      audio: { voice: 'Cherry' as 'alloy', format: 'wav' },
    });
    let text = '';
    let pcm = 0;
    let usage: OpenAI.CompletionUsage | undefined | null;
    const ids = new Set<string>();
    let usageChunks = 0;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      if (chunk.usage) { usage = chunk.usage; usageChunks++; expect(chunk.choices).toEqual([]); }
      const delta = chunk.choices[0]?.delta as Delta | undefined;
      text += delta?.content ?? '';
      if (delta?.audio?.data) pcm += Buffer.from(delta.audio.data, 'base64').length;
    }
    expect(ids.size).toBe(1);
    expect(usageChunks).toBe(1);
    expect(text.startsWith(`Audio clip, 11.00 s, 2 channels, 44100 Hz [${shortHash(JFK)}] (qwen3-omni-flash). `)).toBe(true);
    // The speech is 0.08 s per character of the text, PCM16 at 24 kHz mono.
    expect(pcm).toBe(Math.round(Math.max(1, 0.08 * Array.from(text).length) * 24000) * 2);
    expect(usage!.prompt_tokens_details!.audio_tokens).toBe(Math.ceil(Math.max(1, seconds) * 12.5));
    expect(usage!.prompt_tokens_details!.audio_tokens).toBe(138);
    expect(usage!.completion_tokens_details!.audio_tokens).toBe(Math.ceil((pcm / 48000) * 12.5));
    expect(usage!.completion_tokens).toBe(usage!.completion_tokens_details!.audio_tokens! + (usage!.completion_tokens_details as { text_tokens: number }).text_tokens);
    expect(usage!.total_tokens).toBe(usage!.prompt_tokens + usage!.completion_tokens);
    const billed = emu.stats().billed['qwen3-omni-flash'];
    expect(billed.input.audio).toBe(138);
    expect(billed.output.audio).toBe(usage!.completion_tokens_details!.audio_tokens);
  });

  it('reads reasoning_content before content in thinking mode', async () => {
    const stream = await client.chat.completions.create({
      model: 'qwen3-omni-flash', messages: [{ role: 'user', content: 'Why is the sky blue?' }],
      stream: true, stream_options: { include_usage: true }, enable_thinking: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    let reasoning = '';
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta as Delta | undefined;
      if (d?.reasoning_content) { expect(text).toBe(''); reasoning += d.reasoning_content; }
      text += d?.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(reasoning).toMatch(/^The user sent a text prompt\./);
    expect(text).toMatch(/^Text prompt \[[0-9a-f]{8}\] \(qwen3-omni-flash\)\./);
    expect((usage!.completion_tokens_details as { reasoning_tokens: number }).reasoning_tokens).toBeGreaterThan(0);
  });

  it('gets a whole chat.completion from the captioner without streaming', async () => {
    const res = await client.chat.completions.create({
      model: 'qwen3-omni-30b-a3b-captioner',
      messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: dataUrl(JFK) } as OpenAI.ChatCompletionContentPartInputAudio.InputAudio }] }],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0].message.content).toMatch(/^Audio clip, 11\.00 s, 2 channels, 44100 Hz \[[0-9a-f]{8}\] \(qwen3-omni-30b-a3b-captioner\)\./);
    expect(res.usage!.prompt_tokens_details!.audio_tokens).toBe(138);
  });

  it('surfaces refusals and in-stream errors as the SDK errors', async () => {
    const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${emu.url}/compatible-mode/v1`, maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: 'qwen3-omni-flash', messages: [{ role: 'user', content: 'hi' }], stream: true }))
      .rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const stream = await client.chat.completions.create({ model: 'qwen3-omni-flash', messages: [{ role: 'user', content: 'hi' }], stream: true },
      { headers: { 'x-emulator-fault': 'inspect_output' } });
    let text = '';
    const read = async () => { for await (const c of stream) text += c.choices[0]?.delta?.content ?? ''; };
    await expect(read()).rejects.toThrow(/inappropriate content/);
    expect(text.length).toBeGreaterThan(0);
  });
});

type ResponsesEvent = { type: string; delta?: string; item?: { content?: { type?: string; audio?: { data?: string } }[] }; response?: { usage?: Record<string, unknown>; model?: string } };

/** What seed 002's sample collects from a responses stream: text deltas, every output_item.done audio part, the usage. */
async function collect(stream: AsyncIterable<unknown>): Promise<{ text: string; audio: Buffer; usage?: Record<string, unknown>; types: string[]; model?: string }> {
  let text = '';
  const parts: string[] = [];
  let usage: Record<string, unknown> | undefined;
  let model: string | undefined;
  const types: string[] = [];
  for await (const raw of stream) {
    const ev = raw as ResponsesEvent;
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta ?? '';
    if (ev.type === 'response.output_item.done') for (const part of ev.item?.content ?? []) if (part.audio?.data) parts.push(part.audio.data);
    if (ev.type === 'response.completed') { usage = ev.response?.usage; model = ev.response?.model; }
  }
  return { text, audio: Buffer.from(parts.join(''), 'base64'), usage, types, model };
}

describe('the official openai client with the seeds\' exact parameters', () => {
  it('seed 001:125 (DashScope): chat.completions.create({stream:true}), text + Cherry audio', async () => {
    const stream = await client.chat.completions.create({
      model: 'qwen3-omni-flash',
      messages: [{ role: 'user', content: '你是谁?' }],
      stream: true,
      stream_options: { include_usage: true },
      modalities: ['text', 'audio'],
      audio: { voice: 'Cherry' as 'alloy', format: 'wav' },
    });
    let text = '';
    let pcm = 0;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      usage = chunk.usage ?? usage;
      const d = chunk.choices[0]?.delta as Delta | undefined;
      text += d?.content ?? '';
      if (d?.audio?.data) pcm += Buffer.from(d.audio.data, 'base64').length;
    }
    expect(text).toMatch(/^Text prompt \[[0-9a-f]{8}\] \(qwen3-omni-flash\)\./);
    expect(usage!.completion_tokens_details!.audio_tokens).toBe(Math.ceil((pcm / 48_000) * 12.5));
  });

  const dmx = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${emu.url}/v1`, maxRetries: 0 });

  it('seed 000:45 (DMXAPI): responses.create({stream:true}) with qwen3-omni-flash-all and Serena', async () => {
    const params = {
      model: 'qwen3-omni-flash-all',
      input: [{ role: 'user', content: '你是谁?' }],
      stream: true,
      stream_options: { include_usage: true },
      modalities: ['text', 'audio'],
      audio: { voice: 'Serena', format: 'wav' },
    };
    // The spoken answer split over three output_item.done events: joined, as seed 002 joins them.
    const stream = await dmx().responses.create(params as unknown as OpenAI.Responses.ResponseCreateParamsStreaming,
      { headers: { 'x-emulator-audio-parts': '3', 'x-emulator-audio-seconds': '2' } });
    const got = await collect(stream);
    expect(got.types[0]).toBe('response.created');
    expect(got.types.at(-1)).toBe('response.completed');
    expect(got.types.filter((t) => t === 'response.output_item.done')).toHaveLength(3);
    expect(got.model).toBe('qwen3-omni-flash-all');
    expect(got.text).toMatch(/\(qwen3-omni-flash\)\./);
    expect(got.audio.toString('ascii', 0, 4)).toBe('RIFF');
    expect(got.audio.length).toBe(44 + 2 * 48_000);
    expect(got.usage).toMatchObject({ input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } });
    expect(got.usage!.total_tokens).toBe((got.usage!.input_tokens as number) + (got.usage!.output_tokens as number));
  });

  it('seed 000:174 (DMXAPI): thinking mode, text only', async () => {
    const params = { model: 'qwen3-omni-flash-all', input: [{ role: 'user', content: '你是谁?' }], stream: true,
      stream_options: { include_usage: true }, modalities: ['text'], enable_thinking: true };
    const got = await collect(await dmx().responses.create(params as unknown as OpenAI.Responses.ResponseCreateParamsStreaming));
    expect(got.types).toContain('response.reasoning_text.delta');
    expect(got.audio.length).toBe(0);
    expect((got.usage!.output_tokens_details as { reasoning_tokens: number }).reasoning_tokens).toBeGreaterThan(0);
  });

  it('seed 002:39 (DMXAPI): qwen3.5-omni-plus-all, a local video as base64, Tina', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'omni-sdk-'));
    try {
      const video = path.join(dir, '111.mp4');
      await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10:duration=3', '-f', 'lavfi', '-i', 'sine=frequency=330:duration=3',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', '-y', `file:${video}`]);
      const base64Video = (await readFile(video)).toString('base64');
      const params = {
        model: 'qwen3.5-omni-plus-all',
        input: [{ role: 'user', content: [
          { type: 'video_url', video_url: { url: `data:;base64,${base64Video}` } },
          { type: 'text', text: '视频中呈现了什么内容?' },
        ] }],
        stream: true,
        stream_options: { include_usage: true },
        modalities: ['text', 'audio'],
        audio: { voice: 'Tina', format: 'wav' },
      };
      const got = await collect(await dmx().responses.create(params as unknown as OpenAI.Responses.ResponseCreateParamsStreaming));
      expect(got.text).toMatch(/^Video clip, 3\.00 s, 320x240, audio 1 channel, 44100 Hz \[[0-9a-f]{8}\] \(qwen3\.5-omni-plus\)\./);
      expect(got.audio.toString('ascii', 0, 4)).toBe('RIFF');
      expect(got.usage!.input_tokens).toBeGreaterThan(Math.ceil(3 * 12.5));
    } finally { await rm(dir, { recursive: true, force: true }); }
  });

  it('a name DMXAPI does not serve: the SDK\'s NotFoundError', async () => {
    await expect(dmx().responses.create({ model: 'qwen3-omni-flash', input: 'hi', stream: true }))
      .rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
