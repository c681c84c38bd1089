// The official openai npm client reads the emulator's chat-completions streams: proof the emulator speaks the
// protocol as the world's clients understand it. (The seeds' exact calls, both protocols: openai-seeds.test.ts.)
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { ffprobeJson } from '../../src/media/ffmpeg.ts';
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
afterAll(async () => {
  await emu.close();
});

type Delta = { content?: string | null; reasoning_content?: string | null; audio?: { data?: string } };

describe('the official openai client', () => {
  it('reads text, raw PCM audio and the final usage chunk of an audio request', async () => {
    expect(seconds).toBeCloseTo(11, 2);
    const stream = await client.chat.completions.create({
      model: 'qwen3-omni-flash',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'input_audio', input_audio: { data: dataUrl(JFK), format: 'flac' as 'wav' } },
            { type: 'text', text: 'What is said in this clip?' },
          ],
        },
      ],
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
      if (chunk.usage) {
        usage = chunk.usage;
        usageChunks++;
        expect(chunk.choices).toEqual([]);
      }
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
    expect(usage!.completion_tokens).toBe(
      usage!.completion_tokens_details!.audio_tokens! + (usage!.completion_tokens_details as { text_tokens: number }).text_tokens,
    );
    expect(usage!.total_tokens).toBe(usage!.prompt_tokens + usage!.completion_tokens);
    const billed = emu.stats().billed['qwen3-omni-flash'];
    expect(billed.input.audio).toBe(138);
    expect(billed.output.audio).toBe(usage!.completion_tokens_details!.audio_tokens);
  });

  it('reads reasoning_content before content in thinking mode', async () => {
    const stream = await client.chat.completions.create({
      model: 'qwen3-omni-flash',
      messages: [{ role: 'user', content: 'Why is the sky blue?' }],
      stream: true,
      stream_options: { include_usage: true },
      enable_thinking: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    let reasoning = '';
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta as Delta | undefined;
      if (d?.reasoning_content) {
        expect(text).toBe('');
        reasoning += d.reasoning_content;
      }
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
      messages: [
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: dataUrl(JFK) } as OpenAI.ChatCompletionContentPartInputAudio.InputAudio }] },
      ],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0].message.content).toMatch(/^Audio clip, 11\.00 s, 2 channels, 44100 Hz \[[0-9a-f]{8}\] \(qwen3-omni-30b-a3b-captioner\)\./);
    expect(res.usage!.prompt_tokens_details!.audio_tokens).toBe(138);
  });

  it('surfaces refusals and in-stream errors as the SDK errors', async () => {
    const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${emu.url}/compatible-mode/v1`, maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: 'qwen3-omni-flash', messages: [{ role: 'user', content: 'hi' }], stream: true })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    const stream = await client.chat.completions.create(
      { model: 'qwen3-omni-flash', messages: [{ role: 'user', content: 'hi' }], stream: true },
      { headers: { 'x-emulator-fault': 'inspect_output' } },
    );
    let text = '';
    const read = async () => {
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    };
    await expect(read()).rejects.toThrow(/inappropriate content/);
    expect(text.length).toBeGreaterThan(0);
  });
});
