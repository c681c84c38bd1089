/**
 * Anything about one object fails that file, never the scan: here an earlier "result" of one object is a symlink
 * leading out of the destination, which the reuse check refuses (storage_denied). Before, that refusal failed the
 * scan and the run ended stopped_error with every other file not run.
 */
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { longNameFile } from '../fixtures/hostile/bombs.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

describe('per-object errors in the scan', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.startWorkers();
  });
  afterAll(async () => h?.close());

  it('a refused reuse check fails its file alone; the siblings succeed', async () => {
    const src = path.join(h.tmp, 'in');
    const out = path.join(h.tmp, 'out');
    await mkdir(src, { recursive: true });
    await mkdir(out, { recursive: true });
    const [a, b, c] = await Promise.all([10, 11, 12].map((n) => longNameFile(src, '.mp3', n)));
    const outside = path.join(h.tmp, 'outside.json');
    await writeFile(outside, '{}');
    await symlink(outside, path.join(out, `${path.basename(b)}.json`));
    const state = await h.run({ source: src, destination: out, task: 'transcribe' });
    expect(state.status).toBe('completed_with_failures');
    expect(state.counts).toMatchObject({ total: 3, succeeded: 2, failed: 1 });
    const failures = (await readFile(path.join(out, '_runs', state.spec.runId, 'failures.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { uri: string; code: string });
    expect(failures).toHaveLength(1);
    expect(failures[0].code).toBe('storage_denied');
    expect(failures[0].uri.endsWith(path.basename(b))).toBe(true);
    for (const f of [a, c]) expect(JSON.parse(await readFile(path.join(out, `${path.basename(f)}.json`), 'utf8'))).toBeTruthy();
    expect(await readFile(outside, 'utf8')).toBe('{}');
  });
});
