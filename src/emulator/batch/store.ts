/**
 * The Batch API's objects: files (kept on disk, in one temp directory per emulator, so a 500 MB input
 * file or a 2,000-line output never sits in memory) and batches (in memory), and their JSON as the API
 * returns them. IDs follow the page's examples: `file-batch-…` (uploaded), `file-batch_output-…`,
 * `file-batch_error-…`, `batch_…`.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BatchStatus } from './contract.ts';
import type { BatchFaults } from './options.ts';
import type { BatchError } from './validate.ts';

export type FilePurpose = 'batch' | 'batch_output';

export interface StoredFile {
  id: string;
  bytes: number;
  created_at: number;
  filename: string;
  purpose: FilePurpose;
  /** where the bytes are */
  path: string;
}

export interface RequestCounts {
  total: number;
  completed: number;
  failed: number;
}

/** The documented batch object (create/retrieve/list/cancel all return it). */
export interface BatchObject {
  id: string;
  object: 'batch';
  endpoint: string;
  errors: { object: 'list'; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number | null;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: RequestCounts;
  metadata: Record<string, string> | null;
}

/** A batch and what only the emulator knows of it. */
export interface BatchRecord {
  object: BatchObject;
  windowHours: number;
  faults: BatchFaults;
}

const hex = (n: number): string => randomBytes(n).toString('hex');
export const nowS = (): number => Math.floor(Date.now() / 1000);

export function newBatchObject(input: Pick<BatchObject, 'endpoint' | 'input_file_id' | 'completion_window' | 'metadata'>): BatchObject {
  return {
    id: `batch_${hex(16)}`,
    object: 'batch',
    ...input,
    errors: null,
    status: 'validating',
    output_file_id: null,
    error_file_id: null,
    created_at: nowS(),
    in_progress_at: null,
    expires_at: null,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    metadata: input.metadata,
  };
}

/** The file object as `files.create` / `files.retrieve` return it. */
export function fileObject(f: StoredFile): Record<string, unknown> & { id: string } {
  return {
    id: f.id,
    object: 'file',
    bytes: f.bytes,
    created_at: f.created_at,
    filename: f.filename,
    purpose: f.purpose,
    status: 'processed',
    status_details: null,
  };
}

/** JSONL written line by line to a temp file; `close()` says how many bytes it holds. */
export class JsonlWriter {
  lines = 0;
  private readonly out: WriteStream;
  constructor(readonly path: string) {
    this.out = createWriteStream(path);
  }
  async write(row: unknown): Promise<void> {
    this.lines++;
    if (!this.out.write(`${JSON.stringify(row)}\n`)) await new Promise<void>((resolve) => this.out.once('drain', resolve));
  }
  async close(): Promise<number> {
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    return (await stat(this.path)).size;
  }
}

export class BatchStore {
  readonly files = new Map<string, StoredFile>();
  readonly batches = new Map<string, BatchRecord>();
  private dir: Promise<string> | undefined;

  /** A fresh path in the store's directory (created on first use). */
  async newPath(): Promise<string> {
    this.dir ??= mkdtemp(path.join(os.tmpdir(), 'omnibatch-emu-batch-'));
    return path.join(await this.dir, hex(12));
  }

  /** Registers bytes already written at `at` as a file. */
  async addFile(at: string, filename: string, purpose: FilePurpose, prefix: 'file-batch' | 'file-batch_output' | 'file-batch_error'): Promise<StoredFile> {
    const f: StoredFile = { id: `${prefix}-${hex(12)}`, bytes: (await stat(at)).size, created_at: nowS(), filename, purpose, path: at };
    this.files.set(f.id, f);
    return f;
  }

  /** Batches newest first (the list order), creation order breaking ties. */
  newestFirst(): BatchRecord[] {
    return [...this.batches.values()].reverse();
  }

  /** Deleting forgets the id; the bytes stay until close(), as a running batch may still read them. */
  deleteFile(id: string): boolean {
    return this.files.delete(id);
  }

  async close(): Promise<void> {
    if (this.dir) await rm(await this.dir, { recursive: true, force: true });
  }
}
