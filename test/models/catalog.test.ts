/** The catalogue's facts carry their sources, and `omnibatch models` prints them. */
import { describe, expect, it } from 'vitest';
import { describeCatalog, renderCatalog } from '../../src/cli/models-table.ts';
import { MODELS, voicesFor } from '../../src/models/catalog.ts';
import { runCli } from '../helpers/cli.ts';

const SOURCE = /^(00[0-4]_[0-9a-f]{16}\.txt:\d+|unverified)/;

describe('the catalogue', () => {
  it('gives every price table, name and voice list a source: a seed line or "unverified"', () => {
    for (const m of Object.values(MODELS)) {
      for (const region of Object.keys(m.prices) as (keyof typeof m.prices)[]) expect(m.priceSources[region], `${m.id} ${region}`).toMatch(SOURCE);
      for (const n of m.names) expect(n.source, n.name).toMatch(SOURCE);
      expect(m.voices.source).toMatch(SOURCE);
      expect(new Set(m.voices.names).size).toBe(m.voices.names.length);
      expect(m.aliases).toEqual(m.names.map((n) => n.name).filter((n) => n !== m.id));
    }
  });

  it("knows each seed's voice list by name: 17 on DashScope, 49 for the DMXAPI -all name, 6 of 55 for qwen3.5-omni-plus", () => {
    expect(voicesFor('qwen3-omni-flash').names).toHaveLength(17);
    expect(voicesFor('qwen3-omni-flash-all').names).toHaveLength(49);
    expect(voicesFor('qwen3-omni-flash-all').names).toContain('Serena');
    expect(voicesFor('qwen3.5-omni-plus-all')).toMatchObject({ documented: 55, closed: false });
    expect(voicesFor('qwen-omni-turbo-0119')).toMatchObject({ names: ['Cherry', 'Serena', 'Ethan', 'Chelsie'], closed: true });
  });

  it('`omnibatch models` prints names, protocols, limits, voices and prices with their sources', async () => {
    const { code, stdout, stderr } = await runCli(['models', '--json'], { timeoutMs: 60_000 });
    expect(code, stderr).toBe(0);
    const models = JSON.parse(stdout) as ReturnType<typeof describeCatalog>;
    expect(models).toEqual(JSON.parse(JSON.stringify(describeCatalog())));
    const flash = models.find((m) => m.id === 'qwen3-omni-flash')!;
    expect(flash.names).toContainEqual({ name: 'qwen3-omni-flash-all', protocols: ['responses'], source: '000_140c921e6e1fa389.txt:46', voices: 49 });
    expect(flash.limits).toMatchObject({ max_input_tokens: 49_152, max_input_tokens_thinking: 16_384, max_output_tokens: 16_384 });
    const captioner = models.find((m) => m.id === 'qwen3-omni-30b-a3b-captioner')!;
    expect(captioner.prices.intl).toEqual({
      currency: 'USD',
      source: '003_2471c9f9fd3ad8bb.txt:6',
      per_million: {
        inputText: '3.810000',
        inputAudio: '3.810000',
        inputImage: null,
        inputVideo: null,
        outputTextTextOnly: '3.060000',
        outputTextMultimodal: '3.060000',
        outputAudio: null,
      },
    });
    const text = renderCatalog(models);
    expect(text).toContain('name qwen-omni-turbo-0119  [chat]  (004_d822c83e2c1d0130.txt:65 (又称))');
    expect(text).toMatch(/prices cn \(CNY\/1M tokens; 004_d822c83e2c1d0130\.txt:72 \(outputAudio unverified\)\): inputText 0\.400000/);
    expect(text).toContain('qwen3.5-omni-plus  (built-in seed)\n');
    expect(text).toContain('prices: none published (unpriced)');
  });
});
