/** What a run is (its spec, fixed at creation) and what each file of it became. */

import type { ModelSpec, Region, Via } from '../models/catalog.ts';
import type { Protocol, Usage } from '../models/types.ts';
import type { ResultChunk } from '../outputs/result.ts';
import type { ModerationBrief, ReviewDoc } from '../outputs/review-queue.ts';
import type { Task } from '../tasks/catalog.ts';
import type { FailureCode } from '../util/failure-codes.ts';

export interface RunSpec {
  runId: string;
  createdAt: string;
  source: string;
  destination: string;
  task: Task;
  model: string;
  /**
   * the catalogue entry resolved when the run was created (built-in, or a catalog file's): workers in any
   * process plan, price and send by it without the catalog file (absent in runs created before it existed)
   */
  modelEntry?: ModelSpec;
  protocol: Protocol;
  region: Region;
  prompt?: string;
  voice?: string;
  include?: string[];
  exclude?: string[];
  maxFiles?: number;
  budgetMicros?: number;
  force: boolean;
  fingerprint: string;
  chunkSeconds?: number;
  overlapSeconds?: number;
  inputMode: 'base64' | 'url';
  /** a manifest of object URIs instead of a listing */
  manifest?: string;
  schedule?: string;
  notifyUrl?: string;
  /** the run was started with --allow-unsigned-webhooks: its notifications may go unsigned */
  allowUnsignedWebhooks?: boolean;
  /** --language: the spoken language (a code), or `auto`: the model is asked to name it (tasks/language.ts) */
  language?: string;
  /** --translate-to: the outputs' text is in this language */
  translateTo?: string;
  /** --max-line-chars, --max-lines, --max-cue-seconds, --max-cps: the subtitle limits (stitch/cues.ts defaults when absent) */
  subtitles?: SubtitleLimits;
  /** --output-name: the text outputs' names, a template of {name} {lang} {ext} (outputs/naming.ts) */
  outputName?: string;
  /** --deadline: when the run must end (ISO), and when the planner predicted it would (cost/deadline.ts) */
  deadline?: string;
  predictedFinishAt?: string;
  /** --via batch: every chunk goes through the provider's Batch API at the Batch price (absent: real time) */
  via?: 'batch';
  /** --batch-fallback realtime (with via batch and a deadline): what a batch cannot answer by the deadline goes in real time */
  batchFallback?: 'realtime';
}

export interface SubtitleLimits {
  maxLineChars?: number;
  maxLines?: number;
  maxCueSeconds?: number;
  maxCps?: number;
}

export const FILE_STATUSES = ['pending', 'succeeded', 'failed', 'skipped', 'not_run'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

export interface FileState {
  key: string;
  uri: string;
  etag: string;
  size: number;
  status: FileStatus;
  code?: FailureCode;
  message?: string;
  durationS?: number;
  chunks?: number;
  requests?: number;
  usage?: Usage;
  costMicros?: number;
  currency?: string | null;
  priced?: boolean;
  flagged?: string[];
  /** moderation: the file's verdict in brief, for the run's review queue (outputs/review-queue.ts) */
  moderation?: ModerationBrief;
  /** an earlier result was found but not trusted (unsigned, or forged): why; the file was processed again */
  untrustedResult?: string;
}

/** A reviewer's decision as the run's state keeps it (the whole document is `<key>.review.json`). */
export type FileReview = Pick<ReviewDoc, 'decision' | 'note' | 'decided_at' | 'reviewer'>;

export type StopReason = 'budget' | 'cancelled' | 'auth' | 'error';

export interface RunCounts {
  total: number;
  succeeded: number;
  failed: number;
  skipped: number;
  not_run: number;
  terminal: number;
  media_ms: number;
  requests: number;
  retries: number;
  /** the run's cost estimate, summed per file when it was planned (before any request) */
  est_micros: number;
  est_low_micros: number;
  est_high_micros: number;
  /** files planned (prepared), the requests their plans send, and how many of their estimates were partly unpriced */
  prepared?: number;
  planned_requests?: number;
  est_unpriced?: number;
  /** epoch ms of the run's first request: where the ETA's clock starts */
  work_started_ms?: number;
}

export interface RunState {
  spec: RunSpec;
  status: 'running' | 'stopping' | 'completed' | 'completed_with_failures' | 'stopped_budget' | 'cancelled' | 'stopped_error';
  scanDone: boolean;
  stopReason?: StopReason;
  stopMessage?: string;
  /** why the run's report could not be written (the run then ends stopped_error) */
  reportError?: string;
  endedAt?: string;
  generation: number;
  counts: RunCounts;
}

/** One chunk's outcome, staged by infer and read by finalize: times on the source's timeline. */
export interface ChunkResult extends ResultChunk {
  /** requests this chunk took (moderation repairs count too); `attempts` is the job's tries */
  requests: number;
  /** moderation: the Assessment (validated verdict, times relative to the chunk; review flags; every raw answer) */
  verdict?: unknown;
  /** speak: the chunk's WAV in staging */
  audioKey?: string;
  audioSeconds?: number;
  requestId?: string | null;
  /** the answer came through the provider's Batch API, priced at the Batch rate; `realtime` in a Batch run: --batch-fallback sent it in real time */
  via?: Via;
}
