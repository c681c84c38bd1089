/** Which objects of a source a run takes: pure. */
import picomatch from 'picomatch';

/** Extensions ffmpeg reads that people keep audio and video in; anything else is ignored unless --include names it. */
export const MEDIA_EXTENSIONS = new Set([
  'mp3',
  'wav',
  'flac',
  'ogg',
  'oga',
  'opus',
  'm4a',
  'aac',
  'amr',
  'awb',
  'wma',
  'aif',
  'aiff',
  'aifc',
  'mka',
  'caf',
  'ac3',
  'eac3',
  'au',
  'mp2',
  'spx',
  'mp4',
  'm4v',
  'mov',
  'mkv',
  'webm',
  'avi',
  'flv',
  '3gp',
  '3g2',
  'ts',
  'mts',
  'm2ts',
  'mpg',
  'mpeg',
  'wmv',
  'ogv',
  'vob',
  'dv',
  'mxf',
]);

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
    if (run) return [{ kind: 'run', runId: run[1] }];
    const slash = rel.lastIndexOf('/');
    const dir = rel.slice(0, slash + 1);
    const name = rel.slice(slash + 1);
    const claims: OutputClaim[] = [];
    // Every way the name splits into <source name>.<output extension>: `a.flac.wav` may be a.flac's audio, or a's.
    for (let i = name.indexOf('.'); i > 0; i = name.indexOf('.', i + 1)) claims.push({ kind: 'result', resultKey: `${dir}${name.slice(0, i)}.json`, name });
    // A result names itself: `a.mp3.json` is a.mp3's result when a.mp3.json is signed (claimed above as <a.mp3>.json).
    return claims;
  };
}

/** A predicate over keys relative to the source: --include globs replace the extension rule; --exclude always applies. */
export function compileFilter(f: SourceFilter): (key: string) => boolean {
  const opts = { dot: true, nocase: true };
  const inc = f.include?.length ? picomatch(f.include as string[], opts) : undefined;
  const exc = f.exclude?.length ? picomatch(f.exclude as string[], opts) : undefined;
  return (key) => {
    if (exc?.(key)) return false;
    if (inc) return inc(key);
    return MEDIA_EXTENSIONS.has(extensionOf(key));
  };
}
