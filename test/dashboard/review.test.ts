/**
 * The moderation review queue end to end: a mixed set of 200 files (WAV, WebM video, corrupt) moderated
 * through the real pipeline (emulator over HTTP, real Redis, ffmpeg, local storage), then triaged in Debian's
 * Chromium from the dashboard: the worst file first, its spans with the model's words, the player started at a
 * span (streamed from the source by the dashboard with Range), a decision written next to the result and
 * counted in the report. Every request the pages make goes to the dashboard itself.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForRun } from '../../src/cli/wait.ts';
import { startDashboard } from '../../src/dashboard/server.ts';
import { collectRunReport } from '../../src/lifecycle/run-report.ts';
import type { RunningServer } from '../../src/ops/http.ts';
import { createRun } from '../../src/producers/run.ts';
import type { RunState } from '../../src/runs/types.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/chromium.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { toneWav } from '../helpers/wav.ts';

const run = promisify(execFile);

const WAVS = 194;
const VIDEOS = 4;
const CORRUPT = 2;

let h: Harness;
let dash: RunningServer;
let readOnly: RunningServer;
let browser: Browser;
let page: Page;
let state: RunState;
let out: string;
const requested: string[] = [];
const mediaResponses: { url: string; status: number; range: string | null }[] = [];
const pageErrors: string[] = [];

type El = { textContent: string | null; currentTime: number; readyState: number; firstChild: unknown; dataset: Record<string, string | undefined> };
type Doc = { querySelector(sel: string): El | null; querySelectorAll(sel: string): { length: number } };
/** In-page code reaches the DOM through globalThis: the project's TS lib has no DOM types (as dashboard.test.ts). */
type G = { document: Doc };

beforeAll(async () => {
  h = await startHarness();
  await h.startWorkers({ inferConcurrency: 6, prepareConcurrency: 4 });
  const dir = path.join(h.tmp, 'in');
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < WAVS; i++) await writeFile(path.join(dir, `clip-${String(i).padStart(3, '0')}.wav`), toneWav(2 + (i % 3) * 0.5, 220 + i * 7));
  for (let i = 0; i < VIDEOS; i++) {
    await run('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=160x120:rate=10:duration=${3 + i}`,
      '-f',
      'lavfi',
      '-i',
      `sine=frequency=${300 + 50 * i}:duration=${3 + i}`,
      '-c:v',
      'libvpx',
      '-b:v',
      '200k',
      '-c:a',
      'libopus',
      '-shortest',
      path.join(dir, `video-${i}.webm`),
    ]);
  }
  for (let i = 0; i < CORRUPT; i++) await writeFile(path.join(dir, `broken-${i}.mp3`), Buffer.from(`not media at all ${i} `.repeat(50)));
  out = path.join(h.tmp, 'out');
  const spec = await createRun(h.ctx, { source: dir, destination: out, task: 'moderate' });
  state = await waitForRun(h.ctx, spec.runId, { quiet: true, pollMs: 200 });

  dash = await startDashboard(h.ctx, { port: 0, host: '127.0.0.1', allowActions: true });
  readOnly = await startDashboard(h.ctx, { port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('request', (r) => requested.push(r.url()));
  page.on('response', (r) => {
    if (r.url().includes('/media')) mediaResponses.push({ url: r.url(), status: r.status(), range: r.request().headers().range ?? null });
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`${msg.text()} ${msg.location().url}`);
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await dash?.close();
  await readOnly?.close();
  await h?.close();
});

describe('moderation review queue', () => {
  it('writes moderation.jsonl (every file) and flagged.csv, and counts verdicts, severities and needs_review in the report', async () => {
    expect(state.status).toBe('completed_with_failures');
    expect(state.counts).toMatchObject({ total: 200, succeeded: WAVS + VIDEOS, failed: CORRUPT });
    const runDir = path.join(out, '_runs', state.spec.runId);
    const lines = (await readFile(path.join(runDir, 'moderation.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(200);
    const verdicts = lines.filter((l) => l.verdict !== null);
    expect(verdicts).toHaveLength(WAVS + VIDEOS);
    const flagged = lines.filter((l) => l.verdict === 'flagged');
    // the emulator flags about one clip in three
    expect(flagged.length).toBeGreaterThan(30);
    expect(flagged.length).toBeLessThan(110);
    for (const l of flagged) {
      expect(l.max_severity).toMatch(/^(low|medium|high)$/);
      expect(l.spans.length).toBeGreaterThan(0);
      expect(l.spans[0]).toMatchObject({ category: expect.any(String), severity: expect.any(String), evidence: expect.stringContaining('Possible') });
      expect(l.result_key).toMatch(/\.json$/);
    }
    const failed = lines.filter((l) => l.status === 'failed');
    expect(failed).toHaveLength(CORRUPT);
    expect(failed[0]).toMatchObject({ verdict: null, result_key: null });

    const csv = (await readFile(path.join(runDir, 'flagged.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('uri,verdict,max_severity,categories,needs_review,first_span_s,spans,result_key,review');
    expect(csv.length - 1).toBe(lines.filter((l) => l.verdict === 'flagged' || l.needs_review).length);

    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
    const m = report.moderation;
    expect(m.by_verdict.flagged + m.by_verdict.clear + m.by_verdict.provider_blocked).toBe(WAVS + VIDEOS);
    expect(m.by_verdict.flagged).toBe(flagged.length);
    expect(m.by_severity.high + m.by_severity.medium + m.by_severity.low + m.by_severity.none).toBe(flagged.length);
    expect(m.needs_review).toBe(lines.filter((l) => l.needs_review).length);
    expect(m.decisions).toEqual({ confirmed: 0, cleared: 0, pending: csv.length - 1 });
    expect(m.flagged_files).toBe(flagged.length);
  });

  it('is triaged in Chromium: worst first, spans with the model words, the player starts at a span, a decision lands next to the result and in the report', async () => {
    await page.goto(`${dash.url}/#run=${encodeURIComponent(state.spec.runId)}`);
    await page.waitForFunction(() => (globalThis as unknown as G).document.querySelectorAll('#review-list li').length > 0);
    const queue = (await (await fetch(`${dash.url}/api/runs/${state.spec.runId}/review?limit=500`)).json()) as {
      files: { fileId: string; key: string; moderation: { verdict: string; max_severity: string | null; spans: { start_s: number }[] } }[];
    };
    // flagged and needs-review files only, the worst severity first
    const rank = (s: string | null) => ['low', 'medium', 'high'].indexOf(s ?? '');
    const ranks = queue.files.map((f) => rank(f.moderation.max_severity));
    expect([...ranks].sort((a, b) => b - a)).toEqual(ranks);
    expect(queue.files.every((f) => f.moderation.verdict !== 'clear' || (f.moderation as { needs_review?: boolean }).needs_review)).toBe(true);
    expect(await page.locator('#review-list li').count()).toBe(Math.min(200, queue.files.length));

    // a flagged file whose span starts inside the media, so a seek is visible
    const target = queue.files.find((f) => f.moderation.spans.some((s) => s.start_s > 0.3)) ?? queue.files[0];
    const span = target.moderation.spans.find((s) => s.start_s > 0.3) ?? target.moderation.spans[0];
    const spanIndex = target.moderation.spans.indexOf(span);
    await page.locator(`#review-list li[data-file-id="${target.fileId}"]`).click();
    await page.waitForFunction((id) => (globalThis as unknown as G).document.querySelector('#review-file')?.dataset.fileId === id, target.fileId);
    expect(await page.locator('#rf-spans tbody tr').count()).toBe(target.moderation.spans.length);
    const row = page.locator('#rf-spans tbody tr').nth(spanIndex);
    expect(await row.textContent()).toContain('Possible');
    expect(await row.locator('.sev').textContent()).toBe(target.moderation.max_severity);

    await row.locator('.play-span').click();
    await page.waitForFunction(
      (start) => {
        const p = (globalThis as unknown as G).document.querySelector('#rf-player')?.firstChild as unknown as El | null;
        return Boolean(p && p.readyState >= 1 && Math.abs(p.currentTime - start) < 0.6);
      },
      span.start_s,
      { timeout: 20_000 },
    );
    // served by the dashboard from the source, in ranges; never a bucket URL
    expect(mediaResponses.length).toBeGreaterThan(0);
    expect(mediaResponses.every((r) => r.url.startsWith(`${dash.url}/api/runs/`))).toBe(true);
    expect(mediaResponses.some((r) => r.status === 206)).toBe(true);

    await page.locator('#rf-note').fill('threat confirmed at the span');
    await page.locator('#rf-confirm').click();
    await page.waitForFunction(() => (globalThis as unknown as G).document.querySelector('#review-file')?.dataset.decided === 'confirm');
    await page.waitForFunction(() => (globalThis as unknown as G).document.querySelector('#review-counts')?.textContent?.includes('1 confirmed') ?? false);

    const saved = JSON.parse(await readFile(path.join(out, `${target.key}.review.json`), 'utf8'));
    expect(saved).toMatchObject({
      schema: 'omnibatch.review/v1',
      run_id: state.spec.runId,
      decision: 'confirm',
      note: 'threat confirmed at the span',
      result_key: `${target.key}.json`,
    });
    const report = (await collectRunReport(h.ctx, state.spec.runId)).report;
    expect(report.moderation?.decisions).toMatchObject({ confirmed: 1, cleared: 0 });
    expect((await collectRunReport(h.ctx, state.spec.runId)).review?.jsonl).toContain('"decision":"confirm"');
    await mkdir(path.join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-artifacts', 'review.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('lists every file with its state, chunks, retries, cost, code and output links served by the dashboard', async () => {
    await page.waitForFunction(() => (globalThis as unknown as G).document.querySelectorAll('#files tbody tr').length > 0);
    expect(await page.locator('#files-more').textContent()).toContain('200');
    const firstRows = await page.locator('#files tbody tr').evaluateAll((trs) => trs.slice(0, 2).map((tr) => tr.textContent ?? ''));
    // failed files first, with their code
    for (const t of firstRows) expect(t).toMatch(/failed.*media_/);
    const ok = page.locator('#files tbody tr', { hasText: 'clip-000.wav' });
    expect(await ok.textContent()).toContain('succeeded');
    const links = await ok.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    expect(links.map((l) => l.split('/').pop())).toEqual(['moderation.json', 'json']);
    const res = await fetch(`${dash.url}/${links[0]}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
    expect(((await res.json()) as { schema: string }).schema).toBe('omnibatch.moderation/v1');
    expect(await page.locator('.detail-finished').textContent()).toMatch(/^finished /);
    expect(await page.locator('.detail-eta').textContent()).toBe('ended');
  });

  it('makes no request to any host but itself (the runs page and Bull Board)', async () => {
    // Bull Board's own page links a font on fonts.googleapis.com: stripped, and a self-only CSP besides
    const html = await (await fetch(`${dash.url}/queues`)).text();
    expect(html).toContain('static/js/');
    expect(html).not.toContain('fonts.googleapis');
    const board = await browser.newPage();
    board.on('request', (r) => requested.push(r.url()));
    await board.goto(`${dash.url}/queues`);
    await board.getByText('omnibatch-infer', { exact: false }).first().waitFor();
    await board.close();
    const foreign = requested.filter((u) => !u.startsWith(`${dash.url}/`) && !u.startsWith('data:'));
    expect(foreign).toEqual([]);
  });

  it("plays a manifest run's file from its source, in ranges (a manifest's entries are under the source, as a listing's)", async () => {
    const dir = path.join(h.tmp, 'in');
    const manifest = path.join(h.tmp, 'manifest.txt');
    await writeFile(manifest, `${path.join(dir, 'clip-000.wav')}\n${path.join(dir, 'video-0.webm')}\n`);
    const spec = await createRun(h.ctx, { source: dir, destination: path.join(h.tmp, 'out-manifest'), task: 'moderate', manifest });
    const done = await waitForRun(h.ctx, spec.runId, { quiet: true, pollMs: 200 });
    expect(done.counts).toMatchObject({ total: 2, succeeded: 2 });
    const list = (await (await fetch(`${dash.url}/api/runs/${spec.runId}/files?limit=10`)).json()) as { rows: { fileId: string; uri: string }[] };
    const clip = list.rows.find((f) => f.uri.endsWith('clip-000.wav'));
    expect(clip).toBeDefined();
    const res = await fetch(`${dash.url}/api/runs/${spec.runId}/files/${clip?.fileId}/media`, { headers: { range: 'bytes=0-99' } });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer())).toEqual((await readFile(path.join(dir, 'clip-000.wav'))).subarray(0, 100));
  }, 120_000);

  it('links the sidecars --output-name wrote (named after their language), not the default names', async () => {
    const dir = path.join(h.tmp, 'in-named');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'talk.wav'), toneWav(2, 330));
    const dest = path.join(h.tmp, 'out-named');
    const spec = await createRun(h.ctx, { source: dir, destination: dest, task: 'transcribe', language: 'en', outputName: '{name}.{lang}.{ext}' });
    expect((await waitForRun(h.ctx, spec.runId, { quiet: true, pollMs: 200 })).counts).toMatchObject({ total: 1, succeeded: 1 });
    const list = (await (await fetch(`${dash.url}/api/runs/${spec.runId}/files?limit=10`)).json()) as { rows: { outputs: { name: string; href: string }[] }[] };
    const links = list.rows[0].outputs;
    expect(links.map((l) => l.name)).toEqual(['txt', 'srt', 'vtt', 'segments.json', 'json']);
    for (const l of links) {
      const res = await fetch(new URL(l.href, dash.url));
      expect({ name: l.name, status: res.status }).toEqual({ name: l.name, status: 200 });
      const file = l.name === 'json' ? 'talk.wav.json' : `talk.en.${l.name}`;
      expect(await res.text()).toBe(await readFile(path.join(dest, file), 'utf8'));
    }
  }, 120_000);

  it('refuses a decision on a read-only dashboard, and a malformed one', async () => {
    const target = ((await (await fetch(`${dash.url}/api/runs/${state.spec.runId}/review`)).json()) as { files: { fileId: string }[] }).files[0];
    const post = (base: string, body: unknown) =>
      fetch(`${base}/api/runs/${state.spec.runId}/files/${target.fileId}/review`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: base },
        body: JSON.stringify(body),
      });
    const ro = await post(readOnly.url, { decision: 'clear' });
    expect(ro.status).toBe(405);
    expect(((await ro.json()) as { error: string }).error).toBe('dashboard_read_only');
    const bad = await post(dash.url, { decision: 'delete' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('review_invalid');
  });
});
