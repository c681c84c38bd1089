/**
 * A model shipped after the seeds, made usable by a catalog file alone: `omnibatch run --catalog` creates the
 * run in one process, an `omnibatch worker` started WITHOUT the file processes it in another (the run spec
 * carries the entry), and the emulator serves the new name because it was started with the same file.
 */
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { dropPrefix, offlineEnv, type RunningCli, runCli, startCli } from '../helpers/cli.ts';
import { media, REPO_ROOT } from '../helpers/paths.ts';

const CATALOG = path.join(REPO_ROOT, 'test/fixtures/catalog/new-model.json');
const MODEL = 'qwen3.5-omni-flash';
let emu: Emulator;
let tmp: string;
let env: Record<string, string | undefined>;
let worker: RunningCli | undefined;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'omni-catalog-e2e-'));
  emu = await startEmulator({ apiKey: 'sk-catalog', catalogFile: CATALOG });
  env = {
    ...offlineEnv('catalog', tmp),
    OMNI_API_KEY: 'sk-catalog',
    OMNI_BASE_URL: `${emu.url}/compatible-mode/v1`,
    OMNI_PROTOCOL: 'chat',
    OMNI_REGION: 'intl',
    OMNIBATCH_CATALOG: undefined,
  };
  await mkdir(path.join(tmp, 'in'), { recursive: true });
  await cp(media('whisper__jfk.flac'), path.join(tmp, 'in/jfk.flac'));
});
afterAll(async () => {
  await worker?.stop('SIGTERM');
  await emu?.close();
  if (env?.OMNIBATCH_PREFIX) await dropPrefix(env.OMNIBATCH_PREFIX);
  await rm(tmp, { recursive: true, force: true });
});

describe('a new model from a catalog file, end to end', () => {
  it('without the file, run refuses the name and prints the entry to add; nothing reaches the service', async () => {
    const r = await runCli(['run', path.join(tmp, 'in'), '--out', path.join(tmp, 'refused'), '--task', 'transcribe', '--model', MODEL], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/model_unknown: unknown model "qwen3\.5-omni-flash"/);
    expect(r.stderr).toContain(`"${MODEL}": {`);
    expect(emu.stats().requests).toBe(0);
  });

  it("with it: the run is created, a worker without the file processes it, priced at the file's prices", async () => {
    const out = path.join(tmp, 'out');
    const created = await runCli(['run', path.join(tmp, 'in'), '--out', out, '--task', 'transcribe', '--model', MODEL, '--catalog', CATALOG, '--json'], {
      env,
    });
    expect(created.code, created.stderr).toBe(0);
    const runId = JSON.parse(created.stdout).run_id as string;

    worker = startCli(['worker'], { env });
    const reportFile = path.join(out, '_runs', runId, 'report.json');
    await expect
      .poll(
        () =>
          readFile(reportFile, 'utf8').then(
            () => true,
            () => false,
          ),
        { timeout: 120_000, interval: 100 },
      )
      .toBe(true);
    const report = JSON.parse(await readFile(reportFile, 'utf8'));
    expect(report.counts).toMatchObject({ total: 1, succeeded: 1, failed: 0 });

    // The emulator billed the new model by its own name; the result is priced at the catalog file's USD prices.
    const billed = emu.stats().billed[MODEL];
    expect(billed.input.audio).toBeGreaterThanOrEqual(Math.ceil(11 * 12.5));
    const result = JSON.parse(await readFile(path.join(out, 'jfk.flac.json'), 'utf8'));
    expect(result.model).toBe(MODEL);
    const expected = Math.round((billed.input.audio * 2_500_000 + billed.input.text * 200_000 + billed.output.text * 2_000_000) / 1e6);
    expect(result.cost.currency).toBe('USD');
    expect(result.cost.priced).toBe(true);
    expect(Math.abs(result.cost.amount_micros - expected)).toBeLessThanOrEqual(1);
    expect(report.cost.actual.amount_micros).toBe(result.cost.amount_micros);
  }, 180_000);
});
