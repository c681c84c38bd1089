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
