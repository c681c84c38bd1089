/** How a thrown value becomes a failure: coded errors keep their word, bugs are not retried, the rest is. */
import { describe, expect, it } from 'vitest';
import { describeError, isProgrammerError, OmniError } from '../../src/util/errors.ts';

describe('describeError', () => {
  it("keeps a coded error's code and retryability", () => {
    expect(describeError(new OmniError('media_unreadable', 'bad', { retryable: false }))).toEqual({
      code: 'media_unreadable',
      message: 'bad',
      retryable: false,
    });
    expect(describeError(new OmniError('server_error', '503', { retryable: true }))).toMatchObject({ retryable: true });
  });

  it('makes TypeError, SyntaxError, RangeError and ReferenceError a non-retryable internal that says it is a bug', () => {
    let corrupt: unknown;
    try {
      JSON.parse('{"usage": {"input_tokens": 1');
    } catch (err) {
      corrupt = err;
    }
    const errors = [corrupt, new TypeError('x is undefined'), new RangeError('bad length'), new ReferenceError('y is not defined')];
    for (const err of errors) {
      const e = describeError(err);
      expect(e.code).toBe('internal');
      expect(e.retryable).toBe(false);
      expect(e.message).toMatch(new RegExp(`^programmer error \\(${(err as Error).name}\\), not retried: `));
      expect(e.message).toContain((err as Error).message);
    }
  });

  it('counts subclasses and errors of another realm by name', () => {
    class MyParseError extends SyntaxError {}
    expect(isProgrammerError(new MyParseError('x'))).toBe(true);
    const foreign = Object.assign(new Error('from a vm context'), { name: 'TypeError' });
    expect(describeError(foreign).retryable).toBe(false);
  });

  it("retries other errors: a library's Error, a thrown string, and fetch()'s network TypeError", () => {
    expect(describeError(new Error('Connection is closed.'))).toEqual({ code: 'internal', message: 'Connection is closed.', retryable: true });
    expect(describeError('boom')).toEqual({ code: 'internal', message: 'boom', retryable: true });
    const fetchFailed = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(describeError(fetchFailed)).toMatchObject({ code: 'internal', retryable: true, message: 'fetch failed' });
  });
});
