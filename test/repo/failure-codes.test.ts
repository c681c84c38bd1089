/**
 * The FailureCode table (src/util/failure-codes.ts) is the one list of codes: the README's troubleshooting
 * table is generated from it, every code in it is raised somewhere, and OmniError refuses a free string.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OmniError } from '../../src/util/errors.ts';
import {
  CODES_BEGIN,
  CODES_END,
  FAILURE_CODES,
  type FailureCode,
  failureCodesTable,
  isFailureCode,
  withFailureCodesTable,
} from '../../src/util/failure-codes.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { sourceFiles } from './imports.ts';

const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

describe('failure codes', () => {
  it("README's table is the one the union generates (npm run docs:codes)", () => {
    expect(readme).toContain(CODES_BEGIN);
    expect(readme).toContain(CODES_END);
    expect(withFailureCodesTable(readme)).toBe(readme);
  });

  it('the generated table has one row per code, with what the queue does with it', () => {
    const rows = failureCodesTable().split('\n').slice(2);
    expect(rows).toHaveLength(Object.keys(FAILURE_CODES).length);
    expect(rows).toContain(`| \`worker_lost\` | fails the file | ${FAILURE_CODES.worker_lost.meaning} | ${FAILURE_CODES.worker_lost.action} |`);
    expect(rows.find((r) => r.startsWith('| `storage_unavailable` |'))).toMatch(/^\| `storage_unavailable` \| retries with backoff \|/);
    expect(rows.find((r) => r.startsWith('| `rate_limited` |'))).toMatch(/^\| `rate_limited` \| waits \(no attempt spent\) \|/);
    expect(rows.find((r) => r.startsWith('| `internal` |'))).toMatch(/^\| `internal` \| fails the file \|/);
  });

  it('a README that drifts from the union is caught', () => {
    const drifted = readme.replace('| `worker_lost` | fails the file |', '| `worker_lost` | retries with backoff |');
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
    for (const gone of ['unknown_model', 'bad_task', 'bad_input_mode', 'unknown', 'storage_failed', 'auth_required', 'invalid_request'])
      expect(isFailureCode(gone)).toBe(false);
    // our own refusal of a flag and the service's 400 are different facts
    expect(FAILURE_CODES.invalid_argument.queue).toBe('refuse');
    expect(FAILURE_CODES.service_invalid_request.queue).toBe('fail_file');
    expect(isFailureCode('model_unknown')).toBe(true);
    expect(isFailureCode('invalid_task')).toBe(true);
    // model_not_found stays: it is the service's 404, a different fact from our refusal (model_unknown)
    expect(FAILURE_CODES.model_not_found.meaning).toMatch(/service/);
  });

  it('no second table of retryable or fatal codes stands anywhere in src/ (the failure table decides)', () => {
    const offenders = sourceFiles(REPO_ROOT, 'src')
      .filter((f) => !f.endsWith('util/failure-codes.ts'))
      .filter((f) =>
        /\b(RETRYABLE|RATE_LIMITED|RUN_FATAL|REFUSED_AT_THE_DOOR)\b|retryable:\s*(true|false)/.test(readFileSync(path.join(REPO_ROOT, f), 'utf8')),
      );
    expect(offenders).toEqual([]);
  });

  it('OmniError takes only a FailureCode (tsc checks this file)', () => {
    // @ts-expect-error a free string is not a FailureCode
    const free = new OmniError('unknown_model', 'x');
    expect(isFailureCode(free.code)).toBe(false);
  });
});
