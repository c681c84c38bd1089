/**
 * HTTP Range for the dashboard's player and output links, pure: one `bytes=` range of an object of `size`
 * bytes (a browser's <audio>/<video> asks `bytes=0-` and then seeks with `bytes=N-`). Several ranges in one
 * request are answered with the first only, as many servers do; a browser never asks for more.
 */
import type { ByteRange } from '../storage/types.ts';

export type RangeAnswer = { kind: 'whole' } | { kind: 'partial'; range: ByteRange } | { kind: 'unsatisfiable' };

export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (!header) return { kind: 'whole' };
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*(?:,.*)?$/u.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'whole' }; // a malformed Range is ignored (RFC 9110 14.2)
  if (size === 0) return { kind: 'unsatisfiable' };
  if (m[1] === '') {
    // the last N bytes
    const n = Math.min(Number(m[2]), size);
    return n > 0 ? { kind: 'partial', range: { start: size - n, end: size - 1 } } : { kind: 'unsatisfiable' };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end } };
}

/** What the player's media is served as: by the key's extension, never by what the bucket or the file claims. */
const MEDIA_TYPES: Record<string, string> = {
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  txt: 'text/plain; charset=utf-8',
  srt: 'text/plain; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
  json: 'application/json',
};

export function servedType(key: string): string {
  const dot = key.lastIndexOf('.');
  return (dot >= 0 && MEDIA_TYPES[key.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/** Video by extension: the review page plays these in a <video>, the rest in an <audio>. */
export function isVideoKey(key: string): boolean {
  return servedType(key).startsWith('video/');
}
