/**
 * When the packer (batch-submit) packs a run's queued lines into input files, as data. Fewer, fuller files
 * are the point (each batch is a file to upload, a batch to follow and results to read), but a line must not
 * wait for ever: files are packed as soon as one is full, and the rest once no line came for the quiet period
 * (the run's chunks have all been queued, most likely) or the oldest line has waited the longest it may.
 */
import type { PendingStats } from '../runs/batch-store.ts';

export interface PackSettings {
  maxRequests: number;
  maxBytes: number;
  quietMs: number;
  maxWaitMs: number;
}

export type PackDecision =
  /** claim every queued line into files now (the round ends) */
  | { kind: 'pack-all' }
  /** claim only full files, then wait `waitMs` for the rest */
  | { kind: 'pack-full'; waitMs: number }
  /** nothing yet: come back in `waitMs` */
  | { kind: 'wait'; waitMs: number };

export function decidePack(p: PendingStats, s: PackSettings, now: number): PackDecision {
  if (p.count === 0 || p.newestAt === undefined || p.oldestAt === undefined) return { kind: 'pack-all' };
  const quietAt = p.newestAt + s.quietMs;
  const deadline = p.oldestAt + s.maxWaitMs;
  if (now >= quietAt || now >= deadline) return { kind: 'pack-all' };
  const waitMs = Math.max(1, Math.min(quietAt, deadline) - now);
  const full = p.count >= s.maxRequests || p.bytes >= s.maxBytes;
  return full ? { kind: 'pack-full', waitMs } : { kind: 'wait', waitMs };
}

/** The fewest input files the limits allow for `count` lines of `bytes` in all (the benchmark's yardstick). */
export function minimumInputs(count: number, bytes: number, s: Pick<PackSettings, 'maxRequests' | 'maxBytes'>): number {
  if (count === 0) return 0;
  return Math.max(Math.ceil(count / s.maxRequests), Math.ceil(bytes / s.maxBytes));
}

/** The batch's metadata: which run and which of its input files (found again by listing, after a crash). */
export function batchMetadata(runId: string, input: number, fileId: string): Record<string, string> {
  return { omnibatch_run: runId, omnibatch_input: String(input), omnibatch_file: fileId };
}

/** Whether a listed batch is the one created for this run's input file. */
export function isBatchOf(metadata: Record<string, string> | null | undefined, runId: string, input: number): boolean {
  return metadata?.omnibatch_run === runId && metadata?.omnibatch_input === String(input);
}
