/**
 * In-memory ledger, budget and TPM window with the port infer uses (src/workers/infer.ts InferCosts), with
 * the same contracts as src/cost: a chunk is recorded once (first attempt wins), a reservation is granted
 * while spent + reserved + estimate stays within the budget and settles to the actual, tokens are granted
 * while the window has room and give back what a settle says went unused.
 */

import type { TokenAsk } from '../../src/app/costs.ts';
import type { Cost } from '../../src/cost/price.ts';
import type { OutputPrior } from '../../src/cost/token-bucket.ts';
import type { Usage } from '../../src/models/types.ts';
import type { InferCosts } from '../../src/workers/infer.ts';

export interface LedgerRow {
  attempt: string;
  usage: Usage;
  cost: Cost;
  requests: number;
}

export class FakeCosts implements InferCosts {
  readonly ledger = new Map<string, LedgerRow>();
  /** every recordChunk call, recorded or not (a redone job records again) */
  recordCalls = 0;
  /** budget reservations by (file, chunk), and what settled chunks actually cost */
  readonly reserved = new Map<string, number>();
  readonly settled = new Map<string, number>();
  /** the TPM window: tokens held by reservation id */
  readonly tokens = new Map<string, { model: string; tokens: number }>();
  /** reserveTokens calls' output priors and waiter ids, in order */
  readonly tokenPriors: OutputPrior[] = [];
  readonly tokenWaiters: string[] = [];
  /** settleTokens calls, in order (`output`: what the request produced against its prior) */
  readonly tokenSettles: { model: string; id: string; actual: number; output?: OutputPrior & { actual: number }; admittedAfterMs?: number }[] = [];
  private nextId = 0;

  /** @param tpmRoom tokens the window has free (Infinity: never full); @param waitMs what a refusal says to wait */
  constructor(
    public tpmRoom = Infinity,
    public waitMs = 1500,
  ) {}

  async recordChunk(_runId: string, fileId: string, chunk: number, attempt: string, usage: Usage, cost: Cost, requests: number): Promise<boolean> {
    this.recordCalls++;
    const k = `${fileId}#${chunk}`;
    if (this.ledger.has(k)) return false;
    this.ledger.set(k, { attempt, usage, cost, requests });
    return true;
  }

  async reserve(_runId: string, fileId: string, chunk: number, estimateMicros: number, budgetMicros: number): Promise<boolean> {
    const k = `${fileId}#${chunk}`;
    if (this.reserved.has(k) || this.settled.has(k)) return true;
    if (this.committedMicros() + estimateMicros > budgetMicros) return false;
    this.reserved.set(k, estimateMicros);
    return true;
  }

  async release(_runId: string, fileId: string, chunk: number): Promise<void> {
    this.reserved.delete(`${fileId}#${chunk}`);
  }

  async settle(_runId: string, fileId: string, chunk: number, actualMicros: number): Promise<void> {
    const k = `${fileId}#${chunk}`;
    this.reserved.delete(k);
    this.settled.set(k, actualMicros);
  }

  async reserveTokens(model: string, tokens: number, tpm: number, opts: TokenAsk = {}): Promise<{ id: string } | { waitMs: number }> {
    if (opts.output) this.tokenPriors.push(opts.output);
    if (opts.waiter) this.tokenWaiters.push(opts.waiter);
    const held = [...this.tokens.values()].filter((t) => t.model === model).reduce((n, t) => n + t.tokens, 0);
    if (held + tokens > Math.min(tpm, this.tpmRoom)) return { waitMs: this.waitMs };
    const id = `t${++this.nextId}`;
    this.tokens.set(id, { model, tokens });
    return { id };
  }

  async settleTokens(model: string, id: string, actual: number, output?: OutputPrior & { actual: number }, admittedAfterMs?: number): Promise<void> {
    this.tokenSettles.push({ model, id, actual, ...(output && { output }), ...(admittedAfterMs !== undefined && { admittedAfterMs }) });
    const t = this.tokens.get(id);
    if (t) this.tokens.set(id, { model, tokens: actual });
  }

  /** money spent or held: settled actuals plus open reservations */
  committedMicros(): number {
    let n = 0;
    for (const v of this.settled.values()) n += v;
    for (const v of this.reserved.values()) n += v;
    return n;
  }
}
