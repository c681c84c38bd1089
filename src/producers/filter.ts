/** Which objects of a source a run takes: pure. */
import picomatch from 'picomatch';
import { MEDIA_EXTENSIONS, NOT_MEDIA_EXTENSIONS } from '../media/formats.ts';
import { OmniError } from '../util/errors.ts';

/** Extensions of the containers the allow-list reads (media/formats.ts: one table for both). */
export { MEDIA_EXTENSIONS };

export function extensionOf(key: string): string {
  const base = key.slice(key.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

export interface SourceFilter {
  include?: readonly string[];
  exclude?: readonly string[];
}

/**
 * What would make a listed key one of the outputs runs wrote, when the destination is the source or lies in
 * it. Never a name pattern: an upload named `clip.flac.wav` or `_runs/evil.wav` is media like any other.
 * A key is an output only when the run's own records say so (the caller checks each claim):
 *  - `run`: `_runs/<runId>/...` or `_staging/<runId>/...` of a run this deployment has in its store;
 *  - `result`: `<P>.<ext>` where `<P>.json` is a result this deployment signed (outputs/signature.ts) that lists
 *    the key's name among its outputs (or is that result itself): each result is its file's outputs manifest.
 */
export type OutputClaim = { kind: 'run'; runId: string } | { kind: 'result'; resultKey: string; name: string };

/**
 * For a key relative to the source: the claims that could make it an output, in the destination's own terms;
 * none when the key is not under the destination (never sliced to look as if it were) or the destination is
 * not inside the source. PURE.
 */
export function outputsOf(sourceUri: string, destinationUri: string): (key: string) => OutputClaim[] {
  if (!destinationUri.startsWith(sourceUri)) return () => [];
  const destPrefix = destinationUri.slice(sourceUri.length);
  return (key) => {
    if (!key.startsWith(destPrefix)) return [];
    const rel = key.slice(destPrefix.length);
    const run = /^_(?:runs|staging)\/([^/]+)\/./.exec(rel);
    // An upload may sit under a `_runs/<name>/` too: then its own outputs are claimed by its result as well.
    const claims: OutputClaim[] = run ? [{ kind: 'run', runId: run[1] }] : [];
    const slash = rel.lastIndexOf('/');
    const dir = rel.slice(0, slash + 1);
    const name = rel.slice(slash + 1);
    // Every way the name splits into <source name>.<output extension>: `a.flac.wav` may be a.flac's audio, or a's.
    for (let i = name.indexOf('.'); i > 0; i = name.indexOf('.', i + 1)) claims.push({ kind: 'result', resultKey: `${dir}${name.slice(0, i)}.json`, name });
    // A result names itself: `a.mp3.json` is a.mp3's result when a.mp3.json is signed (claimed above as <a.mp3>.json).
    return claims;
  };
}

/** Why an object of the listing is not processed: a user's pattern, or a name that is surely not media. */
export interface SkipReason {
  code: 'excluded' | 'not_media';
  message: string;
}

/**
 * Which objects a run reads, as a decision per key (relative to the source): undefined = read it (its content
 * decides: prepare reports what is not media), else the reason it is not read, which the report lists.
 *  - `--exclude` matched: excluded. `--include` given: what it does not match is excluded (it replaces the
 *    extension rule: `--include '*'` reads everything);
 *  - by default every extension of a container the allow-list reads (formats.ts), and every name that is
 *    neither that nor surely something else (no extension, `.dat`, a camera's own): content decides;
 *  - a name that is surely not audio or video (`.pdf`, `.jpg`, `.m3u8`, ...): not_media, never downloaded.
 */
export function compileSelection(f: SourceFilter): (key: string) => SkipReason | undefined {
  const opts = { dot: true, nocase: true };
  const inc = f.include?.length ? picomatch(f.include as string[], opts) : undefined;
  const exc = f.exclude?.length ? picomatch(f.exclude as string[], opts) : undefined;
  return (key) => {
    if (exc?.(key)) return { code: 'excluded', message: `matched --exclude ${f.exclude!.map((p) => `'${p}'`).join(' ')}` };
    if (inc) return inc(key) ? undefined : { code: 'excluded', message: `not matched by --include ${f.include!.map((p) => `'${p}'`).join(' ')}` };
    const ext = extensionOf(key);
    if (NOT_MEDIA_EXTENSIONS.has(ext) && !MEDIA_EXTENSIONS.has(ext)) {
      return { code: 'not_media', message: `a .${ext} file is not audio or video by its name: not read (--include '*.${ext}' reads it)` };
    }
    return undefined;
  };
}

/** A predicate over keys relative to the source: true for the objects a run reads (compileSelection). */
export function compileFilter(f: SourceFilter): (key: string) => boolean {
  const why = compileSelection(f);
  return (key) => why(key) === undefined;
}

/** True when the key's name claims a container the allow-list reads (a failure to read it is a broken file, not a non-media one). */
export function namesMedia(key: string): boolean {
  return MEDIA_EXTENSIONS.has(extensionOf(key));
}

/**
 * A file the probe could not read as media, judged by its name too: a name that claims a container we read
 * (`x.wav`) is a broken file and fails with its code; any other name (`README`, `x.dat`) whose content is not
 * media either is not the run's business: skipped as not_media, with ffprobe's reason (issue 22: every listed
 * object is processed or reported with a reason).
 */
export function notMediaReason(err: unknown, namesMedia: boolean): string | undefined {
  if (namesMedia || !(err instanceof OmniError)) return undefined;
  if (err.code !== 'media_unreadable' && err.code !== 'media_unsupported_container') return undefined;
  return `not audio or video by its content: ${err.message}`;
}
