/**
 * A discrete-event simulation of the TPM reservations (src/cost/lua/token-bucket.ts, run for real in Redis
 * on a virtual clock) against the emulator's quota (src/emulator/quota.ts): FIFO infer queue with a global
 * concurrency, jobs delayed by what RESERVE answers, requests admitted by the provider a lag after their
 * reservation and settled after their latency. Seconds of run time instead of minutes of bench.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { rpmSlotKey, TokenBucket, tpmBucketKey } from '../../src/cost/token-bucket.ts';
import { TokenQuota } from '../../src/emulator/quota.ts';

export interface SimModel {
  name: string;
  task: string;
  jobs: number;
  input: number;
  prior: number;
  /** real output tokens: mean and +- spread (uniform) */
  output: number;
  spread: number;
  latencyMs: number;
}

export interface SimOptions {
  tpm: number;
  rpm: number;
  concurrency: number;
  /** from reservation to the provider's admission */
  lagMs: number;
  /** up to this much more lag, at random per request */
  lagJitterMs?: number;
  /** false: settle without telling when the provider admitted the request */
  redate?: boolean;
  /** a job start's own cost (BullMQ + reads) before it reserves */
  startMs: number;
  minutes: number;
  warmupMinutes: number;
  models: SimModel[];
  seed?: number;
}

export interface SimResult {
  /** over the steady part (after the warm-up): tokens admitted a minute and their share of the quota, requests
   * admitted, refused by the provider, and tries told to wait */
  perModel: Record<string, { tokensPerMinute: number; fraction: number; admitted: number; refusedByProvider: number; waits: number }>;
}

type Ev = { at: number; seq: number; run: () => Promise<void> | void };

export async function simulate(redis: Redis, o: SimOptions): Promise<SimResult> {
  const prefix = `sim-${randomUUID()}`;
  const bucket = new TokenBucket(redis);
  const quota = new TokenQuota(o.tpm);
  const spacingMs = Math.ceil((60_000 / o.rpm) * 1.02);
  let seed = o.seed ?? 1;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  // the pending events, a binary min-heap by (time, order of scheduling): each (at, seq) is unique, so events run
  // in exactly the order a sorted list gives, at O(log n) a step instead of a sort of the whole list
  const events: Ev[] = [];
  const before = (a: Ev, b: Ev) => a.at < b.at || (a.at === b.at && a.seq < b.seq);
  let seq = 0;
  const at = (t: number, run: Ev['run']) => {
    const e = { at: t, seq: seq++, run };
    let i = events.push(e) - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!before(e, events[up])) break;
      events[i] = events[up];
      i = up;
    }
    events[i] = e;
  };
  const next = (): Ev => {
    const top = events[0];
    const last = events.pop()!;
    if (events.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= events.length) break;
        const c = l + 1 < events.length && before(events[l + 1], events[l]) ? l + 1 : l;
        if (!before(events[c], last)) break;
        events[i] = events[c];
        i = c;
      }
      events[i] = last;
    }
    return top;
  };
  const wait: { m: SimModel; id: string }[] = [];
  let active = 0;
  const from = o.warmupMinutes * 60_000;
  const to = (o.warmupMinutes + o.minutes) * 60_000;
  const stats: SimResult['perModel'] = {};
  for (const m of o.models) {
    stats[m.name] = { tokensPerMinute: 0, fraction: 0, admitted: 0, refusedByProvider: 0, waits: 0 };
    for (let i = 0; i < m.jobs; i++) wait.push({ m, id: `${m.name}-${i}` });
  }
  const tokensIn: Record<string, number> = {};
  let now = 0;
  const pump = () => {
    while (active < o.concurrency && wait.length) {
      const job = wait.shift()!;
      active++;
      at(now + o.startMs, () => start(job));
    }
  };
  const start = async (job: { m: SimModel; id: string }) => {
    const m = job.m;
    const r = await bucket.reserve(tpmBucketKey(prefix, m.name), m.input + m.prior, o.tpm, {
      nowMs: now,
      rpm: { key: rpmSlotKey(prefix), spacingMs },
      output: { tokens: m.prior, task: m.task },
      waiter: job.id,
    });
    if (!r.ok) {
      if (now >= from) stats[m.name].waits++;
      active--;
      at(now + Math.max(50, r.waitMs), () => {
        wait.push(job);
        pump();
      });
      pump();
      return;
    }
    const out = Math.max(0, Math.round(m.output + (rand() * 2 - 1) * m.spread));
    const lag = o.lagMs + Math.round(rand() * (o.lagJitterMs ?? 0));
    at(now + lag, () => {
      const total = m.input + out;
      if (!quota.admit(m.name, now, total)) {
        if (now >= from) stats[m.name].refusedByProvider++;
        void bucket.refund(tpmBucketKey(prefix, m.name), r.id);
        active--;
        at(now + 1000, () => {
          wait.push(job);
          pump();
        });
        pump();
        return;
      }
      if (now >= from && now < to) {
        stats[m.name].admitted++;
        tokensIn[m.name] = (tokensIn[m.name] ?? 0) + total;
      }
      at(now + m.latencyMs, async () => {
        await bucket.settle(tpmBucketKey(prefix, m.name), r.id, total, { tokens: m.prior, actual: out, task: m.task }, o.redate === false ? 0 : lag);
        active--;
        pump();
      });
    });
  };
  pump();
  while (events.length) {
    const e = next();
    now = e.at;
    if (now > to) break;
    await e.run();
  }
  for (const m of o.models) {
    stats[m.name].tokensPerMinute = Math.round((tokensIn[m.name] ?? 0) / o.minutes);
    stats[m.name].fraction = Math.round(((tokensIn[m.name] ?? 0) / o.minutes / o.tpm) * 1000) / 1000;
  }
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  return { perModel: stats };
}
