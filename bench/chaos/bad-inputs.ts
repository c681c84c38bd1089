/**
 * Bad inputs: every test medium (test/helpers/paths.ts corpus(): the built-in files, the broken ones included,
 * and ../shared/media when it is there) plus generated trouble: a 0-byte .mp3,
 * random bytes named .mp3, text named .wav, a 3-hour silence, and keys with spaces, unicode and '..' inside
 * names; then a manifest run whose entries include keys with '.'/'..' segments (no file system or s3rver can
 * hold such keys, a real bucket can) and an object that does not exist.
 * Passes when each file ends as a result or as a failure row whose code says what is wrong (the known ones
 * exactly), and the rest of the run is untouched: every other file has its result and the counts add up.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { audioTaskFailure, corpus, media } from '../../test/helpers/paths.ts';
import { type Harness, withHarness } from '../lib/harness.ts';
import { makeAudio } from '../lib/media.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

/** Failure codes that name the problem (anything else, e.g. an internal error, fails the scenario). */
const SPECIFIC = new Set([
  'media_unreadable',
  'media_empty',
  'media_too_short',
  'media_no_audio',
  'storage_invalid_key',
  'storage_not_found',
  'plan_impossible',
]);

const GENERATED_FAILURES: Record<string, string> = {
  'gen/empty.mp3': 'media_empty',
  'gen/random-bytes.mp3': 'media_unreadable',
  'gen/text.wav': 'media_unreadable',
};

interface Row {
  key: string;
  status: string;
  code?: string;
  chunks?: number;
}

async function rows(h: Harness, runId: string): Promise<Row[]> {
  const out: Row[] = [];
  for await (const [, f] of h.ctx.runs.files(runId)) out.push({ key: f.key, status: f.status, code: f.code, chunks: f.chunks });
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** Expected outcome -> what happened, for every row that differs. */
function judge(all: Row[], expected: Record<string, string>): string[] {
  const wrong: string[] = [];
  for (const r of all) {
    const want = expected[r.key];
    if (want && (r.status !== 'failed' || r.code !== want)) wrong.push(`${r.key}: expected ${want}, got ${r.status} ${r.code ?? ''}`);
    if (!want && r.status !== 'succeeded') wrong.push(`${r.key}: expected a result, got ${r.status} ${r.code ?? ''}`);
    if (r.status === 'failed' && !SPECIFIC.has(r.code ?? '')) wrong.push(`${r.key}: unspecific code ${r.code}`);
  }
  return wrong;
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  return withHarness({ name: 'bad-inputs', emulator: { latencyMs: 0 }, scanSecrets: true, env: { LOG_LEVEL: 'debug' } }, async (h) => {
    const src = path.join(h.tmp, 'in');
    await mkdir(path.join(src, 'gen'), { recursive: true });
    const files = corpus();
    const expectedFailures = { ...GENERATED_FAILURES };
    for (const f of files) {
      await mkdir(path.dirname(path.join(src, f.key)), { recursive: true });
      await cp(f.file, path.join(src, f.key));
      const code = audioTaskFailure(f);
      if (code) expectedFailures[f.key] = code;
    }
    await writeFile(path.join(src, 'gen', 'empty.mp3'), '');
    await writeFile(path.join(src, 'gen', 'random-bytes.mp3'), randomBytes(64 * 1024));
    await writeFile(path.join(src, 'gen', 'text.wav'), 'This is not a WAV file.\n'.repeat(200));
    await makeAudio(path.join(src, 'gen', 'silence-3h.mp3'), { seconds: 3 * 3600, ext: 'mp3', rate: 8000, kbps: 8, kind: 'silence' });
    const good = media('whisper__jfk.flac');
    const goodKey = files.find((f) => f.file === good)!.key;
    for (const k of ['names/with space/a b c.flac', 'names/日本語 ñ 🎵.flac', 'names/..hidden.flac', 'names/a..b.flac', 'names/dots../x.flac']) {
      await mkdir(path.dirname(path.join(src, k)), { recursive: true });
      await cp(good, path.join(src, k));
    }
    const listed = (await readdir(src, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;

    h.spawnWorker(['--infer-concurrency', '16']);
    await sleep(2500);
    const t0 = Date.now();
    const runA = await h.createRun({ source: src, destination: path.join(h.tmp, 'out'), task: 'caption' });
    const a = await h.waitRun(runA, { timeoutMs: 900_000, pollMs: 250 });
    const rowsA = await rows(h, runA);
    const wrongA = judge(rowsA, expectedFailures);
    const silence = rowsA.find((r) => r.key === 'gen/silence-3h.mp3');

    // B: a manifest naming keys no listing can produce.
    const manifest = path.join(h.tmp, 'manifest.jsonl');
    const entries = [goodKey, `names/../${goodKey}`, 'names/./a..b.flac', 'gone/missing.mp3', 'names/a..b.flac'];
    await writeFile(manifest, `${entries.map((k) => JSON.stringify({ uri: `${src}/${k}` })).join('\n')}\n`);
    const runB = await h.createRun({ source: src, destination: path.join(h.tmp, 'out-b'), task: 'caption', manifest });
    const b = await h.waitRun(runB, { timeoutMs: 300_000, pollMs: 250 });
    const rowsB = await rows(h, runB);
    const wrongB = judge(rowsB, {
      [`names/../${goodKey}`]: 'storage_invalid_key',
      'names/./a..b.flac': 'storage_invalid_key',
      'gone/missing.mp3': 'storage_not_found',
    });

    return result(
      'bad-inputs',
      'rows_not_as_expected',
      [
        check('rows_not_as_expected', wrongA.length + wrongB.length, '==', 0),
        check('listing_run_rows', rowsA.length, '==', listed),
        check('listing_run_counts_add_up', a.counts.succeeded + a.counts.failed, '==', a.counts.total),
        check('manifest_run_rows', rowsB.length, '==', entries.length),
        check('silence_3h_chunks', silence?.chunks ?? 0, '>=', 360),
      ],
      {
        listing: {
          status: a.status,
          counts: { total: a.counts.total, succeeded: a.counts.succeeded, failed: a.counts.failed },
          failures: await h.failures(runA),
          wallS: round((a.endedAtMs - t0) / 1000, 1),
          silence3h: silence,
        },
        manifest: { status: b.status, stopMessage: b.stopMessage, rows: rowsB },
        wrong: [...wrongA, ...wrongB].slice(0, 20),
      },
      opts.quick,
    );
  });
}
