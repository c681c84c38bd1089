/**
 * `--budget`: no request starts that could take the run over its budget. Before a request the worker
 * reserves the chunk's conservative estimate (estimateChunkCost); after it, settles with the actual
 * cost, which releases the reservation; on failure it releases. All of it atomic in Redis, so any number
 * of workers on any number of machines never reserve past the budget together.
 *
 * Reservations are keyed by chunk: a redone job re-uses its own; one whose worker died for good expires
 * after `ttlMs` and goes back to the pool at the next reserve. Settling is idempotent per chunk too.
 */
import type { Redis } from 'ioredis';
import { CROSSED, RELEASE, RESERVE, SETTLE } from './lua/budget.ts';
import { runLua } from './lua/run.ts';

/** Longer than any single request (a 20-minute chunk streams in a few minutes). */
export const RESERVATION_TTL_MS = 30 * 60 * 1000;
export const BUDGET_RETENTION_MS = 30 * 24 * 3600 * 1000;

export type ReserveOutcome = 'granted' | 'reused' | 'already_settled' | 'denied';

export interface Reservation {
  /** true for granted, reused and already_settled: the request may go ahead */
  granted: boolean;
  outcome: ReserveOutcome;
  spentMicros: number;
  /** all open reservations, this one included when granted */
  reservedMicros: number;
  budgetMicros: number;
}

export interface BudgetState {
  budgetMicros: number | null;
  spentMicros: number;
  reservedMicros: number;
  openReservations: number;
}

export interface ReserveOptions {
  ttlMs?: number;
  /** default: the Redis server's clock, one clock for every machine */
  nowMs?: number;
}

const OUTCOMES: Record<number, ReserveOutcome> = { 0: 'denied', 1: 'granted', 2: 'reused', 3: 'already_settled' };

/** The budget's chunk key, the same shape as the ledger's. */
export function budgetChunkKey(fileId: string, chunkIndex: number): string {
  return JSON.stringify([fileId, chunkIndex]);
}

function assertMicros(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`budget: ${name} must be a non-negative integer of micro-units, got ${v}`);
}

export class Budget {
  constructor(
    readonly redis: Redis,
    readonly prefix = 'omnibatch',
    readonly retentionMs = BUDGET_RETENTION_MS,
  ) {}

  keys(runId: string): { state: string; reservations: string; expiries: string; settled: string } {
    const base = `${this.prefix}:run:${runId}:budget`;
    return { state: `${base}:state`, reservations: `${base}:reservations`, expiries: `${base}:expiries`, settled: `${base}:settled` };
  }

  private keyList(runId: string): string[] {
    const k = this.keys(runId);
    return [k.state, k.reservations, k.expiries, k.settled];
  }

  /** Granted only if spent + reserved + estimate <= budget. */
  async reserve(runId: string, chunkKey: string, estimateMicros: number, budgetMicros: number, opts: ReserveOptions = {}): Promise<Reservation> {
    assertMicros('estimate', estimateMicros);
    assertMicros('budget', budgetMicros);
    const [code, spent, reserved] = (await runLua(this.redis, RESERVE, this.keyList(runId), [
      chunkKey,
      estimateMicros,
      budgetMicros,
      opts.nowMs ?? '',
      opts.ttlMs ?? RESERVATION_TTL_MS,
      this.retentionMs,
    ])) as [number, number, number];
    const outcome = OUTCOMES[code];
    return { granted: outcome !== 'denied', outcome, spentMicros: spent, reservedMicros: reserved, budgetMicros };
  }

  /** Replaces the chunk's reservation with its actual cost. Returns false when it was already settled. */
  async settle(
    runId: string,
    chunkKey: string,
    actualMicros: number,
    opts: { nowMs?: number } = {},
  ): Promise<{ applied: boolean; spentMicros: number; reservedMicros: number }> {
    assertMicros('actual', actualMicros);
    const [applied, spent, reserved] = (await runLua(this.redis, SETTLE, this.keyList(runId), [
      chunkKey,
      actualMicros,
      opts.nowMs ?? '',
      this.retentionMs,
    ])) as [number, number, number];
    return { applied: applied === 1, spentMicros: spent, reservedMicros: reserved };
  }

  /** Gives the chunk's reservation back (the request failed before costing anything). */
  async release(runId: string, chunkKey: string, opts: { nowMs?: number } = {}): Promise<boolean> {
    return (await runLua(this.redis, RELEASE, this.keyList(runId), [chunkKey, opts.nowMs ?? ''])) === 1;
  }

  /**
   * True exactly once per run and fraction: for the first caller that sees spent >= fraction x budget
   * (the 80% alert). The budget is the one stored by reserve unless given.
   */
  async crossed(runId: string, fraction: number, budgetMicros?: number): Promise<boolean> {
    return (await runLua(this.redis, CROSSED, [this.keys(runId).state], [fraction, budgetMicros ?? ''])) === 1;
  }

  async state(runId: string): Promise<BudgetState> {
    const k = this.keys(runId);
    const [[, h], [, open]] = (await this.redis.multi().hgetall(k.state).hlen(k.reservations).exec()) as [[unknown, Record<string, string>], [unknown, number]];
    return {
      budgetMicros: h.budget === undefined ? null : Number(h.budget),
      spentMicros: Number(h.spent ?? 0),
      reservedMicros: Number(h.reserved ?? 0),
      openReservations: open,
    };
  }

  async deleteRun(runId: string): Promise<void> {
    await this.redis.del(...this.keyList(runId));
  }
}
