/**
 * Queue-depth gauges for autoscaling: the pure arithmetic, then real processes on real Redis: an idle
 * `omnibatch worker --metrics-port` exports every gauge, and `omnibatch metrics --port` (no worker) shows
 * a waiting backlog and a live run's work left.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { type Context, createContext } from '../../src/app/context.ts';
import { loadConfig } from '../../src/config/index.ts';
import { STAGES } from '../../src/jobs/catalog.ts';
import { QUEUE_STATES, queueDepth, runWorkLeft } from '../../src/ops/depth.ts';
import { buildRunSpec } from '../../src/producers/run.ts';
import { createLogger } from '../../src/util/logger.ts';
import { type RunningCli, startCli } from '../helpers/cli.ts';
import { dropKeys, testRedis } from '../helpers/redis.ts';

function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });

async function scrape(url: string, deadlineMs = 60_000): Promise<Map<string, number>> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return samples(await res.text());
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until) throw new Error(`no metrics at ${url}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('depth arithmetic', () => {
  it('counts prioritized and waiting-children jobs as waiting', () => {
    expect(queueDepth({ wait: 3, prioritized: 2, 'waiting-children': 1, active: 4, delayed: 5, failed: 6, completed: 99 })).toEqual({
      waiting: 6,
      active: 4,
      delayed: 5,
      failed: 6,
    });
    expect(queueDepth({})).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  });
  it('predicts the work left at the pace so far, a planned finish before any file ended, else unknown', () => {
    const now = new Date('2026-12-01T01:00:00Z');
    const spec = { runId: 'r', createdAt: '2026-12-01T00:00:00Z' } as never;
    const counts = (total: number, terminal: number) => ({ total, terminal }) as never;
    // 10 of 40 files in an hour: 30 left take 3 hours more
    expect(runWorkLeft({ spec, counts: counts(40, 10) }, now)).toEqual({ runId: 'r', filesLeft: 30, secondsLeft: 3 * 3600 });
    expect(runWorkLeft({ spec, counts: counts(40, 40) }, now).secondsLeft).toBe(0);
    expect(runWorkLeft({ spec, counts: counts(40, 0) }, now).secondsLeft).toBeNaN();
    const planned = { ...(spec as object), predictedFinishAt: '2026-12-01T03:00:00Z' } as never;
    expect(runWorkLeft({ spec: planned, counts: counts(40, 0) }, now).secondsLeft).toBe(2 * 3600);
  });
});

describe('queue-depth gauges', () => {
  // Two prefixes: the idle worker of the first test must not take the second one's backlog.
  const idlePrefix = `depth-${randomUUID().slice(0, 8)}`;
  const prefix = `depth-${randomUUID().slice(0, 8)}`;
  const env = {
    ...process.env,
    OMNIBATCH_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    OMNI_API_KEY: 'sk-depth',
    OMNI_BASE_URL: 'http://127.0.0.1:9/compatible-mode/v1',
  };
  const children: RunningCli[] = [];
  let ctx: Context | undefined;
  const start = (p: string, ...args: string[]) => {
    children.push(startCli(args, { env: { ...env, OMNIBATCH_PREFIX: p } }));
  };
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop('SIGTERM')));
    await ctx?.close();
    const r = testRedis();
    for (const p of [prefix, idlePrefix]) await dropKeys(r, p);
    r.disconnect();
  });

  it('an idle worker exports every gauge, at zero', async () => {
    const port = await freePort();
    start(idlePrefix, 'worker', '--metrics-port', String(port), '--metrics-host', '127.0.0.1');
    const s = await scrape(`http://127.0.0.1:${port}/metrics`);
    for (const queue of STAGES) {
      for (const state of QUEUE_STATES) expect(s.get(`omnibatch_queue_jobs{queue="${queue}",state="${state}"}`), `${queue} ${state}`).toBe(0);
      expect(s.get(`omnibatch_jobs_active{stage="${queue}"}`)).toBe(0);
      expect(s.get(`omnibatch_jobs_total{stage="${queue}",state="completed"}`)).toBe(0);
    }
    expect(s.get('omnibatch_depth_up')).toBe(1);
    expect(s.get('omnibatch_runs_live')).toBe(0);
    expect(s.get('omnibatch_files_left')).toBe(0);
    expect(s.get('omnibatch_work_seconds_left')).toBe(0);
    expect([...s.keys()].some((k) => k.startsWith('omnibatch_run_files_left'))).toBe(false);
  }, 90_000);

  it("omnibatch metrics (no worker) shows a waiting backlog and a live run's work left", async () => {
    const cfg = loadConfig({ flags: { queuePrefix: prefix } });
    ctx = createContext(cfg, createLogger({ level: 'silent' }));
    // A backlog on the prepare queue, as a scan leaves it with no prepare worker running (this test starts none).
    for (let i = 0; i < 7; i++) await ctx.queues.prepare.add('prepare', { runId: 'nobody', fileId: `f${i}` } as never, { jobId: `depth-${i}` });
    await ctx.queues.prepare.add('prepare', { runId: 'nobody', fileId: 'later' } as never, { jobId: 'depth-later', delay: 3_600_000 });
    // A live run with 3 files, 1 ended.
    const spec = buildRunSpec(
      { source: '/tmp/in', destination: '/tmp/out', task: 'caption' },
      cfg,
      `depth-run-${randomUUID().slice(0, 6)}`,
      new Date(Date.now() - 60_000),
    );
    await ctx.runs.create(spec);
    for (const id of ['a', 'b', 'c']) await ctx.runs.registerFile(spec.runId, id, { key: id, uri: `/tmp/in/${id}`, etag: 'e', size: 1, status: 'pending' });
    await ctx.runs.finishFile(spec.runId, 'a', { key: 'a', uri: '/tmp/in/a', etag: 'e', size: 1, status: 'succeeded' });

    const port = await freePort();
    start(prefix, 'metrics', '--port', String(port));
    const s = await scrape(`http://127.0.0.1:${port}/metrics`);
    expect(s.get('omnibatch_queue_jobs{queue="prepare",state="waiting"}')).toBe(7);
    expect(s.get('omnibatch_queue_jobs{queue="prepare",state="delayed"}')).toBe(1);
    expect(s.get('omnibatch_queue_jobs{queue="infer",state="waiting"}')).toBe(0);
    expect(s.get('omnibatch_runs_live')).toBe(1);
    expect(s.get(`omnibatch_run_files_left{run_id="${spec.runId}"}`)).toBe(2);
    // one file in about a minute: two more take about two minutes
    const left = s.get(`omnibatch_run_work_seconds_left{run_id="${spec.runId}"}`)!;
    expect(left).toBeGreaterThan(100);
    expect(left).toBeLessThan(400);
    expect(s.get('omnibatch_files_left')).toBe(2);
    expect(s.get('omnibatch_work_seconds_left')).toBe(left);
    // the wait list KEDA's Redis scaler reads (deploy/keda-scaledobject.yaml) holds the same backlog
    expect(await ctx.redis.llen(`${prefix}:omnibatch-prepare:wait`)).toBe(7);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
  }, 90_000);
});
