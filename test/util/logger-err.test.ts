/** `err` in a log line is an error object, whatever was handed to it (issue 22: a string came out as {"0":"n",...}). */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/util/logger.ts';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  const log = createLogger({ level: 'info', pretty: false, destination });
  return {
    log,
    lines: () =>
      out
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
  };
}

describe('err in a log line', () => {
  it('an Error keeps its type, message and stack', () => {
    const { log, lines } = capture();
    log.error({ code: 'media_unreadable', err: new Error('no stream') }, 'failed');
    const [line] = lines();
    expect(line.err).toMatchObject({ type: 'Error', message: 'no stream' });
    expect(String((line.err as { stack: string }).stack)).toMatch(/no stream/);
  });

  it('a string is kept as a string, never spread into characters', () => {
    const { log, lines } = capture();
    log.error({ err: 'not an error object' }, 'failed');
    expect(lines()[0].err).toBe('not an error object');
  });
});
