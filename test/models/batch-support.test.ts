/** What the Batch API serves, decided before anything is spent: the catalogue's offers, the refusals, the prices. */
import { describe, expect, it } from 'vitest';
import { describeCatalog, renderCatalog } from '../../src/cli/models-table.ts';
import { loadConfig } from '../../src/config/index.ts';
import { costOf, resolvePrices } from '../../src/cost/price.ts';
import { batchRefusal } from '../../src/models/batch-support.ts';
import { batchOffer, batchServed } from '../../src/models/catalog.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { failure } from '../helpers/failure.ts';
import { SEED_004_USAGE } from '../helpers/seed-usage.ts';

const refused = (fn: () => unknown) => failure(Promise.resolve().then(fn));

const ask = { model: 'qwen-omni-turbo', region: 'cn' as const, protocol: 'chat' as const, task: 'transcribe', audioOut: false };
const cn = loadConfig({ env: { OMNI_REGION: 'cn' } });
const req = { source: 's3://b/in/', destination: 's3://b/out/', via: 'batch' };

describe('the Batch offers', () => {
  it('serve the stable qwen-omni-turbo and qwen3.5-omni-plus in Beijing only, text out, at 50%', () => {
    expect(batchOffer('qwen-omni-turbo', 'cn')).toMatchObject({ percent: 50, outputs: ['text'], source: expect.stringMatching(/^004_.*:71/) });
    expect(batchOffer('qwen3.5-omni-plus', 'cn')).toMatchObject({ percent: 50, maxContextTokens: 256_000 });
    expect(batchOffer('qwen-omni-turbo-latest', 'cn')).toBeUndefined();
    expect(batchOffer('qwen-omni-turbo', 'intl')).toBeUndefined();
    expect(batchOffer('qwen3-omni-30b-a3b-captioner', 'cn')).toBeUndefined();
    expect(batchServed()).toEqual(['qwen-omni-turbo (cn)', 'qwen3.5-omni-plus (cn)']);
  });

  it("price every token at half: the seed's worked example, 0.0064 real time, 0.0032 in Batch", () => {
    const usage = SEED_004_USAGE;
    expect(costOf(usage, 'qwen-omni-turbo', 'cn').amountMicros).toBe(6400);
    expect(costOf(usage, 'qwen-omni-turbo', 'cn', undefined, 'batch').amountMicros).toBe(3200);
    // no Batch offer, no Batch price (never the real-time one)
    expect(resolvePrices('qwen3-omni-flash', 'cn', undefined, 'batch')).toBeUndefined();
  });

  it('are listed by omnibatch models, per region, with the source', () => {
    const turbo = describeCatalog().find((m) => m.id === 'qwen-omni-turbo')!;
    expect(turbo.batch.cn).toMatchObject({ names: ['qwen-omni-turbo'], percent: 50, per_million: { inputAudio: '12.500000' } });
    expect(turbo.batch.intl).toBeUndefined();
    const text = renderCatalog(describeCatalog());
    expect(text).toMatch(/batch cn: qwen-omni-turbo at 50% of the price, text out \(004_/);
    expect(text).toMatch(/qwen3-omni-flash[\s\S]*?batch: not served/);
  });
});

describe('--via batch refusals (before any run exists)', () => {
  it.each([
    [{ protocol: 'responses' as const }, /needs --protocol chat/],
    [{ protocol: 'dashscope' as const }, /needs --protocol chat/],
    [{ region: 'intl' as const }, /does not serve qwen-omni-turbo in region intl/],
    [{ model: 'qwen3-omni-30b-a3b-captioner' }, /not served by the Batch API in any region/],
    [{ model: 'qwen3-omni-flash' }, /not served by the Batch API/],
    [{ model: 'qwen-omni-turbo-latest' }, /takes qwen-omni-turbo, not the name qwen-omni-turbo-latest/],
    [{ task: 'speak', audioOut: true }, /speak asks for speech.*text output only/],
  ])('%o', (change, message) => {
    const why = batchRefusal({ ...ask, ...change });
    expect(why).toMatch(message);
    expect(why).toMatch(/Batch serves qwen-omni-turbo \(cn\), qwen3\.5-omni-plus \(cn\)|--via realtime/);
  });

  it('accepts what it serves', () => expect(batchRefusal(ask)).toBeUndefined());

  it('buildRunSpec refuses with batch_unsupported and keeps via on an accepted spec', async () => {
    expect((await refused(() => buildRunSpec({ ...req, task: 'caption' }, cn, newRunId()))).code).toBe('batch_unsupported');
    expect((await refused(() => buildRunSpec({ ...req, task: 'speak', model: 'qwen-omni-turbo' }, cn, newRunId()))).code).toBe('batch_unsupported');
    expect((await refused(() => buildRunSpec({ ...req, task: 'transcribe', model: 'qwen-omni-turbo' }, loadConfig({ env: {} }), newRunId()))).code).toBe(
      'batch_unsupported',
    );
    const spec = buildRunSpec({ ...req, task: 'transcribe', model: 'qwen-omni-turbo' }, cn, newRunId());
    expect(spec.via).toBe('batch');
    expect(buildRunSpec({ ...req, via: undefined, task: 'transcribe', model: 'qwen-omni-turbo' }, cn, newRunId()).via).toBeUndefined();
    expect((await refused(() => buildRunSpec({ ...req, via: 'carrier-pigeon', task: 'transcribe' }, cn, newRunId()))).message).toMatch(/realtime or batch/);
  });
});
