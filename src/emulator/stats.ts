/** The emulator's counters (GET /stats), and a sliding-window request limiter for --rpm. */
import type { Billed } from './types.ts';

export interface EmulatorStats {
  requests: number;
  byStatus: Record<string, number>;
  completed: number;
  inFlight: number;
  maxInFlight: number;
  billed: Record<string, Billed>;
  faults: Record<string, number>;
}

export function emptyStats(): EmulatorStats {
  return { requests: 0, byStatus: {}, completed: 0, inFlight: 0, maxInFlight: 0, billed: {}, faults: {} };
}

export function addBilled(stats: EmulatorStats, model: string, b: Billed): void {
  stats.billed[model] ??= { input: { text: 0, audio: 0, image: 0, video: 0 }, output: { text: 0, audio: 0, reasoning: 0 } };
  const t = stats.billed[model];
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
