/** The emulator's counters (GET /stats), and a sliding-window request limiter for --rpm. */
import { BATCH_PRICE_RATE } from './batch/contract.ts';
import type { Billed } from './types.ts';

export interface EmulatorStats {
  requests: number;
  byStatus: Record<string, number>;
  completed: number;
  inFlight: number;
  maxInFlight: number;
  billed: Record<string, Billed>;
  faults: Record<string, number>;
  /** Batch (file input) lines: billed apart from the real-time requests above, never counted in them */
  batch: BatchStats;
}

export interface BatchStats {
  via: 'batch';
  /** the share of the real-time price every token below is billed at */
  rate: number;
  /** input files uploaded, and batches created (whatever became of them) */
  files: number;
  created: number;
  /** batches by their final status */
  batches: Record<string, number>;
  /** lines answered (billed), refused (not billed), and never run because the batch expired or was cancelled */
  lines: { completed: number; failed: number; notRun: number };
  /** tokens of the completed lines per model (batch-test-model is free: never here) */
  billed: Record<string, Billed>;
}

export function emptyStats(): EmulatorStats {
  return {
    requests: 0,
    byStatus: {},
    completed: 0,
    inFlight: 0,
    maxInFlight: 0,
    billed: {},
    faults: {},
    batch: { via: 'batch', rate: BATCH_PRICE_RATE, files: 0, created: 0, batches: {}, lines: { completed: 0, failed: 0, notRun: 0 }, billed: {} },
  };
}

/** Adds one answer's tokens to a per-model table (`stats.billed` or `stats.batch.billed`). */
export function addBilled(table: Record<string, Billed>, model: string, b: Billed): void {
  table[model] ??= { input: { text: 0, audio: 0, image: 0, video: 0 }, output: { text: 0, audio: 0, reasoning: 0 } };
  const t = table[model];
  for (const k of Object.keys(b.input) as (keyof Billed['input'])[]) t.input[k] += b.input[k];
  for (const k of Object.keys(b.output) as (keyof Billed['output'])[]) t.output[k] += b.output[k];
}

/** At most `limit` admissions in any 60 s window. */
export class SlidingWindow {
  private times: number[] = [];
  constructor(
    private readonly limit: number,
    private readonly windowMs = 60_000,
  ) {}

  /** Admits (and records) a request at `now`, or refuses it. */
  admit(now: number): boolean {
    while (this.times.length > 0 && this.times[0] <= now - this.windowMs) this.times.shift();
    if (this.times.length >= this.limit) return false;
    this.times.push(now);
    return true;
  }

  reset(): void {
    this.times = [];
  }
}
