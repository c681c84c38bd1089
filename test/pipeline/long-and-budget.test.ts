/** A generated file over an hour long (many chunks, stitched in order, cues inside the duration) and budget stops. */
import { cp, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { media } from '../helpers/paths.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

function srtTimes(srt: string): [number, number][] {
  const t = (s: string) => {
    const [h, m, rest] = s.split(':');
    return Number(h) * 3600 + Number(m) * 60 + Number(rest.replace(',', '.'));
  };
  return [...srt.matchAll(/(\d\d:\d\d:\d\d,\d{3}) --> (\d\d:\d\d:\d\d,\d{3})/g)].map((m) => [t(m[1]), t(m[2])]);
}

/** the long file's length: over an hour */
const LONG_S = 3690;

describe('long media and budgets', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.startWorkers({ inferConcurrency: 8 });
  });
  afterAll(async () => h?.close());

  it('a file over an hour: many chunks, text in order, SRT/VTT cues monotonic within the duration', async () => {
    const dir = path.join(h.tmp, 'long');
    await mkdir(dir, { recursive: true });
    // 61.5 minutes (cues cross 01:00:00 in the SRT/VTT as written): a tone that pauses for 2 s every 60 s (places
    // to cut), 8 kHz mono mp3 at lame's fastest setting: cheap to make (a sine muted by a timeline filter: half the
    // CPU of evaluating an aevalsrc expression per sample). The run's own --chunk-seconds (120 s instead of the
    // task's 300) gives it as many chunks as two hours at the default did: every pass over the media (made, encoded
    // by prepare, measured by the emulator) costs by the second, and the chunk count is what this test is about.
    await runFfmpeg([
      '-y',
      '-f',
      'lavfi',
      '-i',
      `sine=f=300:r=8000:d=${LONG_S},volume=0.3,volume=enable='lt(mod(t,60),2)':volume=0`,
      '-c:a',
      'libmp3lame',
      '-compression_level',
      '9',
      '-b:a',
      '16k',
      path.join(dir, 'radio show.mp3'),
    ]);
    const out = path.join(h.tmp, 'out-long');
    const s = await h.run({ source: dir, destination: out, task: 'transcribe', chunkSeconds: 120 });
    expect(s.status).toBe('completed');
    const doc = JSON.parse(await readFile(path.join(out, 'radio show.mp3.json'), 'utf8'));
    expect(doc.source.duration_s).toBeGreaterThan(LONG_S - 1);
    expect(doc.chunks.length).toBeGreaterThanOrEqual(25);
    let prevEnd = 0;
    for (const c of doc.chunks) {
      expect(c.start_s).toBeGreaterThanOrEqual(prevEnd - 0.05);
      prevEnd = c.end_s;
    }
    expect(prevEnd).toBeGreaterThan(LONG_S - 1);
    // The emulator's answers start with the chunk's own duration: stitched in chunk order.
    const firsts = doc.chunks.map((c: { text: string }) => c.text.slice(0, 40));
    let at = -1;
    for (const f of firsts) {
      const i = doc.text.indexOf(f, at + 1);
      expect(i).toBeGreaterThan(at);
      at = i;
    }
    for (const ext of ['srt', 'vtt']) {
      const body = await readFile(path.join(out, `radio show.mp3.${ext}`), 'utf8');
      const times = srtTimes(ext === 'srt' ? body : body.replace(/(\d\d:\d\d:\d\d)\.(\d{3})/g, '$1,$2'));
      expect(times.length).toBeGreaterThan(20);
      // cues past the hour, written with their hour field (01:...)
      expect(times.at(-1)![1]).toBeGreaterThan(3600);
      let last = 0;
      for (const [a, b] of times) {
        expect(a).toBeGreaterThanOrEqual(last);
        expect(b).toBeGreaterThan(a);
        expect(b).toBeLessThanOrEqual(doc.source.duration_s + 0.001);
        last = b;
      }
    }
  }, 180_000);

  it('a budget for about half the set stops the run and never spends more than the budget', async () => {
    const dir = path.join(h.tmp, 'budget');
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < 10; i++) await cp(media('whisper__jfk.flac'), path.join(dir, `clip-${i}.flac`));
    // Price one file with an unbudgeted run on a copy, then give the budgeted run about half the set.
    const probeOut = path.join(h.tmp, 'out-budget-probe');
    const one = await h.run({ source: dir, destination: probeOut, task: 'caption', maxFiles: 1 });
    const perFile = JSON.parse(await readFile(path.join(probeOut, '_runs', one.spec.runId, 'report.json'), 'utf8')).cost.actual.amount_micros;
    const budgetMicros = perFile * 5;
    const out = path.join(h.tmp, 'out-budget');
    const s = await h.run({ source: dir, destination: out, task: 'caption', budgetMicros });
    expect(s.status).toBe('stopped_budget');
    const report = JSON.parse(await readFile(path.join(out, '_runs', s.spec.runId, 'report.json'), 'utf8'));
    expect(report.status).toBe('stopped_budget');
    expect(report.cost.ledger.amount_micros).toBeLessThanOrEqual(budgetMicros);
    expect(report.counts.succeeded).toBeGreaterThan(0);
    expect(report.counts.succeeded).toBeLessThan(10);
    expect(report.counts.not_run).toBe(10 - report.counts.succeeded - report.counts.failed);
    const failures = (await readFile(path.join(out, '_runs', s.spec.runId, 'failures.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(failures.filter((f) => f.code === 'stopped_budget').length).toBe(report.counts.not_run);
  }, 120_000);
});
