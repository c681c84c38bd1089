/**
 * The suite's own rules, read from the test sources: the unit list (vitest.config.ts, `npm run test:unit`)
 * holds only tests that start nothing, and every test reaches Redis through test/helpers/redis.ts (REDIS_URL).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { UNIT_TESTS } from '../../vitest.config.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { sourceFiles } from './imports.ts';

const tests = sourceFiles(REPO_ROOT, 'test').map((f) => f.split(path.sep).join('/'));
const read = (f: string): string => readFileSync(path.join(REPO_ROOT, f), 'utf8');

/** What a unit test may not import: each starts a process, a server or a connection. */
const NOT_IN_UNIT = [
  'ioredis',
  'node:child_process',
  'node:http',
  's3rver',
  '/helpers/cli.ts',
  '/helpers/pipeline.ts',
  '/helpers/redis.ts',
  '/helpers/s3rver.ts',
  '/storage/harness.ts',
  '/emulator/server.ts',
  '/app/context.ts',
  '/media/ffmpeg.ts',
  '/media/probe.ts',
];

describe('the test suite', () => {
  const isUnit = picomatch(UNIT_TESTS);
  const unit = tests.filter((f) => isUnit(f));

  it('the unit list names existing test files, and none of them starts a process, a server or a connection', () => {
    expect(unit.length).toBeGreaterThan(25);
    for (const pattern of UNIT_TESTS)
      expect(
        tests.some((f) => picomatch(pattern)(f)),
        pattern,
      ).toBe(true);
    const offending = unit.flatMap((f) => {
      const specifiers = [...read(f).matchAll(/^\s*import\s[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
      return specifiers.filter((s) => NOT_IN_UNIT.some((bad) => s === bad || s.endsWith(bad))).map((s) => `${f}: ${s}`);
    });
    expect(offending).toEqual([]);
  });

  it("opens the tests' Redis only through testRedis() (REDIS_URL), never with new Redis() of its own", () => {
    // a client of another server (the compose test's stand-in) is its own business: its URL is that server's
    const own = /new Redis\(\s*(\)|process\.env\.REDIS_URL|['"`]redis:\/\/(127\.0\.0\.1|localhost)(:6379)?['"`/])/;
    const bare = tests.filter((f) => !f.endsWith('/redis.ts') && !f.endsWith('/test-suite.test.ts') && own.test(read(f)));
    expect(bare).toEqual([]);
  });
});
