/**
 * The FailureCode table (src/util/failure-codes.ts) is the one list of codes: the README's troubleshooting
 * table is generated from it, every code in it is raised somewhere, and OmniError refuses a free string.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';
import { sourceFiles } from './imports.ts';
import {
  CODES_BEGIN,
  CODES_END,
  FAILURE_CODES,
  failureCodesTable,
  isFailureCode,
  withFailureCodesTable,
  type FailureCode,
} from '../../src/util/failure-codes.ts';
import { OmniError } from '../../src/util/errors.ts';

const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

describe('failure codes', () => {
  it("README's table is the one the union generates (npm run docs:codes)", () => {
    expect(readme).toContain(CODES_BEGIN);
    expect(readme).toContain(CODES_END);
    expect(withFailureCodesTable(readme)).toBe(readme);
  });

  it('the generated table has one row per code, with its retryability', () => {
    const rows = failureCodesTable().split('\n').slice(2);
    expect(rows).toHaveLength(Object.keys(FAILURE_CODES).length);
    expect(rows).toContain(`| \`worker_lost\` | no | ${FAILURE_CODES.worker_lost.meaning} | ${FAILURE_CODES.worker_lost.action} |`);
    expect(rows.find((r) => r.startsWith('| `storage_unavailable` |'))).toMatch(/^\| `storage_unavailable` \| yes \|/);
    expect(rows.find((r) => r.startsWith('| `internal` |'))).toMatch(/^\| `internal` \| varies \|/);
  });

  it('a README that drifts from the union is caught', () => {
    const drifted = readme.replace('| `worker_lost` | no |', '| `worker_lost` | yes |');
    expect(drifted).not.toBe(readme);
    expect(withFailureCodesTable(drifted)).not.toBe(drifted);
  });

  it('every code in the table is raised by the product (no stale rows)', () => {
    const src = sourceFiles(REPO_ROOT, 'src')
      .filter((f) => !f.endsWith('util/failure-codes.ts') && !f.includes('emulator/'))
      .map((f) => readFileSync(path.join(REPO_ROOT, f), 'utf8'))
      .join('\n');
    const stopReasons = readFileSync(path.join(REPO_ROOT, 'src/runs/types.ts'), 'utf8').match(/type StopReason = ([^;]+);/)?.[1] ?? '';
    const unused = (Object.keys(FAILURE_CODES) as FailureCode[]).filter((code) => {
      // not_run rows carry `stopped_${reason}` (lifecycle/file-state.ts)
      if (code.startsWith('stopped_')) return !stopReasons.includes(`'${code.slice('stopped_'.length)}'`);
      return !src.includes(`'${code}'`);
    });
    expect(unused).toEqual([]);
  });

  it('synonyms are merged: one code for an unknown model and one for an unknown task', () => {
    for (const gone of ['unknown_model', 'bad_task', 'bad_input_mode']) expect(isFailureCode(gone)).toBe(false);
    expect(isFailureCode('model_unknown')).toBe(true);
    expect(isFailureCode('invalid_task')).toBe(true);
    // model_not_found stays: it is the service's 404, a different fact from our refusal (model_unknown)
    expect(FAILURE_CODES.model_not_found.meaning).toMatch(/service/);
  });

  it('OmniError takes only a FailureCode (tsc checks this file)', () => {
    // @ts-expect-error a free string is not a FailureCode
    const free = new OmniError('unknown_model', 'x', { retryable: false });
    expect(isFailureCode(free.code)).toBe(false);
  });
});
