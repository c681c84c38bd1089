/**
 * Catalog files (`--catalog`, OMNIBATCH_CATALOG): validated whole at load, merged over the built-in entries,
 * shown with their origin by `omnibatch models`; a model neither has is refused with the entry to add.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelDescription } from '../../src/cli/models-table.ts';
import { loadConfig } from '../../src/config/index.ts';
import { costOf, resolvePrices } from '../../src/cost/price.ts';
import { BUILT_IN, batchServed, type Catalog, useCatalog } from '../../src/models/catalog.ts';
import { catalogSnippet, loadCatalogFile, parseCatalog } from '../../src/models/catalog-file.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { OmniError } from '../../src/util/errors.ts';
import { runCli } from '../helpers/cli.ts';
import { media, REPO_ROOT } from '../helpers/paths.ts';
import { SEED_004_USAGE } from '../helpers/seed-usage.ts';

const FILE = path.join(REPO_ROOT, 'test/fixtures/catalog/new-model.json');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'omni-catalog-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function errorOf(fn: () => unknown): OmniError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OmniError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('loading a catalog file', () => {
  it('adds a new model with its names, limits, prices in micro-units and their source, and its Batch offer', () => {
    const c = loadCatalogFile(FILE);
    const m = c.find('qwen3.5-omni-flash-all')!;
    expect(m.id).toBe('qwen3.5-omni-flash');
    expect(m.aliases).toEqual(['qwen3.5-omni-flash-all']);
    expect(c.serves('qwen3.5-omni-flash', 'chat')).toBe(true);
    expect(c.serves('qwen3.5-omni-flash', 'responses')).toBe(false);
    expect(m.limits).toMatchObject({ maxInputTokens: 65536, audio: { maxSeconds: 3600 }, urlMaxBytes: 1024 * 1024 * 1024 });
    expect(m.limits.base64MaxChars).toBeUndefined();
    // unspecified token rules are qwen3's
    expect(m.tokens).toEqual({ ...BUILT_IN.models['qwen3-omni-flash'].tokens, audioTokensPerSecond: 12.5 });
    expect(m.prices.intl).toEqual({
      currency: 'USD',
      inputText: 200_000,
      inputAudio: 2_500_000,
      outputTextTextOnly: 1_200_000,
      outputTextMultimodal: 2_000_000,
      outputAudio: 10_000_000,
    });
    expect(m.priceSources.intl).toMatch(/^unverified/);
    expect(m.batch).toEqual({ intl: { names: ['qwen3.5-omni-flash'], percent: 50, outputs: ['text'], source: expect.stringMatching(/^unverified/) } });
    expect(m.voices).toMatchObject({ names: ['Tina', 'Cherry'], documented: 55, closed: false });
    expect(m.origin).toEqual({ kind: 'catalog', file: FILE, fields: expect.arrayContaining(['names', 'limits.audio', 'prices.intl']) });
    // the built-in entries stay, untouched
    expect(c.models['qwen3-omni-flash']).toBe(BUILT_IN.models['qwen3-omni-flash']);
  });

  it('merges an entry under a built-in id field by field: one price changes, the rest and the sources stay', () => {
    const turbo = loadCatalogFile(FILE).models['qwen-omni-turbo'];
    const builtIn = BUILT_IN.models['qwen-omni-turbo'];
    expect(turbo.prices.intl).toEqual({ ...builtIn.prices.intl, inputText: 80_000 });
    expect(turbo.prices.cn).toEqual(builtIn.prices.cn);
    expect(turbo.names).toEqual(builtIn.names);
    expect(turbo.limits).toEqual(builtIn.limits);
    // the Batch offer too: the share and its source change, the names and outputs stay
    expect(turbo.batch).toEqual({ cn: { ...builtIn.batch!.cn, percent: 40, source: 'unverified: test fixture (a changed Batch share)' } });
    expect(turbo.origin).toEqual({ kind: 'catalog', file: FILE, over: 'built-in', fields: ['batch.cn', 'prices.intl'] });
  });

  it('refuses a bad file with one error that lists every bad field', () => {
    const bad = {
      models: {
        'qwen3.8-omni-flash': {
          names: [{ name: 'qwen3.8-omni-flash', protocols: ['grpc'], source: 'x' }],
          inputs: ['audio'],
          outputs: ['text'],
          limits: { maxInputTokens: -5, maxOutputTokenz: 10 },
        },
        'qwen3-omni-flash': { prices: { intl: { currency: 'EUR' } } },
        'qwen-omni-turbo': { names: [{ name: 'qwen3-omni-flash-all', protocols: ['responses'], source: 'x' }] },
      },
    };
    const e = errorOf(() => parseCatalog(JSON.stringify(bad), 'bad.json'));
    expect(e.code).toBe('catalog_invalid');
    for (const field of [
      'models.qwen3.8-omni-flash.names.0.protocols.0',
      'models.qwen3.8-omni-flash.limits.maxInputTokens',
      'models.qwen3.8-omni-flash.limits',
      'models.qwen3-omni-flash.prices.intl.currency',
    ]) {
      expect(e.message).toContain(`  - ${field}:`);
    }
    // a valid shape with what a new model lacks, and a name owned by another model: every problem at once
    const incomplete = {
      models: {
        'qwen3.8-omni-flash': { names: [{ name: 'qwen3.8-omni-flash', protocols: ['chat'], source: 'x' }], inputs: ['audio'], outputs: ['text', 'audio'] },
        'qwen-omni-turbo': { names: [{ name: 'qwen3-omni-flash-all', protocols: ['responses'], source: 'x' }] },
        'qwen3-omni-flash-all': { acceptsPrompt: true },
        'qwen2.5-omni-7b': { prices: { intl: { currency: 'USD', inputAudio: 1 } } },
      },
    };
    const e2 = errorOf(() => parseCatalog(JSON.stringify(incomplete), 'incomplete.json'));
    expect(e2.message).toMatch(/has 9 bad field/);
    for (const field of [
      'models.qwen3.8-omni-flash.limits.maxInputTokens: required',
      'models.qwen3.8-omni-flash.limits.maxOutputTokens: required',
      'models.qwen3.8-omni-flash.tokens.audioTokensPerSecond: required',
      'models.qwen3.8-omni-flash.limits.audio.maxSeconds: required',
      'models.qwen3.8-omni-flash.limits.audio.maxBytes: required',
      'models.qwen3.8-omni-flash.defaultVoice: required',
      'models.qwen-omni-turbo.names: "qwen3-omni-flash-all" is already a name of qwen3-omni-flash',
      'models.qwen3-omni-flash-all: "qwen3-omni-flash-all" is a name of the built-in qwen3-omni-flash',
      'models.qwen2.5-omni-7b.priceSources.intl: a price table needs its source',
    ]) {
      expect(e2.message).toContain(field);
    }
    expect(errorOf(() => parseCatalog('{"models": ', 'x.json')).code).toBe('catalog_invalid');
  });
});

describe('a model neither catalogue has', () => {
  it('is refused by run with the entry to add; that entry, pasted into a catalog file, is valid and makes the name usable', () => {
    const cfg = loadConfig({ env: { OMNI_PROTOCOL: 'chat' } });
    const e = errorOf(() => buildRunSpec({ source: 'x', destination: 'y', task: 'transcribe', model: 'qwen3.8-omni-flash' }, cfg, newRunId()));
    expect(e.code).toBe('model_unknown');
    expect(e.message).toMatch(/--catalog <file> or OMNIBATCH_CATALOG/);
    const snippet = e.message.slice(e.message.indexOf('{'));
    const c = parseCatalog(snippet, 'pasted.json');
    expect(c.serves('qwen3.8-omni-flash', 'chat')).toBe(true);
    expect(c.find('qwen3.8-omni-flash')!.prices).toEqual({});
  });

  it('omnibatch ask refuses it the same way, before any request', async () => {
    const jfk = media('whisper__jfk.flac');
    const r = await runCli(['ask', jfk, '--model', 'qwen3.8-omni-flash'], {
      env: { OMNI_API_KEY: 'sk-x', OMNI_BASE_URL: 'http://127.0.0.1:9/compatible-mode/v1', OMNIBATCH_CATALOG: undefined },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/omnibatch: model_unknown: unknown model "qwen3.8-omni-flash"/);
    expect(r.stderr).toContain('"qwen3.8-omni-flash": {');
  });
});

describe("a schedule's stored entry", () => {
  it('builds the run in a process without the catalog file (a firing in another worker)', async () => {
    const { activeCatalog, useCatalog } = await import('../../src/models/catalog.ts');
    const entry = loadCatalogFile(FILE).models['qwen3.5-omni-flash'];
    const cfg = loadConfig({ env: { OMNI_PROTOCOL: 'chat' } });
    const req = { source: 'x', destination: 'y', task: 'transcribe', model: 'qwen3.5-omni-flash' };
    expect(activeCatalog().find('qwen3.5-omni-flash')).toBeUndefined();
    expect(errorOf(() => buildRunSpec(req, cfg, newRunId())).code).toBe('model_unknown');
    try {
      const spec = buildRunSpec({ ...req, modelEntry: entry }, cfg, newRunId());
      expect(spec.modelEntry).toEqual(entry);
      expect(resolvePrices(spec.model, 'intl')?.inputAudio).toBe(2_500_000);
    } finally {
      useCatalog(BUILT_IN);
    }
  });
});

describe('omnibatch models', () => {
  it('shows where each entry came from: built-in seed, catalog file, or a catalog file over the built-in one', async () => {
    const r = await runCli(['models', '--json', '--catalog', FILE], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const models = JSON.parse(r.stdout) as ModelDescription[];
    const origin = Object.fromEntries(models.map((m) => [m.id, m.origin]));
    expect(origin['qwen3-omni-flash']).toBe('built-in seed');
    expect(origin['qwen3.5-omni-flash']).toBe(`catalog file ${FILE}`);
    expect(origin['qwen-omni-turbo']).toBe(`built-in seed + catalog file ${FILE} (batch.cn, prices.intl)`);
    // the file's Batch offer is the one models shows, priced at its share
    expect(models.find((m) => m.id === 'qwen3.5-omni-flash')!.batch.intl).toMatchObject({
      names: ['qwen3.5-omni-flash'],
      percent: 50,
      per_million: { inputAudio: '1.250000' },
    });
    // OMNIBATCH_CATALOG does the same; the text form says it too
    const t = await runCli(['models'], { env: { OMNIBATCH_CATALOG: FILE }, timeoutMs: 60_000 });
    expect(t.stdout).toContain(`qwen3.5-omni-flash  (catalog file ${FILE})`);
    expect(t.stdout).toContain('batch intl: qwen3.5-omni-flash at 50% of the price, text out (unverified: test fixture standing in for the Batch page)');
    expect(t.stdout).toContain('batch cn: qwen-omni-turbo at 40% of the price, text out (unverified: test fixture (a changed Batch share))');
  });

  it('a bad catalog file stops the command with every bad field', async () => {
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ models: { 'new-one': { inputs: ['smell'] } } }));
    const r = await runCli(['models', '--catalog', bad], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/catalog_invalid: catalog file .*bad\.json has \d+ bad field/);
    expect(r.stderr).toContain('models.new-one.inputs.0');
  });
});

describe('--pricing still overrides prices only, over a catalog entry too', () => {
  it('resolves the catalog price, then the override on top', async () => {
    const { useCatalog } = await import('../../src/models/catalog.ts');
    useCatalog(loadCatalogFile(FILE));
    try {
      expect(resolvePrices('qwen3.5-omni-flash', 'intl')?.inputAudio).toBe(2_500_000);
      expect(resolvePrices('qwen3.5-omni-flash', 'intl', { 'qwen3.5-omni-flash': { intl: { inputAudio: 3 } } })?.inputAudio).toBe(3_000_000);
    } finally {
      useCatalog(BUILT_IN);
    }
  });
});

describe("a catalog file's Batch offer is the one pricing and --via batch refusals read", () => {
  // the seed's worked example: 0.0064 元 in real time, 0.0032 元 at the built-in 50%
  const usage = SEED_004_USAGE;
  const batchReq = { source: 's3://b/in/', destination: 's3://b/out/', task: 'transcribe', via: 'batch' };
  const cn = loadConfig({ env: { OMNI_REGION: 'cn', OMNI_PROTOCOL: 'chat' } });
  const intl = loadConfig({ env: { OMNI_REGION: 'intl', OMNI_PROTOCOL: 'chat' } });
  const withCatalog = (c: Catalog, fn: () => void): void => {
    useCatalog(c);
    try {
      fn();
    } finally {
      useCatalog(BUILT_IN);
    }
  };

  it('a share it changes, or an offer it adds, is the price estimate --via batch and the ledger use', () => {
    expect(costOf(usage, 'qwen-omni-turbo', 'cn', undefined, 'batch').amountMicros).toBe(3200);
    withCatalog(loadCatalogFile(FILE), () => {
      expect(costOf(usage, 'qwen-omni-turbo', 'cn').amountMicros).toBe(6400);
      expect(costOf(usage, 'qwen-omni-turbo', 'cn', undefined, 'batch').amountMicros).toBe(2560);
      // a new model's offer: half its own table, and --via batch takes it
      expect(resolvePrices('qwen3.5-omni-flash', 'intl', undefined, 'batch')).toEqual({
        currency: 'USD',
        inputText: 100_000,
        inputAudio: 1_250_000,
        outputTextTextOnly: 600_000,
        outputTextMultimodal: 1_000_000,
        outputAudio: 5_000_000,
      });
      expect(batchServed()).toEqual(['qwen-omni-turbo (cn)', 'qwen3.5-omni-plus (cn)', 'qwen3.5-omni-flash (intl)']);
      expect(buildRunSpec({ ...batchReq, model: 'qwen3.5-omni-flash' }, intl, newRunId()).via).toBe('batch');
    });
  });

  it('a region set to null, or an entry that gives none, refuses --via batch with batch_unsupported', () => {
    const gone = parseCatalog(JSON.stringify({ models: { 'qwen-omni-turbo': { batch: { cn: null } } } }), 'gone.json');
    expect(gone.models['qwen-omni-turbo'].batch).toBeUndefined();
    expect(gone.models['qwen-omni-turbo'].origin).toMatchObject({ fields: ['batch.cn'] });
    withCatalog(gone, () => {
      expect(resolvePrices('qwen-omni-turbo', 'cn', undefined, 'batch')).toBeUndefined();
      const e = errorOf(() => buildRunSpec({ ...batchReq, model: 'qwen-omni-turbo' }, cn, newRunId()));
      expect(e.code).toBe('batch_unsupported');
      expect(e.message).toMatch(/^qwen-omni-turbo is not served by the Batch API in any region\. Batch serves qwen3\.5-omni-plus \(cn\) over/);
    });
    // a new model whose entry says nothing of Batch (the entry a model_unknown refusal offers)
    withCatalog(parseCatalog(catalogSnippet('qwen3.8-omni-flash', 'chat'), 'pasted.json'), () => {
      expect(buildRunSpec({ ...batchReq, via: undefined, model: 'qwen3.8-omni-flash' }, cn, newRunId()).model).toBe('qwen3.8-omni-flash');
      expect(errorOf(() => buildRunSpec({ ...batchReq, model: 'qwen3.8-omni-flash' }, cn, newRunId())).code).toBe('batch_unsupported');
    });
  });

  it('refuses the old batchRate, a new offer without its names or share, and a name the chat endpoint does not serve', () => {
    const e = errorOf(() =>
      parseCatalog(
        JSON.stringify({
          models: {
            'qwen-omni-turbo': { batchRate: { rate: 0.5, source: 'x' } },
            'qwen3-omni-flash': { batch: { cn: { source: 'x' }, intl: { names: ['qwen3-omni-flash-all'], percent: 50, source: 'x' } } },
          },
        }),
        'old.json',
      ),
    );
    expect(e.code).toBe('catalog_invalid');
    expect(e.message).toMatch(/has 4 bad field/);
    expect(e.message).toContain('models.qwen-omni-turbo.batchRate: replaced by the per-region offer that pricing and --via batch read');
    expect(e.message).toContain('models.qwen3-omni-flash.batch.cn.names: required');
    expect(e.message).toContain('models.qwen3-omni-flash.batch.cn.percent: required');
    expect(e.message).toContain('models.qwen3-omni-flash.batch.intl.names: "qwen3-omni-flash-all" is not a name of qwen3-omni-flash on the chat protocol');
    // an offer without its source is refused like a price table without one
    expect(errorOf(() => parseCatalog(JSON.stringify({ models: { 'qwen-omni-turbo': { batch: { cn: { percent: 40 } } } } }), 's.json')).message).toContain(
      'models.qwen-omni-turbo.batch.cn.source',
    );
  });
});
