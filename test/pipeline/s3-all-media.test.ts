/**
 * A caption run over every test medium (the built-in corpus, plus ../shared/media when it is there) uploaded to s3rver: a result for each readable file with
 * audio, a failure row with a specific code for each broken or audio-less one, and the money adding up from
 * the emulator's billing to the CSV.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../src/storage/index.ts';
import type { Storage } from '../../src/storage/types.ts';
import { audioTaskFailure, corpus } from '../helpers/paths.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { type S3rverHandle, startS3rver } from '../helpers/s3rver.ts';

describe('caption run over every test medium on s3rver', () => {
  let s3: S3rverHandle;
  let h: Harness;
  let store: Storage;
  let files: string[];
  let broken: Record<string, string>;
  beforeAll(async () => {
    s3 = await startS3rver({ buckets: ['media-it'] });
    Object.assign(process.env, s3.env);
    h = await startHarness({ env: { ...s3.env, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true' } });
    store = openStorage('s3://media-it/', { s3Endpoint: s3.endpoint, s3ForcePathStyle: true });
    const all = corpus();
    files = all.map((f) => f.key);
    broken = Object.fromEntries(
      all.flatMap((f) => {
        const code = audioTaskFailure(f);
        return code ? [[f.key, code]] : [];
      }),
    );
    for (const f of all) await store.upload(f.file, `in/${f.key}`);
    await h.startWorkers({ inferConcurrency: 8, prepareConcurrency: 2 });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await s3?.stop();
  });

  it('gives every file a result or a coded failure, and the costs agree everywhere', async () => {
    const state = await h.run({ source: 's3://media-it/in/', destination: 's3://media-it/out/', task: 'caption' });
    const runId = state.spec.runId;
    expect(state.counts.total).toBe(files.length);
    expect(state.counts.succeeded + state.counts.failed).toBe(files.length);

    const failures = (await store.getText(`out/_runs/${runId}/failures.jsonl`))!
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const failed = Object.fromEntries(failures.map((f) => [f.uri.replace('s3://media-it/in/', ''), f.code]));
    expect(failed).toEqual(broken);
    expect(Object.keys(broken).length).toBeGreaterThanOrEqual(4);
    for (const f of files.filter((x) => !(x in broken))) {
      const doc = JSON.parse((await store.getText(`out/${f}.json`))!);
      expect(doc.chunks.length, f).toBeGreaterThan(0);
      expect(doc.text.length, f).toBeGreaterThan(0);
      expect(await store.exists(`out/${f}.srt`), f).toBe(true);
    }

    const report = JSON.parse((await store.getText(`out/_runs/${runId}/report.json`))!);
    expect(report.counts).toMatchObject({
      total: files.length,
      succeeded: files.length - Object.keys(broken).length,
      failed: Object.keys(broken).length,
      skipped: 0,
    });
    let sumResults = 0;
    for (const f of files.filter((x) => !(x in broken))) sumResults += JSON.parse((await store.getText(`out/${f}.json`))!).cost.amount_micros;
    const csv = (await store.getText(`out/_runs/${runId}/cost.csv`))!.trim().split('\n');
    const header = csv[0].split(',');
    const col = header.indexOf('cost_micros');
    // The CSV's URIs may be quoted (commas, quotes): take the cost from the end of each line.
    const csvTotal = csv.slice(1).reduce((n, line) => n + Number(line.split(',').at(col - header.length) || 0), 0);
    const billed = h.emulator.stats().billed['qwen3-omni-30b-a3b-captioner'];
    const fromBilling = Math.round((billed.input.audio * 3_810_000 + billed.output.text * 3_060_000) / 1e6);
    expect(report.cost.actual.amount_micros).toBe(sumResults);
    expect(csvTotal).toBe(sumResults);
    // Per-chunk rounding to whole micro-units: at most one micro-unit per chunk apart.
    expect(Math.abs(fromBilling - sumResults)).toBeLessThanOrEqual(state.counts.succeeded);
  }, 240_000); // ~75 files when ../shared/media is there, on two shared cores
});
