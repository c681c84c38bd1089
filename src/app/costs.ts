/**
 * The cost side of a run as the handlers use it: the ledger (idempotent per chunk), the budget
 * reservations and the global TPM bucket, under one prefix. A thin facade over src/cost.
 */
import type { Redis } from 'ioredis';
import { Budget, budgetChunkKey } from '../cost/budget.ts';
import { Ledger, type LedgerTotals } from '../cost/ledger.ts';
import type { Cost } from '../cost/price.ts';
import { type OutputPrior, rpmSlotKey, TokenBucket, tpmBucketKey } from '../cost/token-bucket.ts';
import type { Via } from '../models/catalog.ts';
import type { Usage } from '../models/types.ts';

export interface CostTotals {
  usage: Usage;
  costMicros: number;
  currency: string | null;
  priced: boolean;
  chunks: number;
  requests: number;
  /** chunks and cost by how they were answered (Ledger's byVia) */
  byVia: LedgerTotals['byVia'];
}

/**
 * How a request asks for its tokens (token-bucket.ts reserve): the RPM spacing ('stored': the one the workers
 * told --rpm stored; none: no request slot), its output prior, its waiter id.
 */
export interface TokenAsk {
  rpmSpacingMs?: number | 'stored';
  output?: OutputPrior;
  waiter?: string;
}

export class Costs {
  readonly ledger: Ledger;
  readonly budget: Budget;
  readonly bucket: TokenBucket;

  constructor(
    redis: Redis,
    readonly prefix: string,
  ) {
    this.ledger = new Ledger(redis, prefix);
    this.budget = new Budget(redis, prefix);
    this.bucket = new TokenBucket(redis);
  }

  /** Counted once per (file, chunk), whoever records it and however often. */
  async recordChunk(runId: string, fileId: string, chunk: number, attempt: string, usage: Usage, cost: Cost, requests: number, via?: Via): Promise<boolean> {
    return (await this.ledger.recordChunk(runId, fileId, chunk, attempt, usage, cost, { requests, ...(via && { via }) })).recorded;
  }

  async reserve(runId: string, fileId: string, chunk: number, estimateMicros: number, budgetMicros: number): Promise<boolean> {
    return (await this.budget.reserve(runId, budgetChunkKey(fileId, chunk), estimateMicros, budgetMicros)).granted;
  }

  async settle(runId: string, fileId: string, chunk: number, actualMicros: number): Promise<void> {
    await this.budget.settle(runId, budgetChunkKey(fileId, chunk), actualMicros);
  }

  async release(runId: string, fileId: string, chunk: number): Promise<void> {
    await this.budget.release(runId, budgetChunkKey(fileId, chunk));
  }

  /**
   * Reserves a request's tokens in the model's global TPM window: its id, or how long to wait. With
   * `rpmSpacingMs`, the account's next request slot is taken with them, or neither (startWorkers then sets
   * no BullMQ rate limit, so a job that waits here has spent no request slot).
   */
  async reserveTokens(model: string, tokens: number, tpm: number, opts: TokenAsk = {}): Promise<{ id: string } | { waitMs: number }> {
    const s = opts.rpmSpacingMs;
    const rpm = s === 'stored' ? { key: rpmSlotKey(this.prefix) } : s ? { key: rpmSlotKey(this.prefix), spacingMs: s } : undefined;
    const r = await this.bucket.reserve(tpmBucketKey(this.prefix, model), tokens, tpm, { rpm, output: opts.output, waiter: opts.waiter });
    return r.ok ? { id: r.id } : { waitMs: Math.max(50, r.waitMs) };
  }

  /** What workers started with --tpm but no --rpm space their requests by (0: no limit). */
  async storeRpmSpacing(spacingMs: number): Promise<void> {
    await this.bucket.storeSpacing(rpmSlotKey(this.prefix), spacingMs);
  }

  /**
   * The reservation becomes the request's real usage (0: a failed request gives it all back); with
   * `output`, what the request produced against its prior is learnt for the next reservations; with
   * `admittedAfterMs`, it is dated that much later, to when the provider metered it.
   */
  async settleTokens(model: string, id: string, actual: number, output?: OutputPrior & { actual: number }, admittedAfterMs?: number): Promise<void> {
    await this.bucket.settle(tpmBucketKey(this.prefix, model), id, actual, output, admittedAfterMs);
  }

  /** A finished run's ledger and budget keys expire with its state. */
  async expire(runId: string, seconds: number): Promise<void> {
    const l = this.ledger.keys(runId);
    const b = this.budget.keys(runId);
    const m = this.ledger.redis.multi();
    for (const key of [l.chunks, l.totals, b.state, b.reservations, b.expiries, b.settled]) m.expire(key, seconds);
    await m.exec();
  }

  async totals(runId: string): Promise<CostTotals> {
    const t = await this.ledger.getLedger(runId);
    return {
      usage: t.usage,
      costMicros: t.cost.amountMicros,
      currency: t.cost.currency,
      priced: t.cost.priced,
      chunks: t.chunks,
      requests: t.requests,
      byVia: t.byVia,
    };
  }
}
