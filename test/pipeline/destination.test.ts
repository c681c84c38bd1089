/**
 * An unwritable destination: checked before a run starts (`run --out s3://...` on an endpoint that refuses
 * connections exits 1 with one coded line and creates no run), and a report that cannot be written still ends
 * the run, as stopped_error with the reason, which `status` shows. `schedule add` makes the same check when the
 * schedule is added, not at its first firing.
 */

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertWritable } from '../../src/producers/run.ts';
import { listSchedules } from '../../src/producers/schedules.ts';
import { openStorage } from '../../src/storage/index.ts';
import { longNameFile } from '../fixtures/hostile/bombs.ts';
import { runCli } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

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

    const [status, statusJson] = await Promise.all([cli({}, 'status', state.spec.runId), cli({}, 'status', state.spec.runId, '--json')]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('stopped_error');
    expect(status.stdout).toMatch(/report_unwritable: .*storage_invalid_key/);
    expect(statusJson.code).toBe(0);
    const json = JSON.parse(statusJson.stdout) as { status: string; report_error: string };
    expect(json.status).toBe('stopped_error');
    expect(json.report_error).toMatch(/storage_invalid_key/);
  });
  it('schedule add refuses an unwritable destination now, with the code run uses, and adds nothing', async () => {
    const add = (out: string, env: Record<string, string> = {}) =>
      cli(env, 'schedule', 'add', 'nightly', src, '--cron', '0 2 * * *', '--out', out, '--task', 'transcribe');
    // A file where the destination folder should be; a destination whose `_runs` is a file; an endpoint that refuses connections.
    const file = path.join(h.tmp, 'a-file');
    await writeFile(file, 'not a folder');
    const runsFile = path.join(h.tmp, 'runs-file');
    await mkdir(runsFile, { recursive: true });
    await writeFile(path.join(runsFile, '_runs'), 'not a folder');
    const port = await closedPort();
    const s3 = { S3_ENDPOINT: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
    const cannotWrite = (out: string) => `cannot write to ${out.replace(/[/.]/g, '\\$&')}: storage_`;
    // The command, as a process, on the endpoint that refuses connections: exit 1, one coded line, nothing on
    // stdout. The two local refusals are the same check (assertWritable, which `schedule add` runs first) on
    // other destinations, called directly: the code and message the command prints after "omnibatch: ".
    const [r] = await Promise.all([
      add('s3://results/nightly/', s3),
      ...[file, runsFile].map((out) =>
        expect(assertWritable(openStorage(out), out)).rejects.toMatchObject({
          code: 'destination_unwritable',
          message: expect.stringMatching(new RegExp(`^${cannotWrite(out)}`)),
        }),
      ),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^omnibatch: destination_unwritable: ${cannotWrite('s3://results/nightly/')}`));
    expect(r.stdout).toBe('');
    expect(await listSchedules(h.ctx)).toEqual([]);
    expect(await h.ctx.queues.scan.getJobSchedulers(0, -1)).toEqual([]);

    // A destination folder that does not exist yet is one the check can write to (it is created): added, and
    // the probe object is gone again.
    const fresh = path.join(h.tmp, 'not-yet');
    const ok = await add(fresh);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect((await listSchedules(h.ctx)).map((x) => x.name)).toEqual(['nightly']);
    const left = await readdir(fresh, { recursive: true }).catch(() => [] as string[]);
    expect(left.filter((n) => /write-check/.test(n))).toEqual([]);
    expect((await cli({}, 'schedule', 'remove', 'nightly')).code).toBe(0);
  });
});
