/** Which objects of a source a run takes: pure. */
import picomatch from 'picomatch';
import { OmniError } from '../util/errors.ts';
import { MEDIA_EXTENSIONS, NOT_MEDIA_EXTENSIONS } from '../media/formats.ts';

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
 * When the destination is the source, or lies inside it, the listing also returns what runs wrote there:
 * `_runs/`, `_staging/`, the destination's own subtree, and the spoken `.wav` of a media file (`a.flac.wav`),
 * which would otherwise be taken as new media and paid for again on every run. Keys relative to the source.
 */
export function outputsOf(sourceUri: string, destinationUri: string): (key: string) => boolean {
  if (!destinationUri.startsWith(sourceUri)) return () => false;
  const destPrefix = destinationUri.slice(sourceUri.length);
  return (key) => {
    if (destPrefix && key.startsWith(destPrefix)) return true;
    const rel = key.slice(destPrefix.length);
    if (/^(_runs|_staging)\//.test(rel) || /\/(_runs|_staging)\//.test(rel)) return true;
    return /\.wav$/i.test(key) && MEDIA_EXTENSIONS.has(extensionOf(key.slice(0, -4)));
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
