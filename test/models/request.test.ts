/** Request building per protocol (docs/protocols.md §2): URL, headers, bodies. Pure, plus the file -> data: URL read. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildBody, endpointUrl, type MediaRef, requestHeaders, resolveMedia } from '../../src/models/request.ts';
import type { EndpointConfig, ModelRequest, Protocol } from '../../src/models/types.ts';
import { media } from '../helpers/paths.ts';

const ep = (protocol: Protocol, over: Partial<EndpointConfig> = {}): EndpointConfig => ({
  protocol,
  baseUrl: 'https://example.test/base/',
  apiKey: 'sk-secret',
  authStyle: 'bearer',
  connectTimeoutMs: 1,
  firstByteTimeoutMs: 1,
  idleTimeoutMs: 1,
  ...over,
});
const audio: MediaRef = { kind: 'audio', url: 'data:;base64,AAAA', format: 'mp3' };

describe('endpoint', () => {
  it('appends the protocol path to the base, as OpenAI-style clients do', () => {
    expect(endpointUrl(ep('chat'))).toBe('https://example.test/base/chat/completions');
    expect(endpointUrl(ep('responses'))).toBe('https://example.test/base/responses');
    expect(endpointUrl(ep('dashscope'))).toBe('https://example.test/base/services/aigc/multimodal-generation/generation');
  });

  it('Bearer or raw key; native streaming asks for SSE; extra headers pass through', () => {
    expect(requestHeaders(ep('chat')).authorization).toBe('Bearer sk-secret');
    expect(requestHeaders(ep('responses', { authStyle: 'raw' })).authorization).toBe('sk-secret');
    expect(requestHeaders(ep('dashscope'))['x-dashscope-sse']).toBe('enable');
    expect(requestHeaders(ep('chat'))['x-dashscope-sse']).toBeUndefined();
    expect(requestHeaders(ep('chat'), { 'x-emulator-fault': 'cut' })['x-emulator-fault']).toBe('cut');
  });
});

describe('buildBody', () => {
  const flash: ModelRequest = { model: 'qwen3-omni-flash', prompt: '这段音频在说什么', system: 'Be brief.' };

  it('chat: media part then text, stream + include_usage, no modalities unless speech is asked for', () => {
    expect(buildBody('chat', flash, audio)).toEqual({
      model: 'qwen3-omni-flash',
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'input_audio', input_audio: { data: 'data:;base64,AAAA', format: 'mp3' } },
            { type: 'text', text: '这段音频在说什么' },
          ],
        },
      ],
    });
  });

  it('chat: speech adds modalities + audio{voice, format: wav}; thinking adds enable_thinking; max tokens', () => {
    const b = buildBody('chat', { ...flash, audioOut: { voice: 'Cherry', file: 'x.wav' }, maxOutputTokens: 512 });
    expect(b).toMatchObject({ modalities: ['text', 'audio'], audio: { voice: 'Cherry', format: 'wav' }, max_tokens: 512 });
    expect(buildBody('chat', { ...flash, thinking: true })).toMatchObject({ enable_thinking: true });
    expect(buildBody('chat', { ...flash, thinking: true })).not.toHaveProperty('modalities');
    // models without the switch never get it
    expect(buildBody('chat', { model: 'qwen-omni-turbo', prompt: 'x', thinking: false })).not.toHaveProperty('enable_thinking');
  });

  it('chat: video and image parts', () => {
    const v = buildBody('chat', flash, { kind: 'video', url: 'https://x/v.mp4' }) as { messages: { content: unknown[] }[] };
    expect(v.messages[1].content[0]).toEqual({ type: 'video_url', video_url: { url: 'https://x/v.mp4' } });
    const i = buildBody('chat', flash, { kind: 'image', url: 'data:image/png;base64,AA' }) as { messages: { content: unknown[] }[] };
    expect(i.messages[1].content[0]).toEqual({ type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } });
  });

  it('the captioner: audio alone, no format, no prompt, no system, in every protocol', () => {
    const cap: ModelRequest = { model: 'qwen3-omni-30b-a3b-captioner', prompt: 'ignored', system: 'ignored' };
    expect(buildBody('chat', cap, audio)).toMatchObject({
      messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'data:;base64,AAAA' } }] }],
    });
    expect((buildBody('chat', cap, audio) as { messages: unknown[] }).messages).toHaveLength(1);
    expect(buildBody('responses', cap, audio)).toMatchObject({
      input: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'data:;base64,AAAA' } }] }],
    });
    expect(buildBody('dashscope', cap, audio)).toEqual({
      model: 'qwen3-omni-30b-a3b-captioner',
      input: { messages: [{ role: 'user', content: [{ audio: 'data:;base64,AAAA' }] }] },
      parameters: { incremental_output: true },
    });
  });

  it('responses: the chat body with input for messages, and no output cap (DMXAPI never shows one)', () => {
    const b = buildBody('responses', { ...flash, model: 'qwen3-omni-flash-all', audioOut: { voice: 'Serena', file: 'x.wav' }, maxOutputTokens: 100 }, audio);
    expect(b).toMatchObject({ model: 'qwen3-omni-flash-all', stream: true, stream_options: { include_usage: true }, modalities: ['text', 'audio'] });
    expect(b).not.toHaveProperty('max_output_tokens');
    expect(b).not.toHaveProperty('messages');
    expect((b as { input: unknown[] }).input).toHaveLength(2);
  });

  it('dashscope: native content items and parameters', () => {
    expect(buildBody('dashscope', { ...flash, thinking: true }, { kind: 'video', url: 'https://x/v.mp4' })).toEqual({
      model: 'qwen3-omni-flash',
      input: {
        messages: [
          { role: 'system', content: [{ text: 'Be brief.' }] },
          { role: 'user', content: [{ video: 'https://x/v.mp4' }, { text: '这段音频在说什么' }] },
        ],
      },
      parameters: { incremental_output: true, enable_thinking: true },
    });
  });
});

describe('resolveMedia', () => {
  it('reads a local file into data:;base64, with the extension as format; a URL passes through', async () => {
    const file = media('whisper__jfk.flac');
    const ref = await resolveMedia({ kind: 'audio', source: { file } });
    expect(ref.format).toBe('flac');
    expect(ref.url).toBe(`data:;base64,${readFileSync(file).toString('base64')}`);
    expect(await resolveMedia({ kind: 'audio', source: { url: 'https://x/a.MP3?sig=1' } })).toEqual({
      kind: 'audio',
      url: 'https://x/a.MP3?sig=1',
      format: 'mp3',
    });
  });

  it('refuses a file over the base64 ceiling before reading it', async () => {
    await expect(resolveMedia({ kind: 'audio', source: { file: media('whisper__jfk.flac') } }, 1000)).rejects.toMatchObject({
      code: 'input_too_large',
      retryable: false,
    });
  });
});
