/**
 * finalize's decision, pure: whether the staged results make the whole file, and then its totals. A parent
 * runs only after all its children succeeded, so a missing result (or duration) means staging was lost.
 */
import { addCost, type Cost, ZERO_COST } from '../cost/price.ts';
import { addUsage, emptyUsage, type Usage } from '../models/types.ts';
import type { ChunkResult } from '../runs/types.ts';
import { OmniError } from '../util/errors.ts';

export interface FinalizeFacts {
  key: string;
  /** chunks the file was prepared into (the payload's count) */
  expected: number;
  /** the results found in staging, in any order */
  found: readonly ChunkResult[];
  /** the file's media seconds: from the payload, or (a job queued by an older version) from prepared.json */
  durationS: number | undefined;
}

export interface FinalizePlan {
  chunks: ChunkResult[];
  durationS: number;
  usage: Usage;
  cost: Cost;
  requests: number;
}

export function planFinalize(f: FinalizeFacts): FinalizePlan {
  if (f.durationS === undefined || f.found.length !== f.expected) {
    throw new OmniError('staging_missing', `staging for ${f.key} is incomplete (${f.found.length}/${f.expected} chunk results)`);
  }
  const chunks = [...f.found].sort((a, b) => a.index - b.index);
  return {
    chunks,
    durationS: f.durationS,
    usage: chunks.reduce((u, c) => addUsage(u, c.usage), emptyUsage()),
    cost: chunks.reduce((a, c) => addCost(a, c.cost), ZERO_COST),
    requests: chunks.reduce((n, c) => n + c.requests, 0),
  };
}
