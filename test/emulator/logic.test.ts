// Pure parts of the emulator: billing, usage blocks, answers, fault draws, validation, probe reading, PCM.
import { describe, expect, it } from 'vitest';
import { composeAnswer, moderationVerdict, splitPieces } from '../../src/emulator/answer.ts';
import { pcmBytes, pcmChunkCount, pcmChunks, speechSeconds } from '../../src/emulator/audio.ts';
import { billInput, billOutput, compatUsage, imageTokens, nativeUsage, responsesUsage } from '../../src/emulator/billing.ts';
import { drawFault, FAULT_KINDS, faultError, isStreamFault, seededRandom } from '../../src/emulator/faults.ts';
import { interpretProbe } from '../../src/emulator/measure.ts';
import { parseRequest } from '../../src/emulator/parse.ts';
import { SlidingWindow } from '../../src/emulator/stats.ts';
import type { Measured, ParsedRequest } from '../../src/emulator/types.ts';
import { isApiError } from '../../src/emulator/types.ts';
import { checkMeasured, checkRequest } from '../../src/emulator/validate.ts';
import { MODELS } from '../../src/models/catalog.ts';

const flash = MODELS['qwen3-omni-flash'];
const turbo = MODELS['qwen-omni-turbo'];
const captioner = MODELS['qwen3-omni-30b-a3b-captioner'];

const audio = (durationS: number, extra: Partial<Measured> = {}): Measured => ({
  kind: 'audio',
  bytes: 1000,
  hash: 'ab'.repeat(32),
  durationS,
  hasAudio: true,
  channels: 1,
  sampleRate: 16000,
  width: 0,
  height: 0,
  ...extra,
});
const req = (over: Partial<ParsedRequest> = {}): ParsedRequest => ({
  protocol: 'chat',
  model: 'qwen3-omni-flash',
  stream: true,
  includeUsage: true,
  incremental: true,
  thinking: false,
  messages: [{ role: 'user', texts: ['What is said?'], media: [{ kind: 'audio', urls: ['data:;base64,AAAA'] }] }],
  ...over,
});

describe('billing', () => {
  it('bills audio as ceil(max(1, s) x rate) per model', () => {
    expect(billInput(req(), [audio(11)], flash).audio).toBe(138);
    expect(billInput(req(), [audio(0.4)], flash).audio).toBe(13); // < 1 s counts as 1 s
    expect(billInput(req(), [audio(11)], turbo).audio).toBe(275);
    expect(billInput(req(), [audio(30.02)], captioner).audio).toBe(Math.ceil(30.02 * 12.5));
  });

  it('bills a video by the frame rule plus its audio track', () => {
    const v: Measured = {
      kind: 'video',
      bytes: 1,
      hash: 'cd'.repeat(32),
      durationS: 10,
      hasAudio: true,
      channels: 2,
      sampleRate: 48000,
      width: 640,
      height: 360,
    };
    const b = billInput(req({ messages: [{ role: 'user', texts: [], media: [{ kind: 'video', urls: ['x'] }] }] }), [v], flash);
    // 20 frames -> 10 pairs x (11 x 20 patches of 32 px, 640x352 rounded) + 2
    expect(b.video).toBe(10 * 11 * 20 + 2);
    expect(b.audio).toBe(125);
    expect(billInput(req(), [{ ...v, hasAudio: false }], flash).audio).toBe(0);
  });

  it('bills images per 32 px patch within 4..1280 tokens, +2', () => {
    expect(imageTokens(64, 64, flash.tokens)).toBe(4 + 2);
    expect(imageTokens(320, 320, flash.tokens)).toBe(100 + 2);
    expect(imageTokens(8000, 8000, flash.tokens)).toBeLessThanOrEqual(1280 + 2);
  });

  it('keeps the compat invariants and shows only non-zero details', () => {
    const b = { input: { text: 5, audio: 138, image: 0, video: 0 }, output: billOutput('hello world!', '', 2.5, flash) };
    const u = compatUsage(b) as Record<string, any>;
    expect(u.prompt_tokens).toBe(143);
    expect(u.prompt_tokens_details).toEqual({ audio_tokens: 138, text_tokens: 5 });
    expect(u.completion_tokens_details).toEqual({ audio_tokens: Math.ceil(2.5 * 12.5), text_tokens: 3 });
    expect(u.completion_tokens).toBe(u.completion_tokens_details.audio_tokens + 3);
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    const n = nativeUsage(b) as Record<string, any>;
    expect(n).toMatchObject({
      input_tokens: 143,
      output_tokens: u.completion_tokens,
      total_tokens: u.total_tokens,
      input_tokens_details: { audio_tokens: 138, text_tokens: 5 },
    });
    expect(responsesUsage(b)).toMatchObject({ input_tokens: 143, output_tokens: u.completion_tokens, total_tokens: u.total_tokens });
  });
});

describe('answers', () => {
  it('names the model, kind, duration, channels and hash, the same every time', () => {
    const a = composeAnswer(req(), audio(30.0213, { hash: '3fa9c2d1'.padEnd(64, '0') }), 'qwen3-omni-30b-a3b-captioner');
    expect(a.text.startsWith('Audio clip, 30.02 s, 1 channel, 16000 Hz [3fa9c2d1] (qwen3-omni-30b-a3b-captioner). ')).toBe(true);
    expect(composeAnswer(req(), audio(30.0213, { hash: '3fa9c2d1'.padEnd(64, '0') }), 'qwen3-omni-30b-a3b-captioner')).toEqual(a);
    expect(a.reasoning).toBe('');
    expect(composeAnswer(req({ thinking: true }), audio(3), 'm').reasoning.length).toBeGreaterThan(10);
  });

  it('answers a moderation prompt with one JSON verdict, flagging about one clip in three', () => {
    const mod = req({ messages: [{ role: 'user', texts: ['You are a content moderator. Answer with ONE JSON object'], media: [] }] });
    let flagged = 0;
    for (let i = 0; i < 300; i++) {
      const m = audio(20, { hash: i.toString(16).padStart(64, '0') });
      const v = JSON.parse(composeAnswer(mod, m, 'x').text);
      if (v.flagged) {
        flagged++;
        expect(v.categories[0].severity).toMatch(/^(low|medium|high)$/);
        for (const s of v.segments) {
          expect(s.start_s).toBeGreaterThanOrEqual(0);
          expect(s.end_s).toBeLessThanOrEqual(20);
          expect(s.end_s).toBeGreaterThanOrEqual(s.start_s);
        }
      } else expect(v).toEqual({ flagged: false, categories: [], segments: [], summary: expect.any(String) });
    }
    expect(flagged).toBeGreaterThan(60);
    expect(flagged).toBeLessThan(140);
    expect(() => JSON.parse(composeAnswer(mod, audio(5), 'x', true).text)).toThrow();
    expect(moderationVerdict('k', 0)).toEqual(moderationVerdict('k', 0));
  });

  it('splits text into 5-20 character pieces of whole code points', () => {
    const text = 'Audio clip 😀 with 中文字符 and more text to split into several deltas, deterministically.';
    const pieces = splitPieces(text);
    expect(pieces.join('')).toBe(text);
    expect(pieces.length).toBeGreaterThan(3);
    for (const p of pieces.slice(0, -1)) {
      expect(Array.from(p).length).toBeGreaterThanOrEqual(5);
      expect(Array.from(p).length).toBeLessThanOrEqual(20);
    }
    expect(splitPieces(text)).toEqual(pieces);
  });
});

describe('speech', () => {
  it('is 0.08 s per character (at least 1 s) or exactly the override, in lazily generated chunks', () => {
    expect(speechSeconds('x'.repeat(100))).toBeCloseTo(8, 9);
    expect(speechSeconds('hi')).toBe(1);
    expect(speechSeconds('hi', 1200)).toBe(1200);
    let bytes = 0;
    let n = 0;
    for (const c of pcmChunks(2.3, 0.5)) {
      bytes += c.length;
      n++;
      expect(c.length).toBeLessThanOrEqual(24000);
    }
    expect(bytes).toBe(pcmBytes(2.3));
    expect(bytes).toBe(110_400);
    expect(n).toBe(pcmChunkCount(2.3, 0.5));
    const first = pcmChunks(1, 1).next().value as Buffer;
    expect(first.readInt16LE(2 * 30)).not.toBe(0); // not silence
  });
});

describe('faults', () => {
  it('draws the same faults from the same seed, at about the set rates', () => {
    const run = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 2000 }, () => drawFault({ fail5xx: 0.1, cut: 0.2 }, r));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
    const kinds = run(7);
    const count = (k: string) => kinds.filter((x) => x === k).length;
    expect(count('server_error') + count('unavailable')).toBeGreaterThan(120);
    expect(count('server_error') + count('unavailable')).toBeLessThan(280);
    expect(count('cut')).toBeGreaterThan(250);
    expect(count('stall')).toBe(0);
    const r = seededRandom(1);
    expect(Array.from({ length: 100 }, () => drawFault({ fail429: 1, retryAfterS: 3 }, r)).every((k) => k === 'rate_limit_retry_after')).toBe(true);
  });

  it('maps every pre-stream kind to its error and leaves the in-stream kinds to the stream', () => {
    for (const k of FAULT_KINDS) expect(faultError(k, 'm', undefined) === undefined).toBe(isStreamFault(k));
    expect(faultError('rate_limit_retry_after', 'm', undefined)?.retryAfterS).toBe(2);
    expect(faultError('rate_limit', 'm', 5)?.retryAfterS).toBeUndefined();
  });

  it('admits at most N requests in any 60 s window', () => {
    const w = new SlidingWindow(2);
    expect([w.admit(0), w.admit(10), w.admit(20)]).toEqual([true, true, false]);
    expect(w.admit(60_001)).toBe(true);
    expect(w.admit(60_002)).toBe(false);
  });
});

describe('parse and validate', () => {
  it('normalizes chat, responses and native bodies', () => {
    const chat = parseRequest('chat', {
      model: 'm',
      stream: true,
      stream_options: { include_usage: true },
      modalities: ['text', 'audio'],
      audio: { voice: 'Cherry' },
      messages: [
        {
          role: 'user',
          content: [
            { type: 'input_audio', input_audio: { data: 'data:;base64,AA', format: 'wav' } },
            { type: 'text', text: 'hi' },
          ],
        },
      ],
    });
    expect(chat).toMatchObject({ stream: true, includeUsage: true, audioOut: { voice: 'Cherry' }, messages: [{ texts: ['hi'], media: [{ kind: 'audio' }] }] });
    const resp = parseRequest('responses', { model: 'm', stream: true, input: 'hello' });
    expect(resp).toMatchObject({ includeUsage: true, messages: [{ role: 'user', texts: ['hello'] }] });
    const native = parseRequest('native', { model: 'm', input: { messages: [{ role: 'user', content: [{ audio: 'file:///x' }] }] } }, true);
    expect(native).toMatchObject({ stream: true, incremental: false, messages: [{ media: [{ kind: 'audio', urls: ['file:///x'] }] }] });
    expect(isApiError(parseRequest('chat', { model: 'm', messages: [] }))).toBe(true);
  });

  it('refuses what the service refuses', () => {
    const msg = (c: string) => checkRequest(req(), flash)?.message ?? c;
    expect(msg('ok')).toBe('ok');
    expect(checkRequest(req({ stream: false }), flash)?.message).toMatch(/only support stream mode/);
    expect(
      checkRequest(
        req({
          messages: [
            {
              role: 'user',
              texts: [],
              media: [
                { kind: 'audio', urls: ['a'] },
                { kind: 'image', urls: ['b'] },
              ],
            },
          ],
        }),
        flash,
      )?.status,
    ).toBe(400);
    expect(checkRequest(req({ model: captioner.id }), captioner)?.message).toMatch(/does not accept text/);
    expect(
      checkRequest(req({ model: captioner.id, stream: false, messages: [{ role: 'user', texts: [], media: [{ kind: 'audio', urls: ['a'] }] }] }), captioner),
    ).toBeUndefined();
    expect(checkRequest(req({ thinking: true, audioOut: { voice: 'Cherry' } }), flash)?.message).toMatch(/thinking/);
    expect(checkRequest(req({ thinking: true }), turbo)?.status).toBe(400);
    expect(
      checkMeasured([audio(1201)], { input: { text: 0, audio: 0, image: 0, video: 0 }, output: { text: 0, audio: 0, reasoning: 0 } }, req(), flash)?.message,
    ).toBe('The audio duration exceeds the limit of 1200 seconds.');
    expect(
      checkMeasured([], { input: { text: 16_385, audio: 0, image: 0, video: 0 }, output: { text: 0, audio: 0, reasoning: 0 } }, req({ thinking: true }), flash)
        ?.message,
    ).toMatch(/\[1, 16384\]/);
  });
});

describe('probe reading', () => {
  it('takes the longest stated duration, audio facts, and ignores cover art', () => {
    const f = interpretProbe({
      format: { duration: '10.5' },
      streams: [
        { codec_type: 'audio', channels: 2, sample_rate: '44100', duration: '10.6' },
        { codec_type: 'video', width: 300, height: 300, disposition: { attached_pic: 1 } },
      ],
    });
    expect(f).toEqual({ durationS: 10.6, hasAudio: true, channels: 2, sampleRate: 44100, hasVideo: false, width: 0, height: 0 });
  });
});
