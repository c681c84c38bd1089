/**
 * The dashboard end to end: real Redis (own prefix), the real express server on a free port, and Debian's
 * Chromium driven by playwright-core. Runs are written through RunStore and the cost ledger exactly as
 * workers write them; the page must pick changes up by polling, without a reload.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Context, createContext } from '../../src/app/context.ts';
import { loadConfig } from '../../src/config/index.ts';
import { startDashboard } from '../../src/dashboard/server.ts';
import { STAGES } from '../../src/jobs/catalog.ts';
import { queueName } from '../../src/jobs/queues.ts';
import { emptyUsage } from '../../src/models/types.ts';
import type { RunningServer } from '../../src/ops/http.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { appendSample, readSeries } from '../../src/runs/series.ts';
import type { FileState, RunSpec } from '../../src/runs/types.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/chromium.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { dropKeys } from '../helpers/redis.ts';

const SCREENSHOT = path.join(REPO_ROOT, 'test-artifacts', 'dashboard.png');

const prefix = `test-dash-${randomUUID().slice(0, 8)}`;
let ctx: Context;
let server: RunningServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

let live: RunSpec;
let older: RunSpec;
const fileIds = ['f0', 'f1', 'f2', 'f3', 'f4'];
const fileOf = (runId: string, id: string): FileState => ({
  key: `in/${runId.slice(-6)}/${id}.mp3`,
  uri: `s3://media/in/${id}.mp3`,
  etag: `etag-${id}`,
  size: 1_000_000,
  status: 'pending',
});

function spec(createdAt: Date, budgetMicros?: number): RunSpec {
  return buildRunSpec(
    {
      source: 's3://media/in/',
      destination: 's3://media/out/',
      task: 'caption',
      budgetMicros,
      notifyUrl: 'https://hooks.example/x?token=do-not-show',
      allowUnsignedWebhooks: true,
    },
    ctx.cfg,
    newRunId(createdAt),
    createdAt,
  );
}

/** What a worker does when a file ends: ledger, media time, the terminal transition, a chart sample. */
async function finish(runId: string, id: string, status: 'succeeded' | 'failed', t: number, costMicros: number): Promise<void> {
  const usage = emptyUsage();
  usage.input.audio = 375;
  usage.inputTotal = 375;
  if (status === 'succeeded') {
    await ctx.costs.recordChunk(runId, id, 0, `job-${id}`, usage, { amountMicros: costMicros, currency: 'USD', priced: true }, 1);
    await ctx.runs.count(runId, 'media_ms', 30_000);
  }
  const patch = status === 'failed' ? { status, code: 'media_unreadable' as const, message: 'ffprobe: invalid data found when processing input' } : { status };
  expect(await ctx.runs.finishFile(runId, id, { ...fileOf(runId, id), ...patch })).not.toBe('unknown');
  const [state, totals] = await Promise.all([ctx.runs.state(runId), ctx.costs.totals(runId)]);
  await appendSample(ctx.redis, ctx.keyPrefix, runId, {
    t,
    done: state!.counts.terminal,
    failed: state!.counts.failed,
    costMicros: totals.costMicros,
    mediaMs: state!.counts.media_ms,
  });
}

/**
 * In-page helpers. They run in the browser, so they reach the DOM through globalThis: the project's TS
 * lib has no DOM types, and string predicates would need eval, which the page's CSP (rightly) forbids.
 */
type Doc = { querySelector(sel: string): { textContent: string | null; getAttribute(name: string): string | null } | null };
type Win = { document: Doc; sameDocument?: boolean };
const waitForText = (selector: string, text: string) =>
  page.waitForFunction(([sel, want]) => (globalThis as unknown as Win).document.querySelector(sel)?.textContent?.includes(want) ?? false, [
    selector,
    text,
  ] as const);
const waitForAttr = (selector: string, name: string, test: 'equals' | 'above', value: string | number) =>
  page.waitForFunction(
    ([sel, attr, how, v]) => {
      const got = (globalThis as unknown as Win).document.querySelector(sel)?.getAttribute(attr) ?? null;
      return how === 'equals' ? got === v : Number(got) > Number(v);
    },
    [selector, name, test, value] as const,
  );

beforeAll(async () => {
  ctx = createContext(loadConfig({ flags: { queuePrefix: prefix, logLevel: 'silent' } }), silentLogger);
  const now = Date.now();
  older = spec(new Date(now - 3_600_000));
  await ctx.runs.create(older);
  for (const id of fileIds.slice(0, 2)) await ctx.runs.registerFile(older.runId, id, fileOf(older.runId, id));
  await ctx.runs.scanDone(older.runId);
  for (const id of fileIds.slice(0, 2)) await finish(older.runId, id, 'succeeded', now - 3_500_000, 2_000);
  await ctx.runs.setFinal(older.runId, 'completed');

  live = spec(new Date(now - 120_000), 50_000);
  await ctx.runs.create(live);
  for (const id of fileIds) await ctx.runs.registerFile(live.runId, id, fileOf(live.runId, id));
  await ctx.runs.scanDone(live.runId);
  await appendSample(ctx.redis, ctx.keyPrefix, live.runId, { t: now - 120_000, done: 0, failed: 0, costMicros: 0, mediaMs: 0 });

  server = await startDashboard(ctx, { port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // CSP violations and script errors surface here: the page must run with its own inline script only.
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`${msg.text()} ${msg.location().url}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (ctx) {
    await dropKeys(ctx.redis, prefix);
    await ctx.close();
  }
});

describe('dashboard', () => {
  it('serves /api/runs newest first, with progress, media, cost against budget and no secrets', async () => {
    const res = await fetch(`${server.url}/api/runs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { generatedAt: string; runs: Record<string, unknown>[] };
    expect(body.runs.map((r) => r.runId)).toEqual([live.runId, older.runId]);
    expect(body.runs[0]).toMatchObject({
      status: 'running',
      task: 'caption',
      model: 'qwen3-omni-30b-a3b-captioner',
      source: 's3://media/in/',
      scanDone: true,
      files: { total: 5, done: 0, succeeded: 0, failed: 0, skipped: 0, notRun: 0, pending: 5 },
      progress: { fraction: 0, text: '0 / 5 files · 0 succeeded · 0 failed · 0 skipped' },
      media: { ms: 0, hours: 0, text: '0.00 h' },
      cost: { micros: 0, amount: '0.000000', priced: true },
      budget: { micros: 50_000, amount: '0.050000', fraction: 0 },
    });
    expect(body.runs[1]).toMatchObject({ status: 'completed', files: { total: 2, done: 2 }, cost: { micros: 4_000, text: '0.004000 USD' }, budget: null });
    expect(JSON.stringify(body)).not.toContain('do-not-show');

    expect((await fetch(`${server.url}/api/runs/no-such-run`)).status).toBe(404);
  });

  it("shows a live run's progress changing in headless Chromium without a reload", async () => {
    await page.goto(`${server.url}/`);
    await waitForText(`tr[data-run-id="${live.runId}"] .progress-text`, '0 / 5 files');
    // one render draws every row, newest first
    expect(await page.locator('#runs tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run-id')))).toEqual([live.runId, older.runId]);
    await page.evaluate(() => {
      (globalThis as unknown as Win).sameDocument = true;
    });

    const t0 = Date.now() - 100_000;
    await finish(live.runId, 'f0', 'succeeded', t0, 12_000);
    await finish(live.runId, 'f1', 'succeeded', t0 + 30_000, 11_000);
    await finish(live.runId, 'f2', 'failed', t0 + 60_000, 0);

    await waitForText(`tr[data-run-id="${live.runId}"] .progress-text`, '3 / 5 files · 2 succeeded · 1 failed');
    expect(await page.evaluate(() => (globalThis as unknown as Win).sameDocument)).toBe(true);
    const row = page.locator(`tr[data-run-id="${live.runId}"]`);
    expect(await row.locator('.cost-text').textContent()).toBe('0.023000 USD');
    expect(await row.locator('.budget-text').textContent()).toBe('of 0.050000 USD budget (46.0%)');
    expect(await row.locator('.failed-count').textContent()).toBe('1');
    expect(await row.locator('.media').textContent()).toBe('0.02 h');
  });

  it('opens a run: a chart of cost and throughput with more than one point, failures with their codes', async () => {
    await page.locator(`tr[data-run-id="${live.runId}"] td.progress`).click();
    await waitForAttr('#detail', 'data-run-id', 'equals', live.runId);
    await waitForAttr('#chart', 'data-points', 'above', 1);
    expect(await page.locator('#chart polyline').count()).toBe(2);
    const costLine = (await page.locator('#chart polyline.cost').getAttribute('points')) ?? '';
    expect(costLine.trim().split(/\s+/).length).toBeGreaterThan(1);
    expect(await page.locator('#d-codes').textContent()).toContain('media_unreadable × 1');
    expect(await page.locator('#failures tbody tr').count()).toBe(1);
    expect(await page.locator('#failures tbody').textContent()).toContain('s3://media/in/f2.mp3');
    expect(await page.locator('#d-spec').textContent()).not.toContain('do-not-show');

    // the open detail keeps polling too
    await finish(live.runId, 'f3', 'succeeded', Date.now() - 10_000, 9_000);
    await waitForText('.detail-progress', '4 / 5 files');
    expect((await readSeries(ctx.redis, ctx.keyPrefix, live.runId)).length).toBe(5);

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('shows a --via batch run: marked in the list, each batch with its counts and age, the provider id as text', async () => {
    // The batch store's state as the batch workers leave it (runs/batch-store.ts): two input files, one with a
    // batch 2 h 10 min into its window. The id is the provider's text: markup in it must stay text.
    const hostileId = 'batch_<img src=x onerror="globalThis.pwned=1">';
    const run = { ...spec(new Date(Date.now() - 4 * 3_600_000)), via: 'batch' as const };
    await ctx.runs.create(run);
    await ctx.runs.registerFile(run.runId, 'f0', fileOf(run.runId, 'f0'));
    await ctx.runs.scanDone(run.runId);
    const line = (chunk: number) => ({ job: `job-${chunk}`, fileId: 'f0', generation: 0, chunk, bytes: 100 });
    for (const c of [0, 1, 2]) await ctx.batches.queueLine(run.runId, `f0.0.${c}`, line(c));
    const limits = { maxRequests: 2, maxBytes: 1_000_000 };
    const first = (await ctx.batches.claimInput(run.runId, limits, false))!;
    const second = (await ctx.batches.claimInput(run.runId, limits, false))!;
    await ctx.batches.patchInput(run.runId, first, {
      fileId: 'file-in-1',
      batchId: hostileId,
      status: 'in_progress',
      counts: { total: 2, completed: 1, failed: 1 },
      batchCreatedAt: Math.floor(Date.now() / 1000) - (2 * 3600 + 10 * 60),
    });

    const list = (await (await fetch(`${server.url}/api/runs`)).json()) as { runs: { runId: string; via: string }[] };
    expect(list.runs.find((r) => r.runId === run.runId)?.via).toBe('batch');
    expect(list.runs.find((r) => r.runId === live.runId)?.via).toBe('realtime');
    const detail = (await (await fetch(`${server.url}/api/runs/${run.runId}`)).json()) as {
      batches: { text: string; rows: Record<string, unknown>[] };
    };
    expect(detail.batches.text).toBe('2 batches: 1 in progress, 1 packing · 1/3 requests done, 1 failed');
    expect(detail.batches.rows).toMatchObject([
      { input: first, batch_id: hostileId, status: 'in_progress', completed: 1, failed: 1, total: 2, counts_text: '1/2 done, 1 failed', window_s: 86_400 },
      { input: second, batch_id: null, status: 'packing', lines: 1, counts_text: '1 line', age_text: null },
    ]);
    // the clock moves between the write and the read: 2 h 10 min, or 2 h 11 min on a slow machine
    expect(detail.batches.rows[0].age_text).toMatch(/^2 h 1[01] min of 24 h$/);
    expect(((await (await fetch(`${server.url}/api/runs/${live.runId}`)).json()) as { batches: unknown }).batches).toBeNull();

    await page.goto(`${server.url}/#run=${run.runId}`);
    await waitForText('#batches-text', '2 batches');
    const listed = page.locator(`tr[data-run-id="${run.runId}"] .via-batch`);
    expect(await listed.isVisible()).toBe(true);
    expect(await page.locator(`tr[data-run-id="${live.runId}"] .via-batch`).isVisible()).toBe(false);
    const rows = page.locator('#batches tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).locator('td.id').textContent()).toBe(hostileId);
    expect(await rows.nth(0).locator('td.requests').textContent()).toBe('1/2 done, 1 failed');
    expect(await rows.nth(0).locator('td.age').textContent()).toMatch(/^2 h 1[01] min of 24 h$/);
    expect(await rows.nth(1).locator('td.id').textContent()).toBe(`input ${second} (no batch yet)`);
    expect(await page.locator('#batches img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    await page.screenshot({ path: path.join(path.dirname(SCREENSHOT), 'dashboard-batch.png'), fullPage: true });

    // a real-time run's page has no batch section
    await page.goto(`${server.url}/#run=${live.runId}`);
    await waitForAttr('#detail', 'data-run-id', 'equals', live.runId);
    expect(await page.locator('#d-batches').isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('serves Bull Board at /queues with every stage queue', async () => {
    const res = await fetch(`${server.url}/queues`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const api = (await (await fetch(`${server.url}/queues/api/queues`)).json()) as { queues: { name: string }[] };
    expect(api.queues.map((q) => q.name).sort()).toEqual(STAGES.map(queueName).sort());

    const board = await browser.newPage();
    await board.goto(`${server.url}/queues`);
    await board.getByText(queueName('infer'), { exact: false }).first().waitFor();
    await board.close();
  });
});
