/**
 * A run over a folder as an archive holds it (issue 22): ten objects, three of them with unusual or no
 * extensions, MXF and DV among them, and files whose headers lie. Every object is accounted for in the report
 * (read, failed alone with its code, or skipped with its reason in skipped.jsonl), and every file is billed
 * for the audio it decodes to, within 10% plus the per-chunk 1-s minimum.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHIVE_FILES, HOSTILE_FILES } from '../helpers/archive-media.ts';
import { media } from '../helpers/paths.ts';
import type { Harness } from '../helpers/pipeline.ts';
import { harnessWithSource } from '../helpers/source-harness.ts';

const archive = (name: string) => ARCHIVE_FILES.find((f) => f.name === name)!;
const hostile = (name: string) => HOSTILE_FILES.find((f) => f.name === name)!;

/** key -> decodable seconds (undefined: not media) */
const DECODED: Record<string, number | undefined> = {
  'broadcast.mxf': 4,
  'tape.dv': 3,
  'upload-cut-short.mp3': hostile('upload-cut-short.mp3').seconds,
  'xing-claims-800s.mp3': hostile('xing-claims-800s.mp3').seconds,
  'chained-400-links.opus': hostile('chained-400-links.opus').seconds,
  'speech.wav': 6,
  // a FLAC with no extension: read by its content
  'take-07': 11,
};

describe('an archive folder: every object accounted for, every second billed as decoded', () => {
  let h: Harness;
  let src: string;
  beforeAll(async () => {
    ({ h, src } = await harnessWithSource(async (dir, harness) => {
      archive('broadcast.mxf').make(path.join(dir, 'broadcast.mxf'));
      archive('tape.dv').make(path.join(dir, 'tape.dv'));
      for (const f of ['upload-cut-short.mp3', 'xing-claims-800s.mp3', 'chained-400-links.opus', 'timestamps-jump-20h.mkv'])
        hostile(f).make(path.join(dir, f), harness.tmp);
      await cp(media('speech-en-6s-16k.wav'), path.join(dir, 'speech.wav'));
      await cp(media('jfk-inaugural.flac'), path.join(dir, 'take-07'));
      await writeFile(path.join(dir, 'README'), 'Tapes digitised in 2019. Ask the archivist before deleting anything.\n');
      await writeFile(path.join(dir, 'catalogue.csv'), 'tape,title\n07,inaugural\n');
    }));
  }, 180_000);
  afterAll(async () => h?.close());

  it('reports all 10, names each skipped one, fails the gap file alone, and bills what was decoded', async () => {
    const out = path.join(h.tmp, 'out');
    const state = await h.run({ source: src, destination: out, task: 'transcribe' });
    const runDir = path.join(out, '_runs', state.spec.runId);
    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
    expect(report.counts).toMatchObject({ total: 10, succeeded: 7, failed: 1, skipped: 2 });
    expect(report.skipped_by_code).toEqual({ not_media: 2 });
    const lines = (f: string) =>
      readFile(path.join(runDir, f), 'utf8').then((t) =>
        t
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      );
    const skipped = Object.fromEntries((await lines('skipped.jsonl')).map((s) => [path.basename(s.uri), s]));
    expect(Object.keys(skipped).sort()).toEqual(['README', 'catalogue.csv']);
    expect(skipped.README.message).toMatch(/by its content/);
    expect(skipped['catalogue.csv'].message).toMatch(/by its name/);
    const failures = await lines('failures.jsonl');
    expect(failures).toEqual([expect.objectContaining({ code: 'media_suspicious', uri: expect.stringMatching(/timestamps-jump-20h\.mkv$/) })]);
    // Messages name no worker path.
    for (const f of [...failures, ...Object.values(skipped)]) expect(f.message).not.toMatch(/omnibatch-it-|\/work\/|prep-/);

    for (const [key, seconds] of Object.entries(DECODED)) {
      const result = JSON.parse(await readFile(path.join(out, `${key}.json`), 'utf8'));
      const billedS = result.usage.input.audio / 12.5;
      const chunks = result.chunks.length;
      expect(Math.abs(billedS - seconds!), `${key}: billed ${billedS} s for ${seconds} s`).toBeLessThanOrEqual(seconds! * 0.1 + chunks);
      expect(result.source.duration_s).toBeGreaterThan(seconds! * 0.9);
      for (const c of result.chunks) expect(c.end_s).toBeLessThanOrEqual(result.source.duration_s);
    }
  }, 300_000);

  it('--max-files counts the objects read, not those skipped by name', async () => {
    const out = path.join(h.tmp, 'out-max');
    const state = await h.run({ source: src, destination: out, task: 'transcribe', maxFiles: 3 });
    const runDir = path.join(out, '_runs', state.spec.runId);
    const report = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8'));
    const skipped = (await readFile(path.join(runDir, 'skipped.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const byName = skipped.filter((s) => /by its name/.test(s.message)).length;
    expect(report.counts.total - byName).toBe(3);
  }, 300_000);
});
