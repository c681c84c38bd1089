/** The pure parts: key builders, key validation, location parsing. No fs, no network. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { storageOptionsFromConfig } from '../../src/storage/index.ts';
import {
  assertKey,
  assertPrefix,
  compareKeys,
  confinedPath,
  fileIdOf,
  isInternalKey,
  outputKey,
  runKey,
  stagingKey,
  stagingPrefix,
} from '../../src/storage/keys.ts';
import { locationUri, parseLocation } from '../../src/storage/location.ts';
import { OmniError } from '../../src/util/errors.ts';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OmniError);
    return (err as OmniError).code;
  }
  return undefined;
}

describe('keys', () => {
  it('mirrors output keys from source keys', () => {
    expect(outputKey('a/b.mp3', 'json')).toBe('a/b.mp3.json');
    expect(outputKey('a/b.mp3', '.txt')).toBe('a/b.mp3.txt');
    expect(outputKey('b.mp3', 'moderation.json')).toBe('b.mp3.moderation.json');
    expect(code(() => outputKey('a/b.mp3', ''))).toBe('storage_invalid_key');
    expect(code(() => outputKey('a/b.mp3', 'x/y'))).toBe('storage_invalid_key');
    expect(code(() => outputKey('../b.mp3', 'json'))).toBe('storage_invalid_key');
  });

  it('builds staging and run keys under internal prefixes', () => {
    expect(stagingKey('r1', 'abc', 3, 'chunk.mp3')).toBe('_staging/r1/abc/3/chunk.mp3');
    expect(stagingPrefix('r1')).toBe('_staging/r1/');
    expect(stagingPrefix('r1', 'abc')).toBe('_staging/r1/abc/');
    expect(runKey('r1', 'report.json')).toBe('_runs/r1/report.json');
    expect(isInternalKey(stagingKey('r1', 'abc', 0, 'x'))).toBe(true);
    expect(isInternalKey(runKey('r1', 'cost.csv'))).toBe(true);
    expect(isInternalKey('_runsx/a')).toBe(false);
    expect(isInternalKey('in/_runs/a')).toBe(false);
    for (const bad of [
      () => stagingKey('', 'f', 0, 'n'),
      () => stagingKey('r', '..', 0, 'n'),
      () => stagingKey('r', 'f', -1, 'n'),
      () => stagingKey('r', 'f', 1.5, 'n'),
      () => stagingKey('r', 'f', 0, 'a/b'),
      () => runKey('a/b', 'x'),
      () => runKey('r', '.'),
    ]) {
      expect(code(bad)).toBe('storage_invalid_key');
    }
  });

  it('gives each key a short stable file id', () => {
    const id = fileIdOf('a/b.mp3');
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(fileIdOf('a/b.mp3')).toBe(id);
    expect(fileIdOf('a/b.mp4')).not.toBe(id);
    expect(fileIdOf('héllo #1?.mp3')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('accepts any characters in a segment but no empty, "." or ".." segment', () => {
    for (const ok of ['a', 'a/b.mp3', 'with space/"q"/\'s\'/#/?/%20/日本/🎵', '...', '.hidden', 'a..b', '-', 'x\\..\\y']) {
      expect(assertKey(ok)).toBe(ok);
    }
    for (const bad of ['', '/a', 'a/', 'a//b', '.', '..', './a', 'a/.', '../a', 'a/../b', 'a/..', 'nul\0', 'x'.repeat(1025)]) {
      expect(code(() => assertKey(bad))).toBe('storage_invalid_key');
    }
    expect(assertKey('x'.repeat(1024))).toHaveLength(1024);
  });

  it('accepts listing prefixes ending in a partial segment', () => {
    for (const ok of ['', 'a', 'a/', 'a/b', 'a/b/', 'a/.', 'a/..x']) expect(assertPrefix(ok)).toBe(ok);
    for (const bad of ['/', '../', 'a//', './a', 'a/../']) expect(code(() => assertPrefix(bad))).toBe('storage_invalid_key');
  });

  it('confines key paths to their root', () => {
    const root = path.resolve('/tmp/job-1');
    expect(confinedPath(root, 'a/b.mp3')).toBe(path.join(root, 'a', 'b.mp3'));
    expect(confinedPath(`${root}/`, 'x #?.mp3')).toBe(path.join(root, 'x #?.mp3'));
    for (const bad of ['../x', 'a/../../x', '..', '/etc/passwd', 'a//b']) expect(code(() => confinedPath(root, bad))).toBe('storage_invalid_key');
  });

  it('orders keys as S3 does (UTF-8 bytes)', () => {
    expect(['b', 'a/x', 'a-b', 'é', 'z', '\u{1F3B5}', '\uFFFD'].sort(compareKeys)).toEqual(['a-b', 'a/x', 'b', 'z', 'é', '\uFFFD', '\u{1F3B5}']);
  });
});

describe('parseLocation', () => {
  it('reads s3 locations as a bucket and a folder prefix', () => {
    expect(parseLocation('s3://media/in/')).toEqual({ kind: 's3', bucket: 'media', prefix: 'in/' });
    expect(parseLocation('s3://media/in')).toEqual({ kind: 's3', bucket: 'media', prefix: 'in/' });
    expect(parseLocation('s3://media')).toEqual({ kind: 's3', bucket: 'media', prefix: '' });
    expect(parseLocation('s3://media/')).toEqual({ kind: 's3', bucket: 'media', prefix: '' });
    expect(parseLocation('s3://media/a b/%20/')).toEqual({ kind: 's3', bucket: 'media', prefix: 'a b/%20/' });
    expect(locationUri(parseLocation('s3://media/in'))).toBe('s3://media/in/');
  });

  it('reads local paths and file URLs as absolute roots', () => {
    expect(parseLocation('./out', '/work/x')).toEqual({ kind: 'local', root: '/work/x/out' });
    expect(parseLocation('out/', '/work/x')).toEqual({ kind: 'local', root: '/work/x/out' });
    expect(parseLocation('/abs/dir/')).toEqual({ kind: 'local', root: '/abs/dir' });
    expect(parseLocation('file:///abs/my%20dir/')).toEqual({ kind: 'local', root: '/abs/my dir' });
    expect(locationUri(parseLocation('/abs/my dir'))).toBe('file:///abs/my%20dir/');
  });

  it('rejects what it cannot use', () => {
    for (const bad of [
      '',
      '  ',
      's3://',
      's3://a',
      's3://ab',
      's3://bad bucket/x',
      's3://bkt/a//c',
      's3://bkt/../x',
      's3://bkt/a/./',
      'gs://b/x',
      'http://host/x',
      'file://host/x',
    ]) {
      expect(code(() => parseLocation(bad))).toBe('storage_invalid_location');
    }
  });
});

describe('storageOptionsFromConfig', () => {
  it('turns on path style when an endpoint is set, and passes the region', () => {
    const cfg = loadConfig({ env: { S3_ENDPOINT: 'http://127.0.0.1:9000', AWS_REGION: 'eu-west-1' } });
    expect(storageOptionsFromConfig(cfg)).toEqual({ s3Endpoint: 'http://127.0.0.1:9000', s3ForcePathStyle: true, awsRegion: 'eu-west-1' });
    const plain = loadConfig({ env: {} });
    expect(storageOptionsFromConfig(plain)).toMatchObject({ s3ForcePathStyle: false, awsRegion: 'us-east-1' });
    const off = loadConfig({ env: { S3_ENDPOINT: 'http://h:1', S3_FORCE_PATH_STYLE: 'false' } });
    expect(storageOptionsFromConfig(off).s3ForcePathStyle).toBe(false);
  });
});
