/**
 * The three protocols' stream decoding on recorded bodies, fed split at every byte offset (inside
 * multi-byte UTF-8 characters, inside base64, inside `\r\n`), byte by byte, and cut short everywhere
 * before the final event (-> stream_truncated, never a success).
 */
import { describe, expect, it } from 'vitest';
import { SseDecoder } from '../../src/models/sse.ts';
import { Base64Stream } from '../../src/models/stream.ts';
import type { Protocol } from '../../src/models/types.ts';
import { OmniError } from '../../src/util/errors.ts';
import { CTX, decodeChunks, fixture, fixtureHex, splitAt } from './helpers.ts';

type Decoded = Awaited<ReturnType<typeof decodeChunks>>;

const CHAT_TEXT = '我是通义千问，🙂 hello。';

interface Case {
  name: string;
  protocol: Protocol;
  file: string;
  /** the final event: the body is complete once this text is fully received */
  terminal: string;
  ctx?: typeof CTX;
  check(d: Decoded): void;
}

const CASES: Case[] = [
  {
    name: 'chat text + audio + usage',
    protocol: 'chat',
    file: 'chat-audio.sse',
    terminal: 'data: [DONE]',
    check(d) {
      expect(d.text).toBe(CHAT_TEXT);
      expect(d.streamed).toBe(CHAT_TEXT);
      expect(d.pcm.equals(fixtureHex('chat-audio.pcm.hex'))).toBe(true);
      expect(d.format).toBeUndefined();
      expect(d.summary.usage).toEqual({
        input: { text: 207, audio: 0, image: 0, video: 0 },
        output: { text: 20, audio: 83, reasoning: 0 },
        inputTotal: 207,
        outputTotal: 103,
      });
      expect(d.summary.finishReason).toBe('stop');
      expect(d.summary.requestId).toBe('chatcmpl-a68eca3b-c67e-4666-a72f-73c0b4919860');
      expect(d.summary.model).toBe('qwen3-omni-flash');
    },
  },
  {
    name: 'chat thinking (CRLF)',
    protocol: 'chat',
    file: 'chat-thinking.sse',
    terminal: 'data: [DONE]',
    check(d) {
      expect(d.reasoning).toBe('嗯，用户想知道我是谁。');
      expect(d.text).toBe('告诉我你的问题。');
      expect(d.summary.usage.output).toEqual({ text: 168, audio: 0, reasoning: 195 });
      expect(d.summary.usage.inputTotal).toBe(11);
      expect(d.pcm.length).toBe(0);
    },
  },
  {
    name: 'dashscope native captioner',
    protocol: 'dashscope',
    file: 'dashscope-caption.sse',
    terminal:
      '"finish_reason":"stop"}]},"usage":{"input_tokens":138,"output_tokens":16,"input_tokens_details":{"audio_tokens":138},"output_tokens_details":{"text_tokens":16}},"request_id":"a1959ad1-7e5c-9b2a-8f3d-2c6b0e1f4a77"}',
    ctx: { ...CTX, model: 'qwen3-omni-30b-a3b-captioner', mediaKind: 'audio' },
    check(d) {
      expect(d.text).toBe('The audio is a man saying “你好” (hello) — calm, clear.');
      expect(d.summary.usage).toEqual({
        input: { text: 0, audio: 138, image: 0, video: 0 },
        output: { text: 16, audio: 0, reasoning: 0 },
        inputTotal: 138,
        outputTotal: 16,
      });
      expect(d.summary.finishReason).toBe('stop');
      expect(d.summary.requestId).toBe('a1959ad1-7e5c-9b2a-8f3d-2c6b0e1f4a77');
    },
  },
  {
    name: 'responses text + RIFF audio',
    protocol: 'responses',
    file: 'responses-wav.sse',
    terminal: '"total_tokens":4332}}}',
    ctx: { ...CTX, model: 'qwen3.5-omni-plus-all', mediaKind: 'video', promptText: '视频中呈现了什么内容?' },
    check(d) {
      expect(d.text).toBe('视频展示了一本黄色封面的书，书名为《都柏林人》(Dubliners)。');
      expect(d.pcm.equals(fixtureHex('responses.pcm.hex'))).toBe(true);
      // the header said 16 kHz: the WAV written must say so too
      expect(d.format).toEqual({ sampleRate: 16000, channels: 1, bitsPerSample: 16 });
      // no modality split: the prompt's 11 text tokens, the rest of the input is the video; 20 bytes of
      // 16 kHz PCM is under a second of audio -> 1 audio token (the 1 s minimum x 12.5, rounded up)
      expect(d.summary.usage.input).toEqual({ text: 11, audio: 0, image: 0, video: 2613 });
      expect(d.summary.usage.output).toEqual({ text: 1707, audio: 1, reasoning: 0 });
      expect(d.summary.usage.inputTotal).toBe(2624);
      expect(d.summary.usage.outputTotal).toBe(1708);
      expect(d.summary.requestId).toBe('resp_6a3f0c2e9b1d4e58');
      expect(d.summary.model).toBe('qwen3.5-omni-plus-all');
    },
  },
  {
    name: 'responses raw PCM audio',
    protocol: 'responses',
    file: 'responses-pcm.sse',
    terminal: '"total_tokens":4332}}}',
    check(d) {
      expect(d.pcm.equals(fixtureHex('responses.pcm.hex'))).toBe(true);
      expect(d.format).toBeUndefined();
      // no media in the request: all input is text
      expect(d.summary.usage.input).toEqual({ text: 2624, audio: 0, image: 0, video: 0 });
    },
  },
];

async function expectCode(p: Promise<unknown>, code: string): Promise<OmniError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(OmniError);
  expect((err as OmniError).code).toBe(code);
  return err as OmniError;
}

describe.each(CASES)('$name', (c) => {
  const body = fixture(c.file);
  const decode = (chunks: Buffer[]) => decodeChunks(c.protocol, chunks, c.ctx);

  it('decodes the whole body', async () => {
    c.check(await decode([body]));
  });

  it('decodes the body split at every byte offset', async () => {
    const whole = await decode([body]);
    for (let at = 1; at < body.length; at++) {
      const d = await decode(splitAt(body, at));
      // cheap equality on every split, the full check on a few
      expect(d.text, `split at ${at}`).toBe(whole.text);
      expect(d.reasoning).toBe(whole.reasoning);
      expect(d.pcm.equals(whole.pcm), `pcm split at ${at}`).toBe(true);
      expect(d.summary).toEqual(whole.summary);
      if (at % 257 === 0) c.check(d);
    }
  });

  it('decodes the body fed one byte at a time', async () => {
    const bytes = [...body].map((b) => Buffer.from([b]));
    c.check(await decode(bytes));
  });

  it('cut anywhere before its final event -> stream_truncated (retryable), never a result', async () => {
    const end = body.indexOf(Buffer.from(c.terminal)) + Buffer.byteLength(c.terminal);
    expect(end).toBeGreaterThan(Buffer.byteLength(c.terminal));
    for (let at = 0; at < end; at++) {
      const err = await expectCode(decode([body.subarray(0, at)]), 'stream_truncated');
      expect(err.retryable).toBe(true);
    }
    // once the final event's data is complete, a missing trailing blank line does not matter
    c.check(await decode([body.subarray(0, end)]));
  });
});

describe('errors inside streams', () => {
  const ERR_CASES: { file: string; protocol: Protocol; code: string; retryable: boolean; status?: number; providerCode: string }[] = [
    { file: 'chat-inspect-output.sse', protocol: 'chat', code: 'content_blocked', retryable: false, providerCode: 'data_inspection_failed' },
    {
      file: 'dashscope-error-429.sse',
      protocol: 'dashscope',
      code: 'quota_exceeded',
      retryable: true,
      status: 429,
      providerCode: 'Throttling.AllocationQuota',
    },
    { file: 'responses-failed.sse', protocol: 'responses', code: 'server_error', retryable: true, providerCode: 'server_error' },
    { file: 'responses-error.sse', protocol: 'responses', code: 'rate_limited', retryable: true, providerCode: 'limit_requests' },
  ];
  it.each(ERR_CASES)('$file -> $code at every split; the partial text is not returned', async (c) => {
    const body = fixture(c.file);
    for (let at = 1; at < body.length; at++) {
      const err = await expectCode(decodeChunks(c.protocol, splitAt(body, at)), c.code);
      expect(err.retryable).toBe(c.retryable);
      expect(err.status).toBe(c.status);
      expect(err.providerCode).toBe(c.providerCode);
    }
  });
});

describe('SseDecoder', () => {
  it('keeps native comment lines with their event and reads fields without a space', () => {
    const dec = new SseDecoder();
    const events = dec.push(fixture('dashscope-error-429.sse'));
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ id: '1', event: 'result', comments: ['HTTP_STATUS/200'] });
    expect(events[1]).toMatchObject({ id: '2', event: 'error', comments: ['HTTP_STATUS/429'] });
    expect(JSON.parse(events[1].data).code).toBe('Throttling.AllocationQuota');
    expect(dec.end()).toEqual([]);
  });

  it('marks an event flushed at end of input as partial', () => {
    const dec = new SseDecoder();
    expect(dec.push(Buffer.from('data: {"a":1}\n\ndata: {"b"'))).toEqual([{ event: undefined, id: undefined, data: '{"a":1}', comments: [] }]);
    expect(dec.end()).toEqual([{ event: undefined, id: undefined, data: '{"b"', comments: [], partial: true }]);
  });

  it('refuses an event larger than its ceiling', () => {
    const dec = new SseDecoder({ maxEventChars: 1000 });
    expect(() => dec.push(Buffer.from(`data: ${'x'.repeat(2000)}`))).toThrow(OmniError);
  });
});

describe('Base64Stream', () => {
  it('decodes one encoding split at every offset, and independently padded pieces', () => {
    const bytes = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff));
    const b64 = bytes.toString('base64');
    for (let at = 0; at <= b64.length; at++) {
      const s = new Base64Stream();
      const out = Buffer.concat([s.push(b64.slice(0, at)), s.push(b64.slice(at)), s.end()]);
      expect(out.equals(bytes), `split at ${at}`).toBe(true);
    }
    const s = new Base64Stream();
    const parts = [bytes.subarray(0, 7), bytes.subarray(7, 50), bytes.subarray(50)];
    const out = Buffer.concat([...parts.map((p) => s.push(p.toString('base64'))), s.end()]);
    expect(out.equals(bytes)).toBe(true);
  });
});
