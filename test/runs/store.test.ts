/**
 * The run state's Lua scripts, on real Redis through the one runner (EVALSHA with its EVAL fallback): a file
 * ends once however often it is reported, exactly one caller learns that the run ended, a retry reopens it.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LuaScript, runLua } from '../../src/cost/lua/run.ts';
import { RunStore } from '../../src/runs/store.ts';
import type { FileState, RunSpec } from '../../src/runs/types.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { dropKeys, testRedis } from '../helpers/redis.ts';
import { sourceFiles } from '../repo/imports.ts';

const prefix = `test-runstore-${randomUUID()}`;
let redis: Redis;
let store: RunStore;

beforeAll(() => {
  redis = testRedis({ maxRetriesPerRequest: 3 });
  store = new RunStore(redis, prefix);
});
afterAll(async () => {
  await dropKeys(redis, prefix);
  await redis.quit();
});

const spec = (runId: string): RunSpec => ({ runId, createdAt: new Date().toISOString() }) as RunSpec;
const file = (key: string, status: FileState['status'] = 'pending'): FileState => ({ key, uri: `file:///in/${key}`, etag: 'e', size: 1, status });

describe('run state', () => {
  it('creates a run once, ends a file once, and tells exactly one caller that the run ended', async () => {
    const runId = 'r1';
    expect((await store.create(spec(runId))).outcome).toBe('created');
    expect((await store.create(spec(runId))).outcome).toBe('exists');
    expect(await store.registerFile(runId, 'a', file('a'))).toBe(1);
    expect(await store.registerFile(runId, 'a', file('a'))).toBe(0);
    expect(await store.registerFile(runId, 'b', file('b'), 1)).toBe(-1);
    expect(await store.scanDone(runId)).toBe(false);
    const ends = await Promise.all(Array.from({ length: 10 }, () => store.finishFile(runId, 'a', { ...file('a'), status: 'failed', code: 'internal' })));
    expect(ends.filter((e) => e === 'ended')).toHaveLength(1);
    expect(ends.filter((e) => e === 'already')).toHaveLength(9);
    expect(await store.finishFile(runId, 'nope', file('nope', 'failed'))).toBe('unknown');
    expect((await store.state(runId))!.counts).toMatchObject({ total: 1, terminal: 1, failed: 1 });
  });

  it('reopens a failed file at a new generation, counts an estimate once and lets one caller claim a re-plan', async () => {
    const runId = 'r2';
    await store.create(spec(runId));
    await store.registerFile(runId, 'a', file('a'));
    await store.finishFile(runId, 'a', { ...file('a'), status: 'failed' });
    const { reopened } = await store.reopen(runId);
    expect(reopened).toEqual([{ fileId: 'a', generation: 1 }]);
    expect(await store.fileStatus(runId, 'a')).toBe('pending');
    const e = { mediaMs: 1500, est: 10, low: 5, high: 20 };
    expect([await store.addFileEstimate(runId, 'a', e), await store.addFileEstimate(runId, 'a', e)]).toEqual([true, false]);
    const claims = await Promise.all([store.replan(runId, 'a', 1), store.replan(runId, 'a', 1)]);
    expect(claims.filter((c) => c.first)).toHaveLength(1);
    expect(claims.map((c) => c.generation)).toEqual([2, 2]);
  });
});

describe('the Lua runner', () => {
  it('runs a script the server has never seen (EVALSHA misses, EVAL once) and then from its cache', async () => {
    const script: LuaScript = {
      name: `omnibatchTest${randomUUID().replace(/-/g, '')}`,
      numberOfKeys: 1,
      lua: `-- ${randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`,
    };
    expect(await runLua(redis, script, [`${prefix}:n`], [2])).toBe(2);
    expect(await runLua(redis, script, [`${prefix}:n`], [3])).toBe(5);
  });

  it('refuses a wrong number of keys as a programmer error', async () => {
    const script: LuaScript = { name: 'omnibatchTestKeys', numberOfKeys: 2, lua: 'return 1' };
    await expect(runLua(redis, script, ['only-one'], [])).rejects.toThrow(TypeError);
  });

  it('is the only place in src/ that sends a script to Redis', () => {
    const callers = sourceFiles(REPO_ROOT, 'src').filter((f) =>
      /\.(eval|evalsha|defineCommand)\(|['"](eval|evalsha)['"]/i.test(readFileSync(`${REPO_ROOT}/${f}`, 'utf8')),
    );
    expect(callers).toEqual(['src/cost/lua/run.ts']);
  });
});
