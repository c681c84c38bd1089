// The Batch contract's pure parts: the completion window, metadata, the served models per region, the fault header,
// and the input-file validator fed line by line (no HTTP, no files).
import { describe, expect, it } from 'vitest';
import { batchServed, DEFAULT_BATCH_LIMITS, metadataRefusal, parseCompletionWindow } from '../../src/emulator/batch/contract.ts';
import { drawBatchFaults, parseFaultHeader } from '../../src/emulator/batch/options.ts';
import { InputFileValidator } from '../../src/emulator/batch/validate.ts';
import { seededRandom } from '../../src/util/random.ts';

describe('completion_window', () => {
  it.each([
    ['24h', 24],
    ['336h', 336],
    ['1d', 24],
    ['14d', 336],
  ])('%s is %i hours', (w, h) => expect(parseCompletionWindow(w, DEFAULT_BATCH_LIMITS)).toBe(h));
  it.each(['23h', '337h', '15d', '24', '24.5h', '1440m', 24, null])('%s is refused', (w) =>
    expect(typeof parseCompletionWindow(w, DEFAULT_BATCH_LIMITS)).toBe('string'),
  );
});

describe('metadata', () => {
  it('takes up to 16 string pairs within the lengths', () => {
    expect(metadataRefusal({ ds_name: 'n'.repeat(100), ds_description: 'd'.repeat(200), run: 'r' })).toBeUndefined();
    expect(metadataRefusal(null)).toBeUndefined();
    expect(metadataRefusal({ ds_description: 'd'.repeat(201) })).toContain('ds_description');
    expect(metadataRefusal({ k: 1 })).toContain('string');
    expect(metadataRefusal({ ['k'.repeat(65)]: 'v' })).toContain('64');
    expect(metadataRefusal({ k: 'v'.repeat(513) })).toContain('512');
  });
});

describe('which models each region serves in Batch', () => {
  it('Beijing: the stable qwen-omni-turbo, qwen3.5-omni-plus (256K), the test model; Singapore: the test model only', () => {
    expect(batchServed('cn', 'qwen-omni-turbo')).toBeDefined();
    expect(batchServed('cn', 'qwen-omni-turbo-latest')).toBeUndefined();
    expect(batchServed('cn', 'qwen3.5-omni-plus')?.maxInputTokens).toBe(262_144);
    expect(batchServed('cn', 'qwen3-omni-flash')).toBeUndefined();
    expect(batchServed('intl', 'qwen-omni-turbo')).toBeUndefined();
    expect(batchServed('intl', 'batch-test-model')).toBeDefined();
  });
});

describe('the fault header and the option rates', () => {
  it('parses each fault, with defaults', () => {
    expect(parseFaultHeader('expire')).toEqual({ expireAfter: 0.5 });
    expect(parseFaultHeader('expire=0.25, validation')).toEqual({ expireAfter: 0.25, validation: true });
    expect(parseFaultHeader('fail-lines=0.3')).toEqual({ failLines: { share: 0.3, kind: 'server_error' } });
    expect(parseFaultHeader('fail-lines=1:quota')).toEqual({ failLines: { share: 1, kind: 'quota' } });
    for (const bad of ['expire=2', 'fail-lines=0.5:stall', 'fail-lines', 'boom']) expect(typeof parseFaultHeader(bad)).toBe('string');
  });
  it('draws the same faults for the same seed', () => {
    const opts = { batchExpire: 0.5, batchValidationFail: 0.5 };
    const draw = (seed: number) =>
      Array.from(
        { length: 20 },
        (
          (r) => () =>
            drawBatchFaults(opts, r)
        )(seededRandom(seed)),
      );
    expect(draw(3)).toEqual(draw(3));
    expect(draw(3).filter((f) => f.expireAfter !== undefined).length).toBeGreaterThan(0);
    expect(draw(3).filter((f) => f.expireAfter === undefined).length).toBeGreaterThan(0);
  });
});

describe('the input-file validator', () => {
  const line = (id: string, model = 'qwen-omni-turbo') =>
    JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [] } });
  const run = (texts: string[], limits = DEFAULT_BATCH_LIMITS, region: 'cn' | 'intl' = 'cn') => {
    const v = new InputFileValidator(region, '/v1/chat/completions', limits);
    texts.forEach((t, i) => {
      v.line(t, i + 1);
    });
    return v.finish();
  };
  it('passes a good file, blank lines skipped, custom_ids in order', () => {
    expect(run([line('a'), '', line('b'), '  '])).toEqual({ ok: true, model: 'qwen-omni-turbo', customIds: ['a', 'b'] });
  });
  it('lists every broken line up to 100, with line numbers', () => {
    const r = run(Array.from({ length: 150 }, (_, i) => (i === 0 ? line('0') : 'not json')));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors).toHaveLength(100);
      expect(r.errors[0]).toEqual({ code: 'invalid_json_line', message: 'Line 2: not valid JSON.', param: null, line: 2 });
    }
  });
  it('counts bytes: over the file limit is a whole-file error', () => {
    const r = run([line('a'), line('b')], { ...DEFAULT_BATCH_LIMITS, maxFileBytes: line('a').length + 5 });
    expect(r.ok ? [] : r.errors.map((e) => e.code)).toEqual(['file_too_large']);
  });
  it('takes the true file size when given (CRLF line ends count)', () => {
    const v = new InputFileValidator('cn', '/v1/chat/completions', { ...DEFAULT_BATCH_LIMITS, maxFileBytes: 2 * line('a').length + 2 });
    v.line(line('a'), 1);
    v.line(line('b'), 2);
    expect(v.finish(2 * line('a').length + 2).ok).toBe(true);
    const w = new InputFileValidator('cn', '/v1/chat/completions', { ...DEFAULT_BATCH_LIMITS, maxFileBytes: 2 * line('a').length + 2 });
    w.line(line('a'), 1);
    w.line(line('b'), 2);
    expect(w.finish(2 * line('a').length + 4).ok).toBe(false);
  });
});
