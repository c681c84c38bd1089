/**
 * The one catalogue of queues, job names and payloads. Producers and workers import only from here, and
 * the handler map in src/workers/index.ts is typed against `Payloads`, so a job without a handler fails to
 * compile. Payloads carry keys and ids, never secrets and never media.
 */
export const STAGES = ['scan', 'prepare', 'infer', 'finalize', 'report', 'notify'] as const;
export type Stage = (typeof STAGES)[number];

export interface ScanPayload {
  runId?: string;
  /** set by a job scheduler: the run is created when the job fires */
  schedule?: string;
}
export interface PreparePayload {
  runId: string;
  fileId: string;
  key: string;
  etag: string;
  size: number;
  /** > 0 for files reopened by `omnibatch retry` or re-planned (fresh job ids) */
  generation?: number;
  /** how many times the service refused this file's chunks as too large: each halves the chunk targets */
  shrink?: number;
}
export interface InferPayload {
  runId: string;
  fileId: string;
  key: string;
  chunk: number;
  chunks: number;
  startS: number;
  endS: number;
  /** the staged chunk's key in the destination store */
  stagingKey: string;
  format: string;
  kind: 'audio' | 'video';
  /** the encoded picture size of a video chunk: its tokens count for budget and TPM */
  video?: { width: number; height: number };
  generation?: number;
  shrink?: number;
}
export interface FinalizePayload {
  runId: string;
  fileId: string;
  key: string;
  chunks: number;
  generation?: number;
  /** the prepared file's media seconds (the timeline its chunks sit on); absent in jobs queued before it was carried */
  durationS?: number;
}
export interface ReportPayload {
  runId: string;
}
/** What a webhook tells (X-Omnibatch-Event); ops/webhook.ts documents the wire contract. */
export const WEBHOOK_EVENTS = ['run.completed', 'run.stopped', 'run.failed', 'run.budget_threshold', 'ping'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** A webhook to deliver: the signing secret stays in the sending worker's settings, never in the job. */
/** A JSON document in storage: a location (`s3://b/p/` or a folder) and a key under it. */
export interface StoredBody {
  destination: string;
  key: string;
}

export interface NotifyPayload {
  url: string;
  event: WebhookEvent;
  /** the notification's `data` itself, when it has no stored copy: the budget threshold's totals (small) */
  body?: unknown;
  /**
   * where the notification's `data` is stored, read at delivery: the run report (report.json in the run's
   * destination, written before the job is enqueued), so a large report does not sit in Redis
   */
  bodyRef?: StoredBody;
  runId: string;
  /** the receiver's dedupe key (X-Omnibatch-Delivery), the same on every attempt */
  deliveryId: string;
  /** the run was started with --allow-unsigned-webhooks (the worker's own setting may allow it too) */
  allowUnsigned: boolean;
}

export interface Payloads {
  scan: ScanPayload;
  prepare: PreparePayload;
  infer: InferPayload;
  finalize: FinalizePayload;
  report: ReportPayload;
  notify: NotifyPayload;
}

/**
 * Job ids derive from run + object (+ chunk): enqueueing the same thing twice is a no-op in BullMQ.
 * ':' is BullMQ's key separator and may not appear in custom ids, so parts are joined with '.'.
 */
export const jobIds = {
  scan: (runId: string) => `scan.${runId}`,
  prepare: (runId: string, fileId: string, generation = 0) => `prep.${runId}.${fileId}${generation ? `.r${generation}` : ''}`,
  infer: (runId: string, fileId: string, chunk: number, generation = 0) => `inf.${runId}.${fileId}.${chunk}${generation ? `.r${generation}` : ''}`,
  finalize: (runId: string, fileId: string, generation = 0) => `fin.${runId}.${fileId}${generation ? `.r${generation}` : ''}`,
  report: (runId: string, generation = 0) => `rep.${runId}.${generation}`,
  // one notification per run, event and generation: a redone report (or infer) job enqueues it again as a no-op
  notify: (runId: string, event: WebhookEvent | 'run.end', generation = 0) => `ntf.${runId}.${event}.${generation}`,
} as const;
