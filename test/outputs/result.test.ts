import { describe, expect, it } from 'vitest';
import type { Usage } from '../../src/models/types.ts';
import { costFromJson, usageFromJson } from '../../src/outputs/amounts.ts';
import { buildResult, checkReusable, isReusableResult, type ResultInput, validateResultDoc } from '../../src/outputs/result.ts';

const usage = (audio: number, text: number): Usage => ({
  input: { text: 0, audio, image: 0, video: 0 },
  output: { text, audio: 0, reasoning: 0 },
  inputTotal: audio,
  outputTotal: text,
});

const input: ResultInput = {
  source: { uri: 's3://media/in/a/b.mp3', key: 'in/a/b.mp3', etag: '"abc123"', size: 1_234_567, durationS: 65.02 },
  task: 'caption',
  model: 'qwen3-omni-30b-a3b-captioner',
  protocol: 'chat',
  region: 'intl',
  fingerprint: '0123456789abcdef',
  chunks: [
    {
      index: 1,
      startS: 30.1,
      endS: 65.02,
      text: 'Rain falls.',
      usage: usage(437, 20),
      cost: { amountMicros: 1726, currency: 'USD', priced: true },
      attempts: 2,
    },
    { index: 0, startS: 0, endS: 30.1, text: 'A dog barks.', usage: usage(377, 30), cost: { amountMicros: 1528, currency: 'USD', priced: true }, attempts: 1 },
  ],
  text: 'A dog barks. Rain falls.',
  outputs: ['b.mp3.txt', 'b.mp3.srt', 'b.mp3.vtt'],
  createdAt: new Date('2025-01-02T03:04:05.000Z'),
  modelId: 'qwen3-omni-30b-a3b-captioner',
};

describe('result document', () => {
  it('has the documented shape, chunks in order and totals summed from them', () => {
    const doc = buildResult(input);
    expect(doc).toEqual({
      schema: 'omnibatch.result/v1',
      source: { uri: 's3://media/in/a/b.mp3', key: 'in/a/b.mp3', etag: '"abc123"', size: 1_234_567, duration_s: 65.02 },
      task: 'caption',
      model: 'qwen3-omni-30b-a3b-captioner',
      model_id: 'qwen3-omni-30b-a3b-captioner',
      protocol: 'chat',
      region: 'intl',
      fingerprint: '0123456789abcdef',
      chunks: [
        {
          index: 0,
          start_s: 0,
          end_s: 30.1,
          text: 'A dog barks.',
          attempts: 1,
          usage: { input: { text: 0, audio: 377, image: 0, video: 0, total: 377 }, output: { text: 30, audio: 0, reasoning: 0, total: 30 }, total: 407 },
          cost: { currency: 'USD', amount: '0.001528', amount_micros: 1528, priced: true },
        },
        {
          index: 1,
          start_s: 30.1,
          end_s: 65.02,
          text: 'Rain falls.',
          attempts: 2,
          usage: { input: { text: 0, audio: 437, image: 0, video: 0, total: 437 }, output: { text: 20, audio: 0, reasoning: 0, total: 20 }, total: 457 },
          cost: { currency: 'USD', amount: '0.001726', amount_micros: 1726, priced: true },
        },
      ],
      text: 'A dog barks. Rain falls.',
      usage: { input: { text: 0, audio: 814, image: 0, video: 0, total: 814 }, output: { text: 50, audio: 0, reasoning: 0, total: 50 }, total: 864 },
      cost: { currency: 'USD', amount: '0.003254', amount_micros: 3254, priced: true },
      outputs: ['b.mp3.txt', 'b.mp3.srt', 'b.mp3.vtt'],
      created_at: '2025-01-02T03:04:05.000Z',
    });
  });

  it('round-trips through JSON text and the schema', () => {
    const doc = buildResult(input);
    const v = validateResultDoc(JSON.stringify(doc, null, 2));
    expect(v).toEqual({ ok: true, doc });
    expect(usageFromJson(doc.chunks[0].usage)).toEqual(usage(377, 30));
    expect(costFromJson(doc.cost)).toEqual({ amountMicros: 3254, currency: 'USD', priced: true });
    expect(validateResultDoc(Buffer.from(JSON.stringify(doc))).ok).toBe(true);
  });

  it('reports an unpriced model as priced: false with no amount, never as zero', () => {
    const doc = buildResult({ ...input, chunks: input.chunks.map((c) => ({ ...c, cost: { amountMicros: 0, currency: null, priced: false } })) });
    expect(doc.cost).toEqual({ currency: null, amount: null, amount_micros: null, priced: false });
    expect(validateResultDoc(doc).ok).toBe(true);
  });

  it('refuses to add two currencies', () => {
    const mixed = { ...input, chunks: [input.chunks[0], { ...input.chunks[1], cost: { amountMicros: 1, currency: 'CNY' as const, priced: true } }] };
    expect(() => buildResult(mixed)).toThrow(expect.objectContaining({ code: 'cost_currency_mismatch' }));
  });
});

describe('isReusableResult', () => {
  const doc = buildResult(input);
  const text = JSON.stringify(doc, null, 2);

  it('reuses a well-formed result for the same ETag (quoted or not) and fingerprint', () => {
    expect(isReusableResult(text, 'abc123', '0123456789abcdef')).toBe(true);
    expect(isReusableResult(doc, '"abc123"', '0123456789abcdef')).toBe(true);
  });

  it('refuses empty text, another ETag, another fingerprint and malformed documents, saying why', () => {
    expect(checkReusable({ ...doc, text: '  ' }, 'abc123', doc.fingerprint)).toMatchObject({ reusable: false, reason: 'empty' });
    expect(checkReusable(doc, '"def456"', doc.fingerprint)).toMatchObject({ reusable: false, reason: 'etag_changed' });
    expect(checkReusable(doc, 'abc123', 'ffffffffffffffff')).toMatchObject({ reusable: false, reason: 'fingerprint_changed' });
    expect(checkReusable(text.slice(0, 100), 'abc123', doc.fingerprint)).toMatchObject({ reusable: false, reason: 'malformed' });
    expect(checkReusable('', 'abc123', doc.fingerprint)).toMatchObject({ reusable: false, reason: 'malformed' });
    expect(checkReusable({ ...doc, schema: 'omnibatch.result/v0' }, 'abc123', doc.fingerprint)).toMatchObject({ reusable: false, reason: 'malformed' });
    expect(checkReusable({ ...doc, chunks: [] }, 'abc123', doc.fingerprint)).toMatchObject({ reusable: false, reason: 'malformed' });
    const { cost: _cost, ...noCost } = doc;
    expect(checkReusable(noCost, 'abc123', doc.fingerprint)).toMatchObject({ reusable: false, reason: 'malformed', detail: expect.stringContaining('cost') });
    expect(isReusableResult(null, 'abc123', doc.fingerprint)).toBe(false);
  });
});
