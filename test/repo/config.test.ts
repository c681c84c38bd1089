/**
 * Configuration enters in one place: config/ reads the environment into a validated Config, cli/ (the
 * composition root) hands it down. Nothing below reads process.env, so no setting escapes SETTINGS'
 * validation and the README's table.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';
import { sourceFiles } from './imports.ts';

describe('configuration', () => {
  it('no file of src/ outside config/ and cli/ reads process.env', () => {
    const readers = sourceFiles(REPO_ROOT, 'src')
      .map((f) => f.split(path.sep).join('/'))
      .filter((f) => !f.startsWith('src/config/') && !f.startsWith('src/cli/'))
      .filter((f) => /\bprocess\.env\b/.test(readFileSync(path.join(REPO_ROOT, f), 'utf8')));
    expect(readers).toEqual([]);
  });
});
