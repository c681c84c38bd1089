/** The progress series on real Redis: capped, expiring, gated across workers, written by finishFile. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Context, createContext } from '../../src/app/context.ts';
import { loadConfig } from '../../src/config/index.ts';
import { finishFile } from '../../src/lifecycle/file-state.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { appendSample, readSeries, SERIES_RETENTION_MS, sampleIntervalMs, sampleProgress, seriesKey } from '../../src/runs/series.ts';
import type { FileState, RunSpec } from '../../src/runs/types.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { dropKeys } from '../helpers/redis.ts';

const prefix = `test-series-${randomUUID().slice(0, 8)}`;
let ctx: Context;
let out: string;

const file = (id: string): FileState => ({ key: `${id}.mp3`, uri: `file:///in/${id}.mp3`, etag: 'e', size: 1, status: 'pending' });

async function newRun(createdAt: Date, files: string[]): Promise<RunSpec> {
  const spec = buildRunSpec({ source: '/in', destination: out, task: 'caption' }, ctx.cfg, newRunId(createdAt), createdAt);
  await ctx.runs.create(spec);
  for (const id of files) await ctx.runs.registerFile(spec.runId, id, file(id));
  await ctx.runs.scanDone(spec.runId);
  return spec;
}

beforeAll(() => {
  ctx = createContext(loadConfig({ flags: { queuePrefix: prefix, logLevel: 'silent' } }), silentLogger);
  out = mkdtempSync(path.join(os.tmpdir(), 'omnibatch-series-'));
});

afterAll(async () => {
  await dropKeys(ctx.redis, prefix);
  await ctx.close();
  rmSync(out, { recursive: true, force: true });
});

describe('progress series', () => {
  it('keeps the last samples in order, compact, expiring with the run', async () => {
    for (let i = 0; i < 7; i++) await appendSample(ctx.redis, ctx.keyPrefix, 'r1', { t: i, done: i, failed: 0, costMicros: 10 * i, mediaMs: 100 * i }, 5);
    const s = await readSeries(ctx.redis, ctx.keyPrefix, 'r1');
    expect(s.map((x) => x.t)).toEqual([2, 3, 4, 5, 6]);
    expect(s[4]).toEqual({ t: 6, done: 6, failed: 0, costMicros: 60, mediaMs: 600 });
    expect(await ctx.redis.lindex(seriesKey(ctx.keyPrefix, 'r1'), -1)).toBe('[6,6,0,60,600]');
    const ttl = await ctx.redis.pttl(seriesKey(ctx.keyPrefix, 'r1'));
    expect(ttl).toBeGreaterThan(SERIES_RETENTION_MS - 60_000);
    expect(await readSeries(ctx.redis, ctx.keyPrefix, 'none')).toEqual([]);
  });

  it('spaces samples out as a run gets longer', () => {
    expect(sampleIntervalMs(0)).toBe(1000);
    expect(sampleIntervalMs(60_000)).toBe(1000);
    expect(sampleIntervalMs(3_600_000)).toBe(12_000);
    expect(sampleIntervalMs(86_400_000)).toBe(288_000);
  });

  it('lets one sample through per interval across workers, and always the one that ends the run', async () => {
    // created 10 h ago: the interval is 2 minutes, far longer than this test takes
    const spec = await newRun(new Date(Date.now() - 36_000_000), ['a', 'b', 'c']);
    await ctx.runs.finishFile(spec.runId, 'a', { ...file('a'), status: 'succeeded' });
    await sampleProgress(ctx, spec.runId);
    await ctx.runs.finishFile(spec.runId, 'b', { ...file('b'), status: 'failed', code: 'internal' });
    await sampleProgress(ctx, spec.runId);
    await ctx.runs.finishFile(spec.runId, 'c', { ...file('c'), status: 'skipped' });
    await sampleProgress(ctx, spec.runId, { ended: true });
    const s = await readSeries(ctx.redis, ctx.keyPrefix, spec.runId);
    expect(s.map((x) => [x.done, x.failed])).toEqual([
      [1, 0],
      [3, 1],
    ]);
  });

  it('never throws: a sample that cannot be taken is skipped', async () => {
    await expect(sampleProgress({ ...ctx, spec: () => Promise.reject(new Error('redis gone')) }, 'whatever')).resolves.toBeUndefined();
  });

  it('is written by finishFile when a worker finishes a file', async () => {
    const spec = await newRun(new Date(), ['a', 'b']);
    await finishFile(ctx, spec.runId, 'a', { status: 'succeeded' });
    await finishFile(ctx, spec.runId, 'b', { status: 'failed', code: 'media_unreadable', message: 'bad' });
    const s = await readSeries(ctx.redis, ctx.keyPrefix, spec.runId);
    expect(s.at(-1)).toMatchObject({ done: 2, failed: 1 });
  });
});
