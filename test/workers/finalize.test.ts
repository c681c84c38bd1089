/** finalize over fakes: the whole file's outputs from its staged results, on the duration its payload carries. */
import { describe, expect, it } from 'vitest';
import type { FinalizePayload } from '../../src/jobs/catalog.ts';
import { stagedKey } from '../../src/lifecycle/file-state.ts';
import { findModel } from '../../src/models/catalog.ts';
import { outputKey } from '../../src/storage/keys.ts';
import { runFinalize } from '../../src/workers/finalize.ts';
import { planFinalize } from '../../src/workers/finalize-decide.ts';
import { chunkResult, fakeFinalizePorts } from '../fakes/finalize.ts';
import { fakeSpec } from '../fakes/infer.ts';

const payload = (over: Partial<FinalizePayload> = {}): FinalizePayload => ({ runId: 'r1', fileId: 'f1', key: 'in/a.mp3', chunks: 2, durationS: 50, ...over });

describe('planFinalize', () => {
  it('orders the results and totals them', () => {
    const plan = planFinalize({ key: 'k', expected: 2, found: [chunkResult(1, 30, 50, 2), chunkResult(0, 0, 30)], durationS: 50 });
    expect(plan.chunks.map((c) => c.index)).toEqual([0, 1]);
    expect(plan).toMatchObject({ durationS: 50, requests: 3, cost: { amountMicros: 20, currency: 'USD', priced: true } });
    expect(plan.usage.input.audio).toBe(200);
  });

  it.each([
    ['a result missing', [chunkResult(0, 0, 30)], 50],
    ['no duration anywhere', [chunkResult(0, 0, 30), chunkResult(1, 30, 50)], undefined],
  ])('%s is staging_missing', (_name, found, durationS) => {
    expect(() => planFinalize({ key: 'k', expected: 2, found, durationS })).toThrow(expect.objectContaining({ code: 'staging_missing' }));
  });
});

describe('runFinalize', () => {
  const stage = (f: ReturnType<typeof fakeFinalizePorts>) => {
    f.dst.putJson(stagedKey('r1', 'f1', undefined, 0, 'result.json'), chunkResult(0, 0, 30));
    f.dst.putJson(stagedKey('r1', 'f1', undefined, 1, 'result.json'), chunkResult(1, 30, 50));
  };

  it('writes the outputs, the result JSON last, and finishes the file, on the duration its payload carries', async () => {
    const f = fakeFinalizePorts(fakeSpec());
    stage(f);
    const r = await runFinalize(payload(), f.ports);
    expect(r).toMatchObject({ outputs: expect.arrayContaining([outputKey('in/a.mp3', 'json')]) });
    expect((r as { outputs: string[] }).outputs.at(-1)).toBe(outputKey('in/a.mp3', 'json'));
    const doc = f.dst.json<{ text: string; source: { duration_s: number } }>(outputKey('in/a.mp3', 'json'));
    expect(doc?.source.duration_s).toBe(50);
    expect(doc?.text.indexOf('chunk 0')).toBeLessThan(doc?.text.indexOf('chunk 1') ?? -1);
    expect(f.finished).toEqual([expect.objectContaining({ status: 'succeeded', durationS: 50, chunks: 2, requests: 2, costMicros: 20 })]);
  });

  it('a job queued before the payload carried the duration reads it from prepared.json', async () => {
    const f = fakeFinalizePorts(fakeSpec());
    stage(f);
    f.dst.putJson(stagedKey('r1', 'f1', undefined, 0, 'prepared.json'), { durationS: 49, chunks: [] });
    await runFinalize(payload({ durationS: undefined }), f.ports);
    expect(f.finished[0].durationS).toBe(49);
  });

  it('names the model by the entry the run resolved at creation, not by a lookup of its name in this process', async () => {
    // a catalog file's entry this process's catalogue does not hold: only the spec knows what the name stood for
    const entry = { ...findModel('qwen3-omni-flash')!, id: 'house-omni' };
    const f = fakeFinalizePorts(fakeSpec({ model: 'house-omni-latest', modelEntry: entry }));
    stage(f);
    await runFinalize(payload(), f.ports);
    expect(findModel('house-omni-latest')).toBeUndefined();
    expect(f.dst.json(outputKey('in/a.mp3', 'json'))).toMatchObject({ model: 'house-omni-latest', model_id: 'house-omni' });
  });

  it('reads prepared.json only for subtitles (the speech under the cues) or an older job without the duration', async () => {
    const prepared = stagedKey('r1', 'f1', undefined, 0, 'prepared.json');
    const plain = fakeFinalizePorts(fakeSpec({ task: 'describe' }));
    stage(plain);
    await runFinalize(payload(), plain.ports);
    expect(plain.dst.reads).not.toContain(prepared);
    expect(plain.finished[0]).toMatchObject({ status: 'succeeded', durationS: 50 });

    const subtitled = fakeFinalizePorts(fakeSpec({ task: 'transcribe' }));
    stage(subtitled);
    // chunk 0 is silent until 12 s: its cue starts where its speech does
    subtitled.dst.putJson(prepared, {
      durationS: 50,
      chunks: [{ index: 0, startS: 0, endS: 30, key: 'k0', format: 'mp3', kind: 'audio', speech: [[12, 30]] }],
    });
    const r = (await runFinalize(payload(), subtitled.ports)) as { outputs: string[] };
    expect(subtitled.dst.reads).toContain(prepared);
    const srt = subtitled.dst.text(r.outputs.find((k) => k.endsWith('.srt'))!);
    expect(srt).toMatch(/^1\n00:00:12,000 --> /);
  });

  it('skips a file already finished or re-planned, writing nothing', async () => {
    for (const opts of [{ open: false }, { superseded: true }]) {
      const f = fakeFinalizePorts(fakeSpec(), opts);
      stage(f);
      expect(await runFinalize(payload(), f.ports)).toHaveProperty('skipped');
      expect(f.finished).toEqual([]);
      expect(f.dst.text(outputKey('in/a.mp3', 'json'))).toBeUndefined();
    }
  });
});
