/**
 * Manifests: JSON lines (`"s3://b/k"` or `{"uri": "..."}`) or CSV (first column, optional header) of object
 * URIs, read line by line so a manifest of millions of entries never sits in memory.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { OmniError } from '../util/errors.ts';

/** One manifest line -> a URI, or undefined for blank lines, comments and a CSV header. Pure. */
export function parseManifestLine(line: string): string | undefined {
  const t = line.trim();
  if (!t || t.startsWith('#')) return undefined;
  if (t.startsWith('{')) {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(t) as Record<string, unknown>;
    } catch {
      // the user's file, not our bug: a coded failure, not a SyntaxError (which reads as a programmer error)
      throw new OmniError('manifest_invalid', `manifest line is not valid JSON: ${t.slice(0, 120)}`);
    }
    const u = o.uri ?? o.url ?? o.key;
    if (typeof u !== 'string') throw new OmniError('manifest_invalid', `manifest line has no "uri": ${t.slice(0, 120)}`);
    return u;
  }
  if (t.startsWith('"') && t.endsWith('"') && !t.slice(1, -1).includes('"')) return t.slice(1, -1);
  // CSV: the first field, honouring quotes.
  let first: string;
  if (t.startsWith('"')) {
    const m = /^"((?:[^"]|"")*)"/.exec(t);
    first = m ? m[1].replace(/""/g, '"') : t;
  } else {
    first = t.split(',')[0].trim();
  }
  if (/^(uri|url|key|path)$/i.test(first)) return undefined;
  return first;
}

/**
 * A manifest URI -> the key relative to the run's source location, or undefined when it is outside it.
 * Pure: `s3://b/in/a.mp3` under `s3://b/in/` -> `a.mp3`; local paths and file:// URLs alike.
 */
export function keyUnderSource(uri: string, sourceUri: string): string | undefined {
  const norm = (u: string) => (u.startsWith('file://') ? decodeURIComponent(u.slice('file://'.length)) : u);
  const base = norm(sourceUri).replace(/\/?$/, '/');
  const full = norm(uri);
  if (!full.startsWith(base)) return undefined;
  const rel = full.slice(base.length);
  return rel.length ? rel : undefined;
}

export async function* readManifest(path: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) {
    const uri = parseManifestLine(line);
    if (uri !== undefined) yield uri;
  }
}
