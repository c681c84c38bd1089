/**
 * Robustness of the run's hand-offs on real Redis, ffmpeg and the emulator: a redone scan, a run that ended
 * without its report, a job BullMQ fails by itself, schedule firings, retry after a re-plan, retry of a
 * stopped run, estimates counted once, and a run end notified once.
 */
import { cp, mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { type Context, createContext } from '../../src/app/context.ts';
import { retryRun } from '../../src/cli/retry.ts';
import { waitForRun } from '../../src/cli/wait.ts';
import { loadConfig } from '../../src/config/index.ts';
import { type InferPayload, jobIds } from '../../src/jobs/catalog.ts';
import { QUEUE_POLICY } from '../../src/jobs/policy.ts';
import { queueName, redisConnection } from '../../src/jobs/queues.ts';
import { replanSmaller } from '../../src/lifecycle/file-state.ts';
import { createRun, type RunRequest } from '../../src/producers/run.ts';
import { addSchedule, removeSchedule } from '../../src/producers/schedules.ts';
import type { RunState } from '../../src/runs/types.ts';
import { fileIdOf } from '../../src/storage/keys.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { type RunningWorkers, startWorkers } from '../../src/workers/index.ts';
import { report } from '../../src/workers/report.ts';
import { scan } from '../../src/workers/scan.ts';
import { media } from '../helpers/paths.ts';
import { API_KEY, type Harness, startHarness } from '../helpers/pipeline.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function harness(opts: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  const h = await startHarness(opts);
  cleanups.push(() => h.close());
  return h;
}

async function folder(h: Harness, files: Record<string, string>): Promise<string> {
  const dir = path.join(h.tmp, `in-${cleanups.length}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  for (const [name, src] of Object.entries(files)) await cp(media(src), path.join(dir, name));
  return dir;
}

/** A run whose scan has not run, with every object registered as a scan killed before its page was flushed leaves them. */
async function registeredRun(h: Harness, req: RunRequest): Promise<{ runId: string; fileIds: string[] }> {
  const spec = await createRun(h.ctx, req, { enqueueScan: false });
  const src = h.ctx.storage(req.source);
  const fileIds: string[] = [];
  for await (const obj of src.list('')) {
    const fileId = fileIdOf(obj.key);
    expect(await h.ctx.runs.registerFile(spec.runId, fileId, { key: obj.key, uri: src.uri + obj.key, etag: obj.etag, size: obj.size, status: 'pending' })).toBe(
      1,
    );
    fileIds.push(fileId);
  }
  return { runId: spec.runId, fileIds };
}

/** Waits for the run's final status, at most `ms`; a run that never ends comes back with its status as it was. */
function waitBounded(ctx: Context, runId: string, ms = 20_000): Promise<RunState> {
  return waitForRun(ctx, runId, { quiet: true, pollMs: 100, signal: AbortSignal.timeout(ms) });
}

/** Polls `fn` until it returns a value (bounded); throws on timeout. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function finished(ctx: Context, stage: 'scan' | 'prepare', jobId: string): Promise<Job> {
  return until(`${stage} job ${jobId}`, async () => {
    const state = await (await ctx.queues[stage].getJob(jobId))?.getState();
    // Read the job again once it is finished: a copy read before it finished has no return value yet.
    return state === 'completed' || state === 'failed' ? ((await ctx.queues[stage].getJob(jobId)) as Job) : undefined;
  });
}

describe('robustness of the run hand-offs', () => {
  it('a redone scan enqueues files the killed scan registered but never enqueued, and the run ends', async () => {
    const h = await harness();
    await h.startWorkers();
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac', 'b.wav': 'funasr__sample.wav' });
    const { runId } = await registeredRun(h, { source: dir, destination: path.join(h.tmp, 'out'), task: 'caption' });
    await h.ctx.queues.scan.add('scan', { runId }, { jobId: jobIds.scan(runId) });
    const s = await waitBounded(h.ctx, runId);
    expect(s.status).toBe('completed');
    expect(s.counts).toMatchObject({ total: 2, succeeded: 2 });
  });

  it('a run that ended without its report (the worker died in between) gets it from the next job that looks', async () => {
    const h = await harness();
    await h.startWorkers();
    const out = path.join(h.tmp, 'out');
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac' });
    const {
      runId,
      fileIds: [fileId],
    } = await registeredRun(h, { source: dir, destination: out, task: 'caption' });
    expect(await h.ctx.runs.scanDone(runId)).toBe(false);
    // The transition that ends the run, and then the process dies: no report is enqueued.
    const file = (await h.ctx.runs.file(runId, fileId))!;
    expect(await h.ctx.runs.finishFile(runId, fileId, { ...file, status: 'failed', code: 'media_unreadable', message: 'x' })).toBe('ended');
    // The redone finalize finds its file finished.
    await h.ctx.queues.finalize.add('finalize', { runId, fileId, key: file.key, chunks: 1 }, { jobId: jobIds.finalize(runId, fileId) });
    const s = await waitBounded(h.ctx, runId);
    expect(s.status).toBe('completed_with_failures');
    expect(JSON.parse(await readFile(path.join(out, '_runs', runId, 'report.json'), 'utf8')).counts.failed).toBe(1);

    // The same for a scan: an empty run's scanDone ends it (once); the redone scan must still enqueue the report.
    const empty = await folder(h, {});
    const spec = await createRun(h.ctx, { source: empty, destination: out, task: 'caption' }, { enqueueScan: false });
    expect(await h.ctx.runs.scanDone(spec.runId)).toBe(true);
    await h.ctx.queues.scan.add('scan', { runId: spec.runId }, { jobId: jobIds.scan(spec.runId) });
    expect((await waitBounded(h.ctx, spec.runId)).status).toBe('completed');
  });

  it('a job BullMQ fails by itself (stalled more than allowed) fails its file, and the run ends', async () => {
    const h = await harness({ env: { OMNIBATCH_LOCK_MS: '2000' } });
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac' });
    const {
      runId,
      fileIds: [fileId],
    } = await registeredRun(h, { source: dir, destination: path.join(h.tmp, 'out'), task: 'caption' });
    await h.ctx.runs.scanDone(runId);
    const file = (await h.ctx.runs.file(runId, fileId))!;
    const jobId = jobIds.prepare(runId, fileId);
    await h.ctx.queues.prepare.add('prepare', { runId, fileId, key: file.key, etag: file.etag, size: file.size }, { jobId });
    // This job has already crashed its worker maxStalledCount times (BullMQ's own stall counter on the job)...
    await h.ctx.redis.hset(`${h.cfg.queuePrefix}:${queueName('prepare')}:${jobId}`, 'stc', QUEUE_POLICY.prepare.maxStalledCount);
    // ...and a worker takes it once more and dies (its lock is never renewed).
    const conn = redisConnection(h.cfg.redisUrl);
    const doomed = new Worker(queueName('prepare'), null, {
      connection: conn,
      prefix: h.cfg.queuePrefix,
      lockDuration: 1000,
      autorun: false,
      skipStalledCheck: true,
    });
    expect((await doomed.getNextJob('doomed-token'))?.id).toBe(jobId);
    await doomed.disconnect();
    conn.disconnect();
    await h.startWorkers();
    const s = await waitBounded(h.ctx, runId);
    expect(s.status).toBe('completed_with_failures');
    expect(await h.ctx.runs.file(runId, fileId)).toMatchObject({ status: 'failed', code: 'worker_lost' });
  });

  it('a schedule firing while its last run is going is skipped; a redone firing continues its own run', async () => {
    const h = await harness({ emulator: { latencyMs: 3000 } });
    await h.startWorkers();
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac' });
    cleanups.push(() => removeSchedule(h.ctx, 'busy'));
    // A far-off pattern: the firings are added by hand below, as the scheduler would add them.
    await addSchedule(h.ctx, { name: 'busy', cron: '0 0 1 1 *', request: { source: dir, destination: path.join(h.tmp, 'out'), task: 'caption' } });
    await h.ctx.queues.scan.add('scan', { schedule: 'busy' }, { jobId: 'firing-a' });
    const a = await finished(h.ctx, 'scan', 'firing-a');
    const runA = (a.returnvalue as { runId: string }).runId;
    expect(runA).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect((await h.ctx.runs.state(runA))?.status).toBe('running'); // its one request takes 3 s

    await h.ctx.queues.scan.add('scan', { schedule: 'busy' }, { jobId: 'firing-b' });
    const b = await finished(h.ctx, 'scan', 'firing-b');
    expect(b.returnvalue).toMatchObject({ runId: '', firingSkipped: runA });
    const scheduled = async () => (await Promise.all((await h.ctx.runs.listRuns()).map((id) => h.ctx.runs.spec(id)))).filter((sp) => sp?.schedule === 'busy');
    expect((await scheduled()).map((sp) => sp!.runId)).toEqual([runA]);
    const s = await waitBounded(h.ctx, runA);
    expect(s.counts).toMatchObject({ total: 1, succeeded: 1 });

    // The same firing redone (stalled or retried before it recorded its run): the same run, nothing new.
    const redo = (await h.ctx.queues.scan.getJob('firing-a'))!;
    redo.data = { schedule: 'busy' };
    expect((await scan(redo, { ...h.ctx })).runId).toBe(runA);
    expect((await scheduled()).map((sp) => sp!.runId)).toEqual([runA]);

    // Once the last run has ended, the next firing makes a new run.
    await h.ctx.queues.scan.add('scan', { schedule: 'busy' }, { jobId: 'firing-c' });
    const runC = ((await finished(h.ctx, 'scan', 'firing-c')).returnvalue as { runId: string }).runId;
    expect(runC).not.toBe(runA);
    expect((await waitBounded(h.ctx, runC)).counts).toMatchObject({ total: 1, skipped: 1 });
  });

  it("retry after a re-plan uses a new generation, not the re-plan's job ids", async () => {
    const h = await harness();
    await h.startWorkers();
    const dir = await folder(h, { 'x.flac': 'fp__invalid.flac' });
    const {
      runId,
      fileIds: [fileId],
    } = await registeredRun(h, { source: dir, destination: path.join(h.tmp, 'out'), task: 'caption' });
    await h.ctx.runs.scanDone(runId);
    // The service refused a chunk of generation 0 as too large: the file is re-planned (generation 1), and fails.
    const refused = {
      data: { runId, fileId, key: 'x.flac', chunk: 0, chunks: 1, startS: 0, endS: 1, stagingKey: 'k', format: 'wav', kind: 'audio', generation: 0 },
    } as Job<InferPayload>;
    expect(await replanSmaller(refused, h.ctx)).toBe(true);
    expect((await waitBounded(h.ctx, runId)).counts).toMatchObject({ failed: 1 });
    // The object is fixed; retry must run it (generation 2), not re-add the existing generation-1 job ids.
    await cp(media('whisper__jfk.flac'), path.join(dir, 'x.flac'));
    expect(await retryRun(h.ctx, runId)).toEqual({ reopened: 1, requeued: 0 });
    const s = await waitBounded(h.ctx, runId);
    expect(s.status).toBe('completed');
    expect(s.counts).toMatchObject({ total: 1, succeeded: 1, failed: 0 });
    expect(await h.ctx.runs.generation(runId, fileId)).toBe(2);
  });

  it('retry goes on with a stopped run: an auth stop, the key fixed, every file succeeds', async () => {
    const h = await harness({ env: { OMNI_API_KEY: 'sk-wrong-key-123' } });
    await h.startWorkers({ inferConcurrency: 1 });
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac', 'b.wav': 'funasr__sample.wav', 'c.wav': 'wenet__aishell-BAC009S0724W0121.wav' });
    const stopped = await h.run({ source: dir, destination: path.join(h.tmp, 'out'), task: 'caption' });
    expect(stopped.status).toBe('stopped_error');
    expect(stopped.counts.not_run + stopped.counts.failed).toBe(3);
    await h.workers!.close(5000);
    h.workers = undefined;

    // The operator fixes the key: workers with the right one, same Redis prefix, same emulator.
    const ctx2 = createContext(loadConfig({ env: { ...process.env, ...h.env, OMNI_API_KEY: API_KEY } }), silentLogger);
    cleanups.push(() => ctx2.close());
    const w2: RunningWorkers = await startWorkers(ctx2, { inferConcurrency: 2 });
    cleanups.push(() => w2.close(5000));
    expect((await retryRun(ctx2, stopped.spec.runId)).reopened).toBe(3);
    const s = await waitBounded(ctx2, stopped.spec.runId);
    expect(s.status).toBe('completed');
    expect(s.stopReason).toBeUndefined();
    expect(s.counts).toMatchObject({ total: 3, succeeded: 3, failed: 0, not_run: 0 });
  });

  it("a file's media length and estimate are counted once, however often it is prepared", async () => {
    const h = await harness();
    await h.startWorkers({ stages: ['prepare'] });
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac' });
    const {
      runId,
      fileIds: [fileId],
    } = await registeredRun(h, { source: dir, destination: path.join(h.tmp, 'out'), task: 'caption' });
    const file = (await h.ctx.runs.file(runId, fileId))!;
    const data = { runId, fileId, key: file.key, etag: file.etag, size: file.size };
    await h.ctx.queues.prepare.add('prepare', data, { jobId: jobIds.prepare(runId, fileId) });
    expect(await (await finished(h.ctx, 'prepare', jobIds.prepare(runId, fileId))).getState()).toBe('completed');
    const once = (await h.ctx.runs.state(runId))!.counts;
    expect(once.media_ms).toBeGreaterThan(10_000);
    expect(once.est_micros).toBeGreaterThan(0);
    // The file prepared again (a re-plan or retry generation).
    await h.ctx.queues.prepare.add('prepare', { ...data, generation: 1 }, { jobId: jobIds.prepare(runId, fileId, 1) });
    expect(await (await finished(h.ctx, 'prepare', jobIds.prepare(runId, fileId, 1))).getState()).toBe('completed');
    const twice = (await h.ctx.runs.state(runId))!.counts;
    expect(twice).toMatchObject({
      media_ms: once.media_ms,
      est_micros: once.est_micros,
      est_low_micros: once.est_low_micros,
      est_high_micros: once.est_high_micros,
    });
  });

  it('a redone report job notifies nothing new: one notify job per run end, one delivery id', async () => {
    const deliveries: string[] = [];
    const server: Server = createServer((req, res) => {
      deliveries.push(String(req.headers['x-omnibatch-delivery']));
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const h = await harness();
    await h.startWorkers();
    const dir = await folder(h, { 'a.flac': 'whisper__jfk.flac' });
    const s = await h.run({
      source: dir,
      destination: path.join(h.tmp, 'out'),
      task: 'caption',
      notifyUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
      allowUnsignedWebhooks: true,
    });
    await until('the first delivery', async () => (deliveries.length ? true : undefined));
    const job = (await h.ctx.queues.report.getJob(jobIds.report(s.spec.runId, 0)))!;
    await report(job, { ...h.ctx });
    // the redo enqueued the same job id: no new job, so nothing is waiting to be sent again
    await until('the notify job to finish', async () =>
      (await h.ctx.queues.notify.getJob(jobIds.notify(s.spec.runId, 'run.end', 0)))?.finishedOn ? true : undefined,
    );
    const counts = await h.ctx.queues.notify.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed');
    expect(counts).toMatchObject({ waiting: 0, delayed: 0, active: 0, completed: 1, failed: 0 });
    expect((await h.ctx.queues.notify.getJob(jobIds.notify(s.spec.runId, 'run.end', 0)))?.data.deliveryId).toBe(`${s.spec.runId}.0`);
    expect(deliveries).toEqual([`${s.spec.runId}.0`]);
  });
});
