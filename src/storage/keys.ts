/**
 * Every storage key the product builds, in one file of pure functions (no fs, no network, no clock).
 * Keys are '/'-separated and relative to a store's root (the location's prefix or directory).
 *
 * A key is accepted only if each of its segments could be a file name: no empty segments (so no
 * leading, trailing or doubled '/'), no '.' or '..' (so a key never climbs out of the root or the
 * temp dir, and no two spellings name one object), no NUL. We reject rather than normalise: S3
 * would treat 'a/../b' and 'b' as two objects, and mapping both to one output would silently collide.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { OmniError } from '../util/errors.ts';

/** S3's limit, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
export const RUNS_DIR = '_runs';
export const STAGING_DIR = '_staging';

function invalidKey(key: string, why: string): OmniError {
  return new OmniError('storage_invalid_key', `invalid storage key ${JSON.stringify(key)}: ${why}`, { details: { key } });
}

/** Why `segment` cannot be one path segment of a key, or undefined if it can. */
function segmentProblem(segment: string): string | undefined {
  if (segment === '') return 'empty segment (leading, trailing or doubled "/")';
  if (segment === '.' || segment === '..') return `"${segment}" segment`;
  if (segment.includes('\0')) return 'NUL character';
  return undefined;
}

/** Throws storage_invalid_key unless `key` is a safe object key; returns it unchanged. */
export function assertKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw invalidKey(String(key), 'empty key');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw invalidKey(key, `longer than ${MAX_KEY_BYTES} bytes`);
  for (const segment of key.split('/')) {
    const problem = segmentProblem(segment);
    if (problem) throw invalidKey(key, problem);
  }
  return key;
}

/**
 * A listing prefix: '' (everything), a folder ('a/b/') or a partial key ('a/b' matches 'a/b.mp3' and
 * 'a/b/c'). Every complete segment must be safe; the trailing partial segment may be empty.
 */
export function assertPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const segments = prefix.split('/');
  const last = segments.pop() as string;
  for (const segment of segments) {
    const problem = segmentProblem(segment);
    if (problem) throw invalidKey(prefix, problem);
  }
  if (last.includes('\0')) throw invalidKey(prefix, 'NUL character');
  return prefix;
}

/** 'a/b.mp3' + 'json' -> 'a/b.mp3.json'; ext may be compound ('moderation.json'). */
export function outputKey(relKey: string, ext: string): string {
  const clean = ext.replace(/^\.+/, '');
  if (clean === '' || clean.includes('/')) throw invalidKey(`${relKey}.${ext}`, `bad extension ${JSON.stringify(ext)}`);
  return assertKey(`${assertKey(relKey)}.${clean}`);
}

/** The longest name a local filesystem takes for one path segment (ext4, xfs, btrfs, APFS, NTFS: 255 bytes). */
export const MAX_SEGMENT_BYTES = 255;
/** The longest suffix an output adds to its source's name: '.moderation.json' (every other is shorter). */
export const LONGEST_OUTPUT_SUFFIX = '.moderation.json';

/**
 * Why the outputs of `relKey` cannot be written into a folder, or undefined: a segment (the last one with the
 * longest output suffix) over 255 bytes fails with ENAMETOOLONG in the middle of a run. Checked before any file
 * system call, so such an object fails alone (key_too_long) instead of failing the listing that met it.
 */
export function localNameProblem(relKey: string, maxSegmentBytes = MAX_SEGMENT_BYTES): string | undefined {
  const segments = relKey.split('/');
  for (const [i, segment] of segments.entries()) {
    const name = i === segments.length - 1 ? `${segment}${LONGEST_OUTPUT_SUFFIX}` : segment;
    const bytes = Buffer.byteLength(name, 'utf8');
    if (bytes > maxSegmentBytes) {
      const shown = segment.length > 40 ? `${segment.slice(0, 40)}...` : segment;
      return i === segments.length - 1
        ? `the name "${shown}" (${Buffer.byteLength(segment, 'utf8')} bytes) with its output suffix ${LONGEST_OUTPUT_SUFFIX} is ${bytes} bytes: a folder takes at most ${maxSegmentBytes}`
        : `the folder name "${shown}" is ${bytes} bytes: a folder takes at most ${maxSegmentBytes}`;
    }
  }
  return undefined;
}

/** One path segment built from an id or a name we generate: must not be empty, '.', '..' or contain '/'. */
function idSegment(what: string, value: string): string {
  if (typeof value !== 'string' || value.includes('/') || segmentProblem(value)) {
    throw invalidKey(String(value), `${what} must be one non-empty path segment without "/"`);
  }
  return value;
}

export function stagingPrefix(runId: string, fileId?: string): string {
  const run = `${STAGING_DIR}/${idSegment('runId', runId)}/`;
  return fileId === undefined ? run : `${run}${idSegment('fileId', fileId)}/`;
}

/** '_staging/<runId>/<fileId>/<chunk>/<name>': one folder per chunk so a redone chunk overwrites itself. */
export function stagingKey(runId: string, fileId: string, chunk: number, name: string): string {
  if (!Number.isSafeInteger(chunk) || chunk < 0) throw invalidKey(String(chunk), 'chunk must be a non-negative integer');
  return assertKey(`${stagingPrefix(runId, fileId)}${chunk}/${idSegment('name', name)}`);
}

export function runPrefix(runId: string): string {
  return `${RUNS_DIR}/${idSegment('runId', runId)}/`;
}

/** '_runs/<runId>/<name>': report.json, cost.csv, failures.jsonl. */
export function runKey(runId: string, name: string): string {
  return assertKey(`${runPrefix(runId)}${idSegment('name', name)}`);
}

/**
 * 16 hex chars (64 bits) of SHA-256 of the key: short enough for job ids and paths, and for a
 * 10-million-object archive the chance of any collision is about 3 in a million.
 */
export function fileIdOf(relKey: string): string {
  return createHash('sha256').update(relKey, 'utf8').digest('hex').slice(0, 16);
}

/** The scanner skips these when the destination is (inside) the source. */
export function isInternalKey(key: string): boolean {
  return key.startsWith(`${RUNS_DIR}/`) || key.startsWith(`${STAGING_DIR}/`);
}

/**
 * The path of `key` under the directory `root`, for the local backend and for temp dirs.
 * The key is validated, and the result is checked to be strictly inside root as a second fence.
 */
export function confinedPath(root: string, key: string): string {
  assertKey(key);
  const base = path.resolve(root);
  const full = path.resolve(base, ...key.split('/'));
  if (!full.startsWith(base + path.sep)) throw invalidKey(key, 'resolves outside its root');
  return full;
}

/** Byte-wise (UTF-8) order, the order S3 lists keys in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
