/**
 * prep: CPU seconds to cut 1 h of stereo 44.1 kHz audio into captioner chunks, against one bare ffmpeg command
 * producing the same encoded output. Target <= 1.2x. The measurement is bench/prep.ts (runPrep, which also
 * writes its own results file); this file only adapts its result to the runner's shape.
 */

import { check, result, type ScenarioResult } from '../lib/result.ts';
import { runPrep } from '../prep.ts';

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const r = await runPrep({ quick: opts.quick });
  const { scenario: _s, metric: _m, value, target, pass: _p, quick: _q, ...details } = r;
  return result('prep', 'cpu_ratio', [check('cpu_vs_bare_ffmpeg', Number(value), '<=', Number(target))], details, opts.quick);
}
