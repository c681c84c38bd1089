/**
 * How long a chunk may be for its requests to pack the TPM window (docs/architecture.md, "Rate limits"). The
 * provider's quota is a sliding minute of tokens and a request goes in whole, so each minute ends with a
 * remainder smaller than one request: 300-s flash requests (~3,800 tokens) under a 40,000 quota fit ten a
 * minute and leave 5 % unused whatever the scheduling. A request of at most 1/16 of the quota leaves at most
 * 6 %, about 3 % on average over sizes. Shorter chunks mean more requests: never so short that the requests a
 * minute it takes to use the quota would pass 90 % of the RPM (there the RPM binds first, and longer
 * requests are what uses the quota), and never below half the task's own length (the loss is halved, the
 * requests at most doubled, and a caption still covers a stretch a reader can follow). Pure.
 */

import type { Region } from '../models/catalog.ts';
import { TASK_SPECS, type Task } from '../tasks/catalog.ts';
import { estimateChunkTokens } from './estimate.ts';

/** The largest share of a minute's quota one request should take. */
export const TPM_PACKING_SHARE = 1 / 16;

export interface PackingOptions {
  tpm: number;
  rpm?: number;
  model: string;
  region: Region;
  task: Task;
  prompt?: string;
}

/** The most tokens one request should take at this quota (see above). */
export function packedRequestTokens(tpm: number, rpm?: number): number {
  return Math.max(tpm * TPM_PACKING_SHARE, rpm ? tpm / (0.9 * rpm) : 0);
}

/**
 * The longest whole-second chunk, at most `longestS`, whose request (input plus the task's expected output)
 * stays within packedRequestTokens; never below half of `longestS` (nor the task's shortest chunk).
 * `longestS` when it already does.
 */
export function packedChunkSeconds(longestS: number, o: PackingOptions): number {
  const max = packedRequestTokens(o.tpm, o.rpm);
  const tokens = (s: number) => {
    const t = estimateChunkTokens(s, { model: o.model, region: o.region, task: o.task, prompt: o.prompt });
    return t.input + t.output;
  };
  if (tokens(longestS) <= max) return longestS;
  const shortest = Math.min(longestS, Math.max(Math.ceil(longestS / 2), TASK_SPECS[o.task].policy.minChunkS));
  let lo = shortest; // the answer is in [lo, hi): tokens grow with the length
  let hi = longestS;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (tokens(mid) <= max) lo = mid;
    else hi = mid;
  }
  return lo;
}
