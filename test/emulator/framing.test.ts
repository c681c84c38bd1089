// The wire framing of the three protocols, checked on the raw bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { parseWavHeader } from '../../src/models/wav.ts';
import { media } from '../helpers/paths.ts';
import { CHAT, chatRequest, dataUrl, frames, json, NATIVE, nativeRequest, post, RESPONSES, responsesRequest, shortHash } from './helpers.ts';

const JFK = media('whisper__jfk.flac');
let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

describe('compat chat completions', () => {
  it('frames every chunk as data: <json>, constant id/created, role first, finish, usage (choices: []), [DONE]', async () => {
    const r = await post(emu.url, CHAT, chatRequest());
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const body = await r.text();
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    const f = frames(body);
    for (const x of f) expect(x.raw.startsWith('data: ')).toBe(true);
    const chunks = f.slice(0, -1).map(json);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0].id).toMatch(/^chatcmpl-[0-9a-f-]{36}$/);
    expect(new Set(chunks.map((c) => c.created)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'qwen3-omni-flash' && c.system_fingerprint === null)).toBe(true);
    expect(chunks[0].choices[0]).toEqual({ delta: { content: '', role: 'assistant' }, finish_reason: null, index: 0, logprobs: null });
    const usage = chunks.at(-1);
    expect(usage.choices).toEqual([]);
    expect(chunks.at(-2).choices[0]).toMatchObject({ finish_reason: 'stop', delta: { content: '' } });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toMatch(/^Text prompt \[[0-9a-f]{8}\] \(qwen3-omni-flash\)\. /);
    expect(chunks.length).toBeGreaterThan(5);
    expect(usage.usage).toEqual({
      prompt_tokens: 3,
      completion_tokens: expect.any(Number),
      total_tokens: expect.any(Number),
      prompt_tokens_details: { text_tokens: 3 },
      completion_tokens_details: { text_tokens: usage.usage.completion_tokens },
    });
    expect(usage.usage.total_tokens).toBe(3 + usage.usage.completion_tokens);
  });

  it('sends no usage chunk without stream_options.include_usage', async () => {
    const f = frames(await (await post(emu.url, CHAT, chatRequest({ stream_options: undefined }))).text());
    expect(f.at(-1)!.data).toBe('[DONE]');
    expect(
      f
        .slice(0, -1)
        .map(json)
        .every((c) => c.usage === null && c.choices.length === 1),
    ).toBe(true);
    expect(emu.stats().completed).toBeGreaterThanOrEqual(2);
  });

  it('thinking: reasoning_content deltas first (content null), then content; reasoning_tokens billed', async () => {
    const chunks = frames(await (await post(emu.url, CHAT, chatRequest({ enable_thinking: true }))).text())
      .slice(0, -1)
      .map(json);
    expect(chunks[0].choices[0].delta).toEqual({ content: null, role: 'assistant', reasoning_content: '' });
    const firstText = chunks.findIndex((c) => c.choices[0]?.delta?.content);
    const reasoning = chunks.filter((c) => c.choices[0]?.delta?.reasoning_content);
    expect(reasoning.length).toBeGreaterThan(1);
    expect(reasoning.every((c) => c.choices[0].delta.content === null)).toBe(true);
    expect(chunks.indexOf(reasoning.at(-1))).toBeLessThan(firstText);
    expect(chunks.at(-2).choices[0].delta).toEqual({ content: '', reasoning_content: null });
    expect(chunks.at(-1).usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
  });

  it('moderation prompts get one JSON verdict; x-emulator-moderation: invalid gets prose', async () => {
    const content = [
      { type: 'input_audio', input_audio: { data: dataUrl(JFK) } },
      { type: 'text', text: 'You are a content moderator. Answer with ONE JSON object.' },
    ];
    const read = async (h: Record<string, string> = {}) =>
      frames(await (await post(emu.url, CHAT, chatRequest({}, content), h)).text())
        .slice(0, -1)
        .map(json)
        .map((c) => c.choices[0]?.delta?.content ?? '')
        .join('');
    const verdict = JSON.parse(await read());
    expect(typeof verdict.flagged).toBe('boolean');
    for (const s of verdict.segments) expect(s.end_s).toBeLessThanOrEqual(11);
    expect(JSON.parse(await read())).toEqual(verdict);
    const prose = await read({ 'x-emulator-moderation': 'invalid' });
    expect(() => JSON.parse(prose)).toThrow();
    expect(prose).toMatch(/^Sure! Audio clip, 11\.00 s/);
  });

  it('streams a 20-minute speech answer as raw PCM deltas, billed 15,000 audio tokens', async () => {
    const body = chatRequest({ modalities: ['text', 'audio'], audio: { voice: 'Cherry', format: 'wav' } });
    const r = await post(emu.url, CHAT, body, { 'x-emulator-audio-seconds': '1200' });
    // Decoded chunk by chunk, as a client that writes to disk would.
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let pcm = 0;
    let usage: any;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const data = buf.slice(6, i);
        buf = buf.slice(i + 2);
        if (data === '[DONE]') continue;
        const c = JSON.parse(data);
        const a = c.choices[0]?.delta?.audio;
        if (a) {
          pcm += Buffer.from(a.data, 'base64').length;
          expect(a.id).toBe(`audio_${c.id.slice('chatcmpl-'.length)}`);
        }
        if (c.usage) usage = c.usage;
      }
    }
    expect(pcm).toBe(1200 * 24000 * 2);
    expect(usage.completion_tokens_details.audio_tokens).toBe(15_000);
  });
});

describe('native multimodal-generation', () => {
  it('frames id:N / event:result / :HTTP_STATUS/200 / data:, "null" until "stop", usage on every event, no [DONE]', async () => {
    const r = await post(emu.url, NATIVE, nativeRequest(dataUrl(JFK)), { 'X-DashScope-SSE': 'enable' });
    const body = await r.text();
    expect(body).not.toMatch(/\[DONE\]/);
    const f = frames(body);
    f.forEach((x, i) => {
      expect(x.raw).toMatch(new RegExp(`^id:${i + 1}\\nevent:result\\n:HTTP_STATUS/200\\ndata:\\{`));
      expect(json(x).usage.input_tokens_details).toEqual({ audio_tokens: 138 });
    });
    const events = f.map(json);
    expect(events.slice(0, -1).every((e) => e.output.choices[0].finish_reason === 'null')).toBe(true);
    expect(events.at(-1).output.choices[0].finish_reason).toBe('stop');
    expect(new Set(events.map((e) => e.request_id)).size).toBe(1);
    const text = events.map((e) => e.output.choices[0].message.content[0]?.text ?? '').join('');
    expect(text).toMatch(new RegExp(`^Audio clip, 11\\.00 s, 2 channels, 44100 Hz \\[${shortHash(JFK)}\\] \\(qwen3-omni-30b-a3b-captioner\\)\\. `));
    const outputs = events.map((e) => e.usage.output_tokens);
    expect(outputs).toEqual([...outputs].sort((a, b) => a - b)); // cumulative
    expect(events.at(-1).usage).toMatchObject({ input_tokens: 138, total_tokens: 138 + events.at(-1).usage.output_tokens });
  });

  it('without incremental_output each event repeats the whole text so far', async () => {
    const body = nativeRequest(dataUrl(JFK), { parameters: {} });
    const events = frames(await (await post(emu.url, NATIVE, body, { 'X-DashScope-SSE': 'enable' })).text()).map(json);
    const texts = events.map((e) => e.output.choices[0].message.content[0].text as string);
    for (let i = 1; i < texts.length; i++) expect(texts[i].startsWith(texts[i - 1])).toBe(true);
    expect(texts.at(-1)).toMatch(/^Audio clip, 11\.00 s/);
  });

  it('does not serve an omni model: Qwen-Omni is OpenAI-compatible only (seeds 001, 004), 404 ModelNotFound', async () => {
    const body = {
      model: 'qwen3-omni-flash',
      input: { messages: [{ role: 'user', content: [{ text: 'Say hello' }] }] },
      parameters: { incremental_output: true, modalities: ['text', 'audio'], audio: { voice: 'Cherry' } },
    };
    const r = await post(emu.url, NATIVE, body, { 'x-dashscope-sse': 'enable' });
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ code: 'ModelNotFound', message: 'Model can not be found.' });
  });

  it('answers the captioner with one JSON body when not streaming', async () => {
    const r = await post(emu.url, NATIVE, nativeRequest(dataUrl(JFK), { parameters: {} }));
    expect(r.headers.get('content-type')).toBe('application/json');
    const b = (await r.json()) as any;
    expect(b).toEqual({
      output: { choices: [{ finish_reason: 'stop', message: { role: 'assistant', content: [{ text: expect.stringMatching(/^Audio clip, 11\.00 s/) }] } }] },
      usage: expect.objectContaining({ input_tokens: 138 }),
      request_id: expect.any(String),
    });
  });
});

describe('DMXAPI responses', () => {
  it('sends the event sequence, response.completed with usage, then [DONE]', async () => {
    const f = frames(await (await post(emu.url, RESPONSES, responsesRequest())).text());
    expect(f.at(-1)!.raw).toBe('data: [DONE]');
    const named = f.slice(0, -1);
    for (const x of named) {
      expect(x.raw).toMatch(/^event: [a-z_.]+\ndata: \{/);
      expect(json(x).type).toBe(x.event);
    }
    const names = named.map((x) => x.event);
    const uniq = names.filter((n, i) => n !== names[i - 1]);
    expect(uniq).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(named.map((x) => json(x).sequence_number)).toEqual(named.map((_, i) => i));
    const text = named
      .filter((x) => x.event === 'response.output_text.delta')
      .map((x) => json(x).delta)
      .join('');
    expect(json(named.find((x) => x.event === 'response.output_text.done')!).text).toBe(text);
    const completed = json(named.at(-1)!).response;
    expect(completed).toMatchObject({ status: 'completed', model: 'qwen3-omni-flash-all' });
    expect(completed.usage).toEqual({
      input_tokens: 3,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: expect.any(Number),
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 3 + completed.usage.output_tokens,
    });
  });

  it('thinking: a reasoning item with reasoning_text deltas comes before the message', async () => {
    const f = frames(await (await post(emu.url, RESPONSES, responsesRequest({ enable_thinking: true }))).text()).slice(0, -1);
    const names = f.map((x) => x.event);
    expect(json(f[2]).item).toMatchObject({ type: 'reasoning', status: 'in_progress' });
    expect(names.lastIndexOf('response.reasoning_text.delta')).toBeLessThan(names.indexOf('response.output_text.delta'));
    const completed = json(f.at(-1)!).response;
    expect(completed.output.map((o: any) => o.type)).toEqual(['reasoning', 'message']);
    expect(completed.usage.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
  });

  it('puts the whole speech in output_item.done as a base64 RIFF WAV', async () => {
    const body = responsesRequest({ modalities: ['text', 'audio'], audio: { voice: 'Serena', format: 'wav' }, model: 'qwen3-omni-flash-all' });
    const r = await post(emu.url, RESPONSES, { ...body, audio: { voice: 'Cherry', format: 'wav' } }, { 'x-emulator-audio-seconds': '3.5' });
    const f = frames(await r.text()).slice(0, -1);
    const done = json(f.find((x) => x.event === 'response.output_item.done')!);
    const part = done.item.content.find((p: any) => p.type === 'output_audio');
    const wav = Buffer.from(part.audio.data, 'base64');
    const h = parseWavHeader(wav)!;
    expect(h.format).toEqual({ sampleRate: 24000, channels: 1, bitsPerSample: 16 });
    expect(h.dataBytes).toBe(3.5 * 48000);
    expect(f.some((x) => x.event !== 'response.output_item.done' && x.data.includes('output_audio'))).toBe(false);
  });
});
