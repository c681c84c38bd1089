/**
 * Where the tests find things. Test media never require anything outside the repository: media(name) and
 * corpus() give files from demo/media, test/fixtures/media and generated ones (./media-catalog.ts). The team's
 * ../shared/media corpus, when it sits beside the checkout, is only an extra that corpus() adds; set
 * OMNIBATCH_NO_SHARED=1 to run as a fresh clone would.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFixture, FIXTURES, type Fixture, type Truth } from './media-catalog.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const sharedDir = path.resolve(REPO_ROOT, '../shared/media');
/** ../shared/media when it is there and not hidden by OMNIBATCH_NO_SHARED=1; tests must pass without it. */
export const SHARED_MEDIA: string | undefined = process.env.OMNIBATCH_NO_SHARED === '1' || !existsSync(sharedDir) ? undefined : sharedDir;

const byName = new Map<string, Fixture>();
for (const f of FIXTURES) for (const n of [f.name, ...(f.standsFor ?? [])]) byName.set(n, f);

/**
 * A test medium by name: a built-in fixture's own name, or the ../shared/media name it stands in for (same
 * container and codecs, and the durations, channels and rates tests assert). Always the built-in file, so a
 * test reads the same bytes on every machine, whether or not ../shared is there.
 */
export function media(name: string): string {
  const f = byName.get(name);
  if (!f) throw new Error(`test media: no built-in file for '${name}': add one to test/helpers/media-catalog.ts (tests may not need ../shared/media)`);
  return ensureFixture(f);
}

export interface CorpusFile {
  /** unique within the corpus: `<origin>/<name>` */
  key: string;
  file: string;
  origin: Fixture['origin'] | 'shared';
  /** what is known of it; undefined for ../shared/media files (their tests keep their own tables) */
  truth?: Truth;
  noAudio?: true;
  /** the file's name where it lives (for ../shared/media, the name its SOURCES.md gives) */
  name: string;
}

/** Every built-in file (made if needed), then every file of ../shared/media when it is there. */
export function corpus(opts: { shared?: boolean } = {}): CorpusFile[] {
  const out: CorpusFile[] = FIXTURES.map((f) => ({
    key: `${f.origin}/${f.name}`,
    file: ensureFixture(f),
    origin: f.origin,
    truth: f.truth,
    noAudio: f.noAudio,
    name: f.name,
  }));
  if (opts.shared !== false)
    out.push(...sharedMedia().map((name) => ({ key: `shared/${name}`, file: path.join(SHARED_MEDIA!, name), origin: 'shared' as const, name })));
  return out;
}

/** The names in ../shared/media, or none when it is absent or hidden. */
export function sharedMedia(): string[] {
  if (!SHARED_MEDIA) return [];
  return readdirSync(SHARED_MEDIA)
    .filter((f) => f !== 'SOURCES.md')
    .sort();
}

export { FIXTURES, type Fixture, type Truth };

/** ../shared/media's files that no task can use, with the code each must fail with (per its SOURCES.md). */
const SHARED_FAILURES: Record<string, string> = {
  'mm__corrupt.mkv': 'media_unreadable',
  'fp__invalid.flac': 'media_unreadable',
  'pydub__test1_empty.wav': 'media_empty',
  'fp__standard.mp4': 'media_no_audio',
  "fluentff__te[s]t_ video ' _ .flv": 'media_no_audio',
};

/** The code an audio task (caption, transcribe) must fail `f` with, or undefined when it must succeed. */
export function audioTaskFailure(f: CorpusFile): string | undefined {
  if (f.origin === 'shared') return SHARED_FAILURES[f.name];
  if (f.truth && 'fails' in f.truth) return f.truth.fails;
  return f.noAudio ? 'media_no_audio' : undefined;
}
