/**
 * Location strings -> what they point at (pure). A location is always a folder: `s3://bucket/in` and
 * `s3://bucket/in/` are the same place, and keys are relative to it.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OmniError } from '../util/errors.ts';
import { assertKey } from './keys.ts';

export type Location = { kind: 's3'; bucket: string; prefix: string } | { kind: 'local'; root: string };

function invalidLocation(location: string, why: string): OmniError {
  return new OmniError('storage_invalid_location', `invalid location ${JSON.stringify(location)}: ${why}`);
}

// Lenient on purpose: older buckets (and some S3-compatible stores) allow upper case and '_'.
const BUCKET_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{2,254}$/;

/** `s3://bucket/prefix/`, `./dir`, `/abs/dir`, `file:///abs/dir`. Relative paths resolve against `cwd`. */
export function parseLocation(location: string, cwd: string = process.cwd()): Location {
  if (typeof location !== 'string' || location.trim() === '') throw invalidLocation(String(location), 'empty');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(location)?.[1]?.toLowerCase();
  if (scheme === 's3') {
    // Taken verbatim, as the AWS CLI does: no percent-decoding, so '%20' stays three characters.
    const rest = location.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    let prefix = slash === -1 ? '' : rest.slice(slash + 1);
    if (!BUCKET_RE.test(bucket)) throw invalidLocation(location, `bad bucket name ${JSON.stringify(bucket)}`);
    if (prefix !== '') {
      if (!prefix.endsWith('/')) prefix += '/';
      try {
        assertKey(prefix.slice(0, -1));
      } catch (err) {
        throw invalidLocation(location, (err as Error).message);
      }
    }
    return { kind: 's3', bucket, prefix };
  }
  if (scheme === 'file') {
    let root: string;
    try {
      root = fileURLToPath(location);
    } catch (err) {
      throw invalidLocation(location, (err as Error).message);
    }
    return { kind: 'local', root: stripTrailingSep(path.resolve(root)) };
  }
  if (scheme !== undefined) throw invalidLocation(location, `unsupported scheme "${scheme}://" (use s3://, file:// or a path)`);
  return { kind: 'local', root: stripTrailingSep(path.resolve(cwd, location)) };
}

function stripTrailingSep(p: string): string {
  return p.length > 1 && p.endsWith(path.sep) ? p.slice(0, -1) : p;
}

/** The canonical URI of a location (what reports and result JSON show). */
export function locationUri(loc: Location): string {
  if (loc.kind === 's3') return `s3://${loc.bucket}/${loc.prefix}`;
  const href = pathToFileURL(loc.root).href;
  return href.endsWith('/') ? href : `${href}/`;
}
