import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { estimateChunkTokens } from '../../src/cost/estimate.ts';
import { packedChunkSeconds, packedRequestTokens } from '../../src/cost/packing.ts';
import { buildRunSpec } from '../../src/producers/run.ts';

const flash = { model: 'qwen3-omni-flash', region: 'intl' as const, task: 'transcribe' as const };
const requestTokens = (s: number) => {
  const t = estimateChunkTokens(s, flash);
  return t.input + t.output;
};

describe('chunks packed for the TPM window', () => {
  it('shortens a chunk until its request is at most 1/16 of the minute: the longest that is', () => {
    const s = packedChunkSeconds(300, { ...flash, tpm: 40_000, rpm: 300 });
    expect(s).toBeLessThan(300);
    expect(requestTokens(s)).toBeLessThanOrEqual(2_500);
    expect(requestTokens(s + 1)).toBeGreaterThan(2_500);
  });

  it('leaves chunks that already pack alone (a 100,000 TPM account keeps 300-s transcripts)', () => {
    expect(packedChunkSeconds(300, { ...flash, tpm: 100_000, rpm: 60 })).toBe(300);
    expect(packedChunkSeconds(30, { ...flash, task: 'caption', model: 'qwen3-omni-30b-a3b-captioner', tpm: 40_000, rpm: 300 })).toBe(30);
  });

  it('never takes more requests a minute than 90 % of the RPM allows, nor halves a chunk more than once', () => {
    // at 10 RPM a minute's 40,000 tokens need requests of 4,444 tokens: shorter ones could not use the quota
    expect(packedRequestTokens(40_000, 10)).toBeCloseTo(4_444.4, 0);
    const s = packedChunkSeconds(300, { ...flash, tpm: 40_000, rpm: 10 });
    expect(requestTokens(s)).toBeLessThanOrEqual(4_445);
    expect(requestTokens(s + 1)).toBeGreaterThan(4_444);
    expect(packedChunkSeconds(300, { ...flash, tpm: 100 })).toBe(150);
    expect(packedChunkSeconds(30, { ...flash, task: 'caption', model: 'qwen3-omni-30b-a3b-captioner', tpm: 2_000 })).toBe(15);
  });

  it('is what a run with --tpm plans, without changing its fingerprint; a length asked for wins', () => {
    const req = { source: '/in', destination: '/out', task: 'transcribe' };
    const plain = buildRunSpec(req, loadConfig({ env: {} }), 'r1');
    const quota = loadConfig({ env: { OMNIBATCH_TPM: '40000', OMNIBATCH_RPM: '300' } });
    const packed = buildRunSpec(req, quota, 'r2');
    expect(plain.chunkSeconds).toBeUndefined();
    expect(packed.chunkSeconds).toBe(packedChunkSeconds(300, { ...flash, tpm: 40_000, rpm: 300, prompt: packed.prompt }));
    // a rate decision: an earlier run's results at another --tpm are still this run's
    expect(packed.fingerprint).toBe(plain.fingerprint);
    expect(buildRunSpec({ ...req, chunkSeconds: 240 }, quota, 'r3').chunkSeconds).toBe(240);
  });
});
