/**
 * An unwritable destination: checked before a run starts (`run --out s3://...` on an endpoint that refuses
 * connections exits 1 with one coded line and creates no run), and a report that cannot be written still ends
 * the run, as stopped_error with the reason, which `status` shows.
 */
import { createServer } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { longNameFile } from '../fixtures/hostile/bombs.ts';
import { runCli } from '../helpers/cli.ts';
import { startHarness, type Harness } from '../helpers/pipeline.ts';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('unwritable destination', () => {
  let h: Harness;
  let src: string;
  const cli = (env: Record<string, string>, ...args: string[]) => runCli(args, { env: { ...h.env, ...env }, timeoutMs: 120_000 });

  beforeAll(async () => {
    h = await startHarness();
    src = path.join(h.tmp, 'in');
    await mkdir(src, { recursive: true });
    await longNameFile(src, '.mp3', 10);
    await longNameFile(src, '.mp3', 11);
  });
  afterAll(async () => h?.close());

  it('run --wait --out s3://... on an endpoint that refuses connections: exit 1, destination_unwritable, no run', async () => {
    const port = await closedPort();
    const r = await cli(
      { S3_ENDPOINT: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
      'run',
      src,
      '--out',
      's3://results/out/',
      '--task',
      'transcribe',
      '--wait',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/omnibatch: destination_unwritable: cannot write to s3:\/\/results\/out\/: storage_unavailable/);
    expect(await h.ctx.runs.listRuns()).toEqual([]);
  });

  it('a report that cannot be written ends the run stopped_error with the reason; status shows it', async () => {
    const out = path.join(h.tmp, 'out');
    await mkdir(out, { recursive: true });
    // `_runs` is a file: the results can be written, the run's report cannot (a permanent refusal).
    await writeFile(path.join(out, '_runs'), 'not a folder');
    await h.startWorkers();
    const state = await h.run({ source: src, destination: out, task: 'transcribe' });
    expect(state.status).toBe('stopped_error');
    expect(state.counts).toMatchObject({ total: 2, succeeded: 2 });
    expect(state.reportError).toMatch(/_runs\/.+\/(cost\.csv|report\.json).*storage_invalid_key/);
    expect(state.stopMessage).toMatch(/the report could not be written/);
    expect(JSON.parse(await readFile(path.join(out, `${'n'.repeat(6)}.mp3.json`), 'utf8'))).toBeTruthy();

    const status = await cli({}, 'status', state.spec.runId);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('stopped_error');
    expect(status.stdout).toMatch(/report_unwritable: .*storage_invalid_key/);
    const json = JSON.parse((await cli({}, 'status', state.spec.runId, '--json')).stdout) as { status: string; report_error: string };
    expect(json.status).toBe('stopped_error');
    expect(json.report_error).toMatch(/storage_invalid_key/);
  });
});
