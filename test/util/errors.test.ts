/** How a thrown value becomes a failure: coded errors keep their code and the table's word, the rest is `internal`. */
import { describe, expect, it } from 'vitest';
import { describeError, OmniError } from '../../src/util/errors.ts';
import { FAILURE_CODES, type FailureCode, retryableCode } from '../../src/util/failure-codes.ts';

describe('describeError', () => {
  it("keeps a coded error's code, with the retryability the failure table gives it", () => {
    expect(describeError(new OmniError('media_unreadable', 'bad'))).toEqual({ code: 'media_unreadable', message: 'bad', retryable: false });
    expect(describeError(new OmniError('server_error', '503'))).toMatchObject({ retryable: true });
    expect(describeError(new OmniError('aborted', 'stopped'))).toMatchObject({ retryable: true });
  });

  it('makes TypeError, SyntaxError, RangeError and ReferenceError a non-retryable internal that says it is a bug', () => {
    let corrupt: unknown;
    try {
      JSON.parse('{"usage": {"input_tokens": 1');
    } catch (err) {
      corrupt = err;
    }
    class MyParseError extends SyntaxError {}
    const foreign = Object.assign(new Error('from a vm context'), { name: 'TypeError' });
    const errors = [corrupt, new TypeError('x is undefined'), new RangeError('bad length'), new ReferenceError('y is not defined'), foreign];
    for (const err of errors) {
      const e = describeError(err);
      expect(e.code).toBe('internal');
      expect(e.retryable).toBe(false);
      expect(e.message).toMatch(new RegExp(`^programmer error \\(${(err as Error).name}\\), not retried: `));
      expect(e.message).toContain((err as Error).message);
    }
    expect(describeError(new MyParseError('x')).message).toMatch(/^programmer error/);
  });

  it("an uncoded Error or a thrown string is internal and not retried (the issue's 'a plain Error is still retried')", () => {
    expect(describeError(new Error('something odd'))).toEqual({ code: 'internal', message: 'something odd', retryable: false });
    expect(describeError('boom')).toEqual({ code: 'internal', message: 'boom', retryable: false });
  });

  it("a lost connection is weather: fetch()'s network TypeError, an errno on the error, a closed Redis connection", () => {
    const fetchFailed = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(describeError(fetchFailed)).toEqual({ code: 'connection', message: 'fetch failed', retryable: true });
    expect(describeError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toMatchObject({ code: 'connection', retryable: true });
    expect(describeError(new Error('Connection is closed.'))).toMatchObject({ code: 'connection', retryable: true });
  });
});

describe('OmniError', () => {
  it('takes retryability from the failure table for every code (the raiser cannot say otherwise)', () => {
    for (const code of Object.keys(FAILURE_CODES) as FailureCode[]) {
      const q = FAILURE_CODES[code].queue;
      expect(new OmniError(code, 'x').retryable, code).toBe(q === 'wait' || q === 'retry');
      expect(retryableCode(code), code).toBe(q === 'wait' || q === 'retry');
    }
  });

  it('serialises the table word with the code', () => {
    expect(new OmniError('rate_limited', 'slow down', { retryAfterMs: 500, status: 429 }).toJSON()).toEqual({
      code: 'rate_limited',
      message: 'slow down',
      retryable: true,
      status: 429,
      retryAfterMs: 500,
    });
  });
});
