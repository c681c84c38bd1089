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
import { resolvePrices } from '../../src/cost/price.ts';
import { BUILT_IN } from '../../src/models/catalog.ts';
import { loadCatalogFile, parseCatalog } from '../../src/models/catalog-file.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { OmniError } from '../../src/util/errors.ts';
import { runCli } from '../helpers/cli.ts';
import { media, REPO_ROOT } from '../helpers/paths.ts';

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
  it('adds a new model with its names, limits, prices in micro-units and their source, and its Batch rate', () => {
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
    expect(m.batchRate).toEqual({ rate: 0.5, source: 'unverified: test fixture' });
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
    expect(turbo.batchRate).toEqual({ rate: 0.5, source: '004_d822c83e2c1d0130.txt:71' });
    expect(turbo.origin).toEqual({ kind: 'catalog', file: FILE, over: 'built-in', fields: ['batchRate', 'prices.intl'] });
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
        'qwen3-omni-flash-all': { batchRate: { rate: 0.5, source: 'x' } },
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
    expect(origin['qwen-omni-turbo']).toBe(`built-in seed + catalog file ${FILE} (batchRate, prices.intl)`);
    expect(models.find((m) => m.id === 'qwen3.5-omni-flash')!.batch_rate).toEqual({ rate: 0.5, source: 'unverified: test fixture' });
    // OMNIBATCH_CATALOG does the same; the text form says it too
    const t = await runCli(['models'], { env: { OMNIBATCH_CATALOG: FILE }, timeoutMs: 60_000 });
    expect(t.stdout).toContain(`qwen3.5-omni-flash  (catalog file ${FILE})`);
    expect(t.stdout).toContain('batch: 0.5 x the list price (004_d822c83e2c1d0130.txt:71)');
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
