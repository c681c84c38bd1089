/**
 * The per-run cost ledger in Redis: every chunk's usage and cost, counted once. `recordChunk` is
 * idempotent per (file, chunk): the first record wins, and a redone job (a worker SIGKILLed after its
 * request) neither double-counts tokens nor money. Totals are kept alongside, so reading the ledger of a
 * million-chunk run is one HGETALL.
 */
import type { Redis } from 'ioredis';
import { type Currency, VIAS, type Via } from '../models/catalog.ts';
import { emptyUsage, type Usage } from '../models/types.ts';
import { ADD_REQUESTS, LEDGER_COUNTERS, RECORD_CHUNK } from './lua/ledger.ts';
import { runLua } from './lua/run.ts';
import type { Cost } from './price.ts';

/** How long a run's ledger stays in Redis after its last write (the report in the bucket outlives it). */
export const LEDGER_RETENTION_MS = 30 * 24 * 3600 * 1000;

export interface ChunkRecord {
  /** the attempt that won (a job id + attempt number, or any token the caller chooses) */
  attempt: string;
  usage: Usage;
  cost: Cost;
  /** requests made for this chunk, the successful one included */
  requests: number;
  recordedAt: string;
  /** the chunk was answered through the provider's Batch API (priced at the Batch rate); `realtime`: a Batch run's line sent in real time (--batch-fallback) */
  via?: Via;
}

export interface RecordOutcome {
  /** false: this chunk was already recorded, by `record.attempt` */
  recorded: boolean;
  record: ChunkRecord;
}

export interface LedgerTotals {
  usage: Usage;
  cost: Cost;
  /** chunks recorded */
  chunks: number;
  /** requests sent: every recorded chunk's requests plus those counted by addRequests */
  requests: number;
  /** requests - chunks */
  retries: number;
  /** chunks and cost by how they were answered (a `--via batch` run's real-time fallback: `realtime`); chunks recorded without a `via` are in none */
  byVia: Partial<Record<Via, { chunks: number; costMicros: number }>>;
}

export interface LedgerOptions {
  retentionMs?: number;
  /** default 1 */
  requests?: number;
  now?: Date;
  via?: Via;
}

/** The ledger field of one chunk: JSON keeps any object key (with any characters) unambiguous. */
export function chunkField(fileId: string, chunkIndex: number): string {
  return JSON.stringify([fileId, chunkIndex]);
}

export class Ledger {
  constructor(
    readonly redis: Redis,
    readonly prefix = 'omnibatch',
  ) {}

  keys(runId: string): { chunks: string; totals: string } {
    const base = `${this.prefix}:run:${runId}:ledger`;
    return { chunks: `${base}:chunks`, totals: `${base}:totals` };
  }

  async recordChunk(
    runId: string,
    fileId: string,
    chunkIndex: number,
    attemptToken: string,
    usage: Usage,
    cost: Cost,
    opts: LedgerOptions = {},
  ): Promise<RecordOutcome> {
    const requests = opts.requests ?? 1;
    const record: ChunkRecord = {
      attempt: attemptToken,
      usage,
      cost,
      requests,
      recordedAt: (opts.now ?? new Date()).toISOString(),
      ...(opts.via && { via: opts.via }),
    };
    const values: Record<(typeof LEDGER_COUNTERS)[number], number> = {
      in_text: usage.input.text,
      in_audio: usage.input.audio,
      in_image: usage.input.image,
      in_video: usage.input.video,
      out_text: usage.output.text,
      out_audio: usage.output.audio,
      out_reasoning: usage.output.reasoning,
      in_total: usage.inputTotal,
      out_total: usage.outputTotal,
      cost_micros: cost.amountMicros,
      requests,
    };
    for (const [k, v] of Object.entries(values)) {
      if (!Number.isSafeInteger(v)) throw new TypeError(`ledger: ${k} must be an integer, got ${v}`);
    }
    const k = this.keys(runId);
    const [recorded, json] = (await runLua(
      this.redis,
      RECORD_CHUNK,
      [k.chunks, k.totals],
      [
        chunkField(fileId, chunkIndex),
        attemptToken,
        JSON.stringify(record),
        opts.retentionMs ?? LEDGER_RETENTION_MS,
        ...LEDGER_COUNTERS.map((c) => values[c]),
        cost.currency ?? '',
        cost.priced ? '1' : '0',
        opts.via ?? '',
      ],
    )) as [number, string];
    return { recorded: recorded === 1, record: JSON.parse(json) as ChunkRecord };
  }

  /** Requests that recorded no chunk (attempts that failed): counted as they happen, not idempotent. */
  async addRequests(runId: string, n = 1, retentionMs = LEDGER_RETENTION_MS): Promise<number> {
    return Number(await runLua(this.redis, ADD_REQUESTS, [this.keys(runId).totals], [n, retentionMs]));
  }

  async getChunk(runId: string, fileId: string, chunkIndex: number): Promise<ChunkRecord | null> {
    const json = await this.redis.hget(this.keys(runId).chunks, chunkField(fileId, chunkIndex));
    return json ? (JSON.parse(json) as ChunkRecord) : null;
  }

  async getLedger(runId: string): Promise<LedgerTotals> {
    const h = await this.redis.hgetall(this.keys(runId).totals);
    const n = (f: string): number => Number(h[f] ?? 0);
    const usage = emptyUsage();
    usage.input = { text: n('in_text'), audio: n('in_audio'), image: n('in_image'), video: n('in_video') };
    usage.output = { text: n('out_text'), audio: n('out_audio'), reasoning: n('out_reasoning') };
    usage.inputTotal = n('in_total');
    usage.outputTotal = n('out_total');
    const chunks = n('chunks');
    const requests = n('requests');
    const byVia: LedgerTotals['byVia'] = {};
    for (const via of VIAS) if (h[`via:${via}:chunks`] !== undefined) byVia[via] = { chunks: n(`via:${via}:chunks`), costMicros: n(`via:${via}:cost_micros`) };
    return {
      usage,
      cost: { amountMicros: n('cost_micros'), currency: (h.currency as Currency | undefined) ?? null, priced: n('unpriced_chunks') === 0 },
      chunks,
      requests,
      retries: Math.max(0, requests - chunks),
      byVia,
    };
  }

  async deleteRun(runId: string): Promise<void> {
    const k = this.keys(runId);
    await this.redis.del(k.chunks, k.totals);
  }
}
