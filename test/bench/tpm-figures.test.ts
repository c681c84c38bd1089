/** The pure figures of the tpm and scale-out benchmarks. */
import type os from 'node:os';
import { describe, expect, it } from 'vitest';
import { cpuBusy } from '../../bench/scenarios/scale-out.ts';
import { halfMinutes, steadyEnd, type TokenSample, tokensPerMinute } from '../../bench/scenarios/tpm.ts';

const s = (t: number, a: number, b: number, left: number[] = [100, 100]): TokenSample => ({ t, tokens: { a, b }, left });

describe('tpm figures', () => {
  it('tokens per minute per model between the samples bounding the steady part', () => {
    const series = [s(0, 0, 0), s(30_000, 10_000, 2_000), s(60_000, 30_000, 5_000), s(90_000, 50_000, 8_000), s(120_000, 70_000, 11_000)];
    const r = tokensPerMinute(series, 30_000, 120_000, ['a', 'b']);
    expect(r.minutes).toBe(1.5);
    expect(r.a).toBe(40_000); // 60,000 in 1.5 min
    expect(r.b).toBe(6_000);
    expect(tokensPerMinute(series, 200_000, 300_000, ['a']).minutes).toBe(0);
  });
  it('the steady part ends when a run is about to run out of work', () => {
    const series = [s(0, 0, 0, [50, 9]), s(1_000, 0, 0, [40, 5]), s(2_000, 0, 0, [30, 3]), s(3_000, 0, 0, [20, 1])];
    expect(steadyEnd(series, 9_999, 4)).toBe(2_000);
    expect(steadyEnd(series, 9_999, 1)).toBe(9_999);
  });
  it('tokens per model admitted in each 30 s, up to the last sample', () => {
    const series = [s(1_000, 0, 0), s(20_000, 5_000, 0), s(31_000, 9_000, 1_000), s(59_000, 20_000, 4_000), s(75_000, 26_000, 4_500)];
    expect(halfMinutes(series, 0, ['a', 'b'])).toEqual({ a: [5_000, 15_000, 6_000], b: [0, 4_000, 500] });
  });
});

describe('scale-out figures', () => {
  const cpu = (user: number, idle: number) => ({ model: '', speed: 0, times: { user, nice: 0, sys: 0, idle, irq: 0 } }) as os.CpuInfo;
  it('the busy share of all cores between two readings', () => {
    expect(cpuBusy([cpu(100, 100), cpu(0, 0)], [cpu(400, 200), cpu(100, 300)])).toBe(0.5); // (300 + 100) busy of (400 + 400)
    expect(cpuBusy([cpu(5, 5)], [cpu(5, 5)])).toBe(0);
  });
});
