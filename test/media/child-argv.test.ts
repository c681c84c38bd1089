/** The guards in front of every ffmpeg/ffprobe child (child-argv.ts): pure, no process here. */
import { describe, expect, it } from 'vitest';
import { childArgv, ORPHAN_MARGIN_MS, orphanBoundS } from '../../src/media/child-argv.ts';

const args = ['-hide_banner', '-i', 'file:/tmp/a b.wav', '-f', 'null', '-'];
const opts = (guards: { setpriv?: string; timeout?: string }) => ({ deadlineMs: 60_000, graceMs: 2_000, guards });

describe('childArgv', () => {
  it('with both guards: setpriv binds timeout to the worker, timeout bounds the child, setpriv binds the child to timeout', () => {
    expect(childArgv('ffmpeg', args, opts({ setpriv: 'setpriv', timeout: 'timeout' }))).toEqual({
      file: 'setpriv',
      args: ['--pdeathsig', 'SIGKILL', '--', 'timeout', '-s', 'KILL', '67', 'setpriv', '--pdeathsig', 'SIGKILL', '--', 'ffmpeg', ...args],
    });
  });

  it('each guard alone, and none: the binary and its arguments stay last and untouched', () => {
    expect(childArgv('/opt/ff/ffprobe', args, opts({ setpriv: '/usr/bin/setpriv' }))).toEqual({
      file: '/usr/bin/setpriv',
      args: ['--pdeathsig', 'SIGKILL', '--', '/opt/ff/ffprobe', ...args],
    });
    expect(childArgv('ffmpeg', args, opts({ timeout: 'timeout' }))).toEqual({ file: 'timeout', args: ['-s', 'KILL', '67', 'ffmpeg', ...args] });
    expect(childArgv('ffmpeg', args, opts({}))).toEqual({ file: 'ffmpeg', args });
  });

  it("the orphan bound lies past the worker's deadline and kill grace, in whole seconds", () => {
    expect(orphanBoundS(60_000, 2_000)).toBe(62 + ORPHAN_MARGIN_MS / 1000);
    expect(orphanBoundS(400, 2_000)).toBe(Math.ceil((2_400 + ORPHAN_MARGIN_MS) / 1000));
    for (const d of [1, 999, 60_000, 4 * 3600_000 + 1]) expect(orphanBoundS(d, 2_000) * 1000).toBeGreaterThanOrEqual(d + 2_000 + ORPHAN_MARGIN_MS);
  });
});
