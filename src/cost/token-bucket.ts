/**
 * The global tokens-per-minute limit, shared by every worker on every machine (docs/architecture.md, "Rate limits"), metered as
 * DashScope meters it: input plus output tokens in a sliding minute (lua/token-bucket.ts says why a log,
 * not a bucket). Before a request, reserve its known input tokens plus the task's expected output; after
 * it, settle the reservation to the real usage; when it failed, give back what it never used (refund).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { runLua } from './lua/run.ts';
import { RESERVE, SETTLE } from './lua/token-bucket.ts';

/** `reserved`: the tokens the reservation holds (the output prior scaled by what was learnt). */
export type ReserveResult = { ok: true; id: string; used: number; reserved: number } | { ok: false; waitMs: number; used: number; reserved: number };

/** Of a reservation's tokens, the task's expected output: learnt from what settled requests of the task produced. */
export interface OutputPrior {
  tokens: number;
  task: string;
}

/**
 * The window the reservations are kept for: the provider's minute plus a margin for the time between a
 * reservation and the request reaching the provider (download, encode, connect), which varies per request.
 * Two reservations a minute apart here may arrive up to that variation closer together there.
 */
export const TPM_WINDOW_MS = 60_500;

/** One quota per model, as the provider meters it. */
export function tpmBucketKey(prefix: string, model: string): string {
  return `${prefix}:tpm:${model}`;
}
const keysOf = (key: string): [string, string] => [`${key}:log`, `${key}:amounts`];
const waitersOf = (key: string): string => `${key}:waiters`;

/** The account's request slot, shared by every model (RPM is global, like the BullMQ limiter it replaces). */
export function rpmSlotKey(prefix: string): string {
  return `${prefix}:rpm:slot`;
}

/**
 * The spacing the last worker told `--rpm` stored (kept like BullMQ keeps its limiter), for the workers
 * started with `--tpm` alone: they take their slots at it rather than none.
 */
const spacingKeyOf = (slotKey: string): string => `${slotKey}:spacing`;

export class TokenBucket {
  constructor(
    readonly redis: Redis,
    readonly windowMs = TPM_WINDOW_MS,
  ) {}

  /**
   * Reserves `tokens` if the window has room for them; else says how long until it will. `nowMs` is for
   * tests: by default the Redis server's clock is used, so machines with skewed clocks agree. With `rpm`
   * (a request slot key and its spacing; no spacing: the one storeSpacing stored, if any), the next
   * request slot is taken in the same call, or neither is.
   * With `output` (the part of `tokens` that is the task's output prior), that part is scaled by what
   * settled requests of the task really produced (lua/token-bucket.ts). `waiter`: an id the caller keeps
   * across its tries (a job's id): one that was told to wait and comes back too early is given the next
   * freeing instead of a place at the end of the line.
   */
  async reserve(
    key: string,
    tokens: number,
    tpm: number,
    opts: { id?: string; nowMs?: number; rpm?: { key: string; spacingMs?: number }; output?: OutputPrior; waiter?: string } = {},
  ): Promise<ReserveResult> {
    if (!(tpm > 0)) throw new RangeError(`tpm must be positive, got ${tpm}`);
    if (!(tokens >= 0)) throw new RangeError(`tokens must be >= 0, got ${tokens}`);
    const id = opts.id ?? randomUUID();
    const slot = opts.rpm?.key ?? `${key}:rpm-unused`;
    const keys = [...keysOf(key), waitersOf(key), slot, spacingKeyOf(slot)];
    const o = opts.output;
    const args = [
      Math.ceil(tokens),
      tpm,
      this.windowMs,
      id,
      opts.nowMs ?? '',
      opts.rpm ? (opts.rpm.spacingMs ?? -1) : 0,
      o ? Math.ceil(o.tokens) : 0,
      o?.task ?? '',
      opts.waiter ?? '',
    ];
    const [ok, wait, used, reserved] = (await runLua(this.redis, RESERVE, keys, args)) as [number, number, number, number];
    return ok === 1 ? { ok: true, id, used, reserved } : { ok: false, waitMs: wait, used, reserved };
  }

  /**
   * Sets a reservation to what the request really used: more than reserved takes the difference (the
   * window may go over, and later requests wait for it), less gives it back. With `output` (the prior the
   * reservation was made with and the request's real output tokens), the task's outputs are learnt. With
   * `admittedAfterMs` (from the reservation to the provider's answer), the reservation is dated that much
   * later: the provider's minute counts it from then, and ours must not forget it sooner.
   * Returns the window's tokens after, or undefined when the reservation has already left the window.
   */
  async settle(key: string, id: string, actual: number, output?: OutputPrior & { actual: number }, admittedAfterMs = 0): Promise<number | undefined> {
    const learn = output ? [Math.ceil(output.tokens), output.actual, output.task] : [0, 0, ''];
    const args = [id, actual, ...learn, Math.max(0, Math.min(this.windowMs, Math.round(admittedAfterMs)))];
    const r = Number(await runLua(this.redis, SETTLE, keysOf(key), args));
    return r < 0 ? undefined : r;
  }

  /** A failed request that used nothing: its whole reservation goes back at once. */
  async refund(key: string, id: string): Promise<number | undefined> {
    return this.settle(key, id, 0);
  }

  /** Stores the spacing of the request slot `slotKey` (0: none, the limit lifted), for callers told none. */
  async storeSpacing(slotKey: string, spacingMs: number): Promise<void> {
    if (spacingMs > 0) await this.redis.set(spacingKeyOf(slotKey), spacingMs);
    else await this.redis.del(spacingKeyOf(slotKey));
  }

  /** Tokens reserved in the window as last computed (for status displays and tests). */
  async used(key: string): Promise<number> {
    return Number((await this.redis.hget(keysOf(key)[1], '_sum')) ?? 0);
  }
}
