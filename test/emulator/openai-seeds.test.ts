// The official openai npm client, with the seeds' exact parameters, against the emulator: DashScope's
// chat.completions.create({stream:true}) (seed 001) and DMXAPI's responses.create({stream:true}) (seeds 000,
// 002), read the way the seeds' own samples read them. Media is generated here: no shared files needed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { makeSeedVideo, seedSpeech } from '../helpers/seed-requests.ts';

let emu: Emulator;
let client: OpenAI;
beforeAll(async () => {
  emu = await startEmulator({ apiKey: 'sk-test' });
  client = new OpenAI({ apiKey: 'sk-test', baseURL: `${emu.url}/compatible-mode/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await emu.close();
});

type Delta = { content?: string | null; audio?: { data?: string } };

type ResponsesEvent = {
  type: string;
  delta?: string;
  item?: { content?: { type?: string; audio?: { data?: string } }[] };
  response?: { usage?: Record<string, unknown>; model?: string };
};

/** What seed 002's sample collects from a responses stream: text deltas, every output_item.done audio part, the usage. */
async function collect(
  stream: AsyncIterable<unknown>,
): Promise<{ text: string; audio: Buffer; usage?: Record<string, unknown>; types: string[]; model?: string }> {
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
    if (ev.type === 'response.completed') {
      usage = ev.response?.usage;
      model = ev.response?.model;
    }
  }
  return { text, audio: Buffer.from(parts.join(''), 'base64'), usage, types, model };
}

describe("the official openai client with the seeds' exact parameters", () => {
  it('seed 001:125 (DashScope): chat.completions.create({stream:true}), text + Cherry audio', async () => {
    const stream = await client.chat.completions.create(
      seedSpeech('chat', 'qwen3-omni-flash', 'Cherry') as unknown as OpenAI.Chat.ChatCompletionCreateParamsStreaming,
    );
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
  /** responses.create on DMXAPI with a seed body the SDK's types do not know (voices, modalities, enable_thinking) */
  const responses = (params: Record<string, unknown>, opts?: OpenAI.RequestOptions) =>
    dmx().responses.create(params as unknown as OpenAI.Responses.ResponseCreateParamsStreaming, opts);

  it('seed 000:45 (DMXAPI): responses.create({stream:true}) with qwen3-omni-flash-all and Serena', async () => {
    // The spoken answer split over three output_item.done events: joined, as seed 002 joins them.
    const stream = await responses(seedSpeech('responses', 'qwen3-omni-flash-all', 'Serena'), {
      headers: { 'x-emulator-audio-parts': '3', 'x-emulator-audio-seconds': '2' },
    });
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
    const params = seedSpeech('responses', 'qwen3-omni-flash-all', 'Serena', { modalities: ['text'], audio: undefined, enable_thinking: true });
    const got = await collect(await responses(params));
    expect(got.types).toContain('response.reasoning_text.delta');
    expect(got.audio.length).toBe(0);
    expect((got.usage!.output_tokens_details as { reasoning_tokens: number }).reasoning_tokens).toBeGreaterThan(0);
  });

  it('seed 002:39 (DMXAPI): qwen3.5-omni-plus-all, a local video as base64, Tina', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'omni-sdk-'));
    try {
      const video = path.join(dir, '111.mp4');
      await makeSeedVideo(video);
      const base64Video = (await readFile(video)).toString('base64');
      const content = [
        { type: 'video_url', video_url: { url: `data:;base64,${base64Video}` } },
        { type: 'text', text: '视频中呈现了什么内容?' },
      ];
      const got = await collect(await responses(seedSpeech('responses', 'qwen3.5-omni-plus-all', 'Tina', { input: [{ role: 'user', content }] })));
      expect(got.text).toMatch(/^Video clip, 3\.00 s, 320x240, audio 1 channel, 44100 Hz \[[0-9a-f]{8}\] \(qwen3\.5-omni-plus\)\./);
      expect(got.audio.toString('ascii', 0, 4)).toBe('RIFF');
      expect(got.usage!.input_tokens).toBeGreaterThan(Math.ceil(3 * 12.5));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a name DMXAPI does not serve: the SDK's NotFoundError", async () => {
    await expect(dmx().responses.create({ model: 'qwen3-omni-flash', input: 'hi', stream: true })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
