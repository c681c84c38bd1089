/** The bench runner's pure parts: checks and pass/fail, the table, argv, steady-state rates, achieved RPM. */
import { describe, expect, it } from 'vitest';
import { steadyRate } from '../../bench/lib/measure.ts';
import { sentences } from '../../bench/lib/media.ts';
import { check, parseArgs, reportOnly, result, table } from '../../bench/lib/result.ts';
import { achievedRpm } from '../../bench/scenarios/rate-limit.ts';

describe('check / result', () => {
  it('passes only when every check passes; the headline is the first check', () => {
    const r = result('x', 'ratio', [check('ratio', 0.93, '>=', 0.9), check('files', 500, '==', 500)], { files: 500 }, false);
    expect(r).toMatchObject({ scenario: 'x', metric: 'ratio', value: 0.93, target: '>= 0.9', pass: true, files: 500 });
    const f = result('x', 'ratio', [check('ratio', 0.95, '>=', 0.9), check('tokens', 1.02, '<=', 1.01)], {}, true);
    expect(f.pass).toBe(false);
    expect(f.quick).toBe(true);
    expect(check('eq', 0.99999, '==', 1).pass).toBe(true); // rounded to 4 digits first
  });

  it('a report-only scenario has no target and no verdict', () => {
    expect(reportOnly('overhead', 'ratio', 0.123456, {}, false)).toMatchObject({ value: 0.1235, target: null, pass: null, checks: [] });
  });

  it('the table names each miss', () => {
    const t = table([result('a', 'm', [check('c', 0.5, '>=', 0.9)], {}, false), reportOnly('b', 'm', 2, {}, false)]);
    expect(t.split('\n')).toHaveLength(4);
    expect(t).toMatch(/a\s+m\s+0\.5\s+>= 0\.9\s+FAIL\s+c 0\.5 !>= 0\.9/);
    expect(t).toMatch(/b\s+m\s+2\s+\(report\)\s+n\/a/);
  });
});

describe('parseArgs', () => {
  it('all scenarios by default, in registry order; flags anywhere; typos refused', () => {
    expect(parseArgs([], ['a', 'b'])).toEqual({ names: ['a', 'b'], quick: false, json: false });
    expect(parseArgs(['b', '--quick', '--json'], ['a', 'b'])).toEqual({ names: ['b'], quick: true, json: true });
    expect(() => parseArgs(['c'], ['a', 'b'])).toThrow(/unknown scenario c/);
    expect(() => parseArgs(['--fast'], ['a'])).toThrow(/unknown flag/);
  });
});

describe('steadyRate', () => {
  it('counts only between 10% and 90% of the total', () => {
    // A slow start (ramp), then 10 items/s, then a slow drain.
    const series = [
      { t: 0, done: 0 },
      { t: 5000, done: 10 },
      { t: 6000, done: 20 },
      { t: 13_000, done: 90 },
      { t: 20_000, done: 100 },
    ];
    expect(steadyRate(series, 100)).toEqual({ rate: 10, windowS: 8, items: 80 });
    expect(steadyRate([{ t: 0, done: 0 }], 100).rate).toBe(0);
  });
});

describe('achievedRpm', () => {
  it('admissions in the whole minutes the backlog lasted, counted up to the last sample inside them', () => {
    const series = [
      { t: 1000, admitted: 0, requests: 0, r429: 0 },
      { t: 2000, admitted: 1, requests: 1, r429: 0 },
      { t: 61_900, admitted: 118, requests: 118, r429: 0 },
      { t: 62_100, admitted: 119, requests: 119, r429: 0 },
      { t: 121_000, admitted: 236, requests: 236, r429: 0 },
    ];
    expect(achievedRpm(series, 150, 120)).toEqual({ rpm: 118, minutes: 1 });
    // 400 files: three whole minutes from the first request; the last sample inside them counted 236.
    expect(achievedRpm(series, 400, 120)).toEqual({ rpm: 236 / 3, minutes: 3 });
  });
});

describe('sentences', () => {
  it('is deterministic per seed', () => {
    expect(sentences(1, 3)).toBe(sentences(1, 3));
    expect(sentences(1, 3)).not.toBe(sentences(2, 3));
    expect(sentences(5, 4).split('\n')).toHaveLength(4);
  });
});
