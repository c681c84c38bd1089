/**
 * The `validating` status: an input file checked line by line against the documented input-file rules
 * (docs/protocols.md "Batch (file input)"): JSONL in UTF-8, each line at most 6 MB, a unique custom_id,
 * POST to the batch's endpoint, one model (and one thinking mode) per file, a model the region's Batch
 * serves, at most 50,000 requests. Pure: the caller feeds the lines. A file that breaks a rule fails the
 * whole batch (status `failed`, the reasons in `errors.data` with their line numbers).
 */
import type { Region } from '../../models/catalog.ts';
import { type BatchLimits, batchServed, endpointFor, REGION_NAMES, TEST_MODEL } from './contract.ts';

/** One entry of a failed batch's `errors.data` (OpenAI's BatchError shape). */
export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  /** 1-based line of the input file; null for a whole-file error */
  line: number | null;
}

export type ValidationResult = { ok: true; model: string; customIds: string[] } | { ok: false; errors: BatchError[] };

/** More reasons than this are not listed (a file of 50,000 bad lines fails with the first ones). */
const MAX_ERRORS = 100;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export class InputFileValidator {
  private readonly errors: BatchError[] = [];
  private readonly ids = new Set<string>();
  private readonly customIds: string[] = [];
  private model: string | undefined;
  private thinking: unknown;
  private bytes = 0;

  constructor(
    private readonly region: Region,
    private readonly endpoint: string,
    private readonly limits: BatchLimits,
  ) {}

  private fail(code: string, message: string, line: number | null, param: string | null = null): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push({ code, message, param, line });
  }

  /** One line of the file (without its newline); `lineNo` is 1-based. Blank lines are skipped. */
  line(text: string, lineNo: number): void {
    const size = Buffer.byteLength(text, 'utf8');
    this.bytes += size + 1;
    if (text.trim() === '') return;
    this.customIds.push('');
    const problem = this.check(text, size, lineNo);
    if (problem) this.fail(problem.code, problem.message, lineNo, problem.param);
  }

  private check(text: string, size: number, lineNo: number): Omit<BatchError, 'line'> | undefined {
    const at = (code: string, message: string, param: string | null = null) => ({ code, message: `Line ${lineNo}: ${message}`, param });
    if (size > this.limits.maxLineBytes) return at('line_too_large', `${size} bytes, over the limit of ${this.limits.maxLineBytes}.`);
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch {
      return at('invalid_json_line', 'not valid JSON.');
    }
    if (!isObj(row)) return at('invalid_json_line', 'not a JSON object.');
    const id = row.custom_id;
    if (typeof id !== 'string' || id === '') return at('missing_required_parameter', 'no custom_id.', 'custom_id');
    if (this.ids.has(id)) return at('duplicate_custom_id', `custom_id ${id} is used by an earlier line.`, 'custom_id');
    this.ids.add(id);
    this.customIds[this.customIds.length - 1] = id;
    if (row.method !== 'POST') return at('invalid_method', 'method must be POST.', 'method');
    const body = row.body;
    if (!isObj(body) || typeof body.model !== 'string') return at('missing_required_parameter', 'no body.model.', 'body.model');
    this.checkModel(body, lineNo);
    if (row.url !== this.endpoint) return at('mismatched_url', `url ${String(row.url)} differs from the batch's endpoint ${this.endpoint}.`, 'url');
    return undefined;
  }

  /** The first line fixes the file's model and thinking mode; every other line must repeat them. */
  private checkModel(body: Json, lineNo: number): void {
    const model = body.model as string;
    if (this.model === undefined) {
      this.model = model;
      this.thinking = body.enable_thinking;
      if (!batchServed(this.region, model)) {
        this.fail('model_not_supported', `The model ${model} is not served by Batch in the ${REGION_NAMES[this.region]} region.`, lineNo, 'body.model');
      } else if (endpointFor(model) !== this.endpoint) {
        const code = model === TEST_MODEL || this.endpoint === endpointFor(TEST_MODEL) ? 'mismatched_test_url' : 'mismatched_url';
        this.fail(code, `The model ${model} is served at ${endpointFor(model)}, not ${this.endpoint}.`, lineNo, 'url');
      }
      return;
    }
    if (model !== this.model)
      this.fail('mismatched_model', `Line ${lineNo}: model ${model} differs from ${this.model}: one model per file.`, lineNo, 'body.model');
    else if (body.enable_thinking !== this.thinking)
      this.fail(
        'mismatched_thinking_mode',
        `Line ${lineNo}: enable_thinking differs from the first line's: one thinking mode per file.`,
        lineNo,
        'body.enable_thinking',
      );
  }

  /** The whole-file rules, once every line has been seen; `fileBytes` the file's true size (CRLFs included), when known. */
  finish(fileBytes?: number): ValidationResult {
    const n = this.customIds.length;
    const test = this.model === TEST_MODEL;
    const maxRequests = test ? Math.min(this.limits.testMaxRequests, this.limits.maxRequests) : this.limits.maxRequests;
    const maxBytes = test ? Math.min(this.limits.testMaxFileBytes, this.limits.maxFileBytes) : this.limits.maxFileBytes;
    if (n === 0) this.fail('empty_file', 'The input file holds no request.', null);
    if (n > maxRequests)
      this.fail('too_many_requests', `The input file holds ${n} requests: the limit is ${maxRequests}${test ? ` for ${TEST_MODEL}` : ''}.`, null);
    if ((fileBytes ?? this.bytes - 1) > maxBytes)
      this.fail('file_too_large', `The input file is over ${maxBytes} bytes${test ? ` for ${TEST_MODEL}` : ''}.`, null);
    if (this.errors.length > 0 || this.model === undefined) return { ok: false, errors: this.errors };
    return { ok: true, model: this.model, customIds: this.customIds };
  }
}
