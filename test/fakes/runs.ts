/**
 * An in-memory run store with the ports infer and prepare use (src/workers/infer.ts InferRuns,
 * src/workers/prepare-ports.ts PrepareRuns): files, generations, stop flag, counters, per-file estimates.
 */
import type { Calibration } from '../../src/cost/calibration.ts';
import type { CountField } from '../../src/runs/store.ts';
import type { FileStatus, StopReason } from '../../src/runs/types.ts';
import type { InferRuns } from '../../src/workers/infer.ts';
import type { PrepareRuns } from '../../src/workers/prepare-ports.ts';

export interface FileEstimate {
  mediaMs: number;
  est: number;
  low: number;
  high: number;
}

export class FakeRuns implements InferRuns, PrepareRuns {
  readonly status = new Map<string, FileStatus>();
  readonly generations = new Map<string, number>();
  readonly counts = new Map<string, number>();
  /** every finishNotRun call, in order */
  readonly notRun: { fileId: string; reason: StopReason }[] = [];
  stopped?: { reason: StopReason; message: string };
  /** the estimate counted per file (the first one: the real store counts a file once) */
  readonly estimates = new Map<string, FileEstimate>();

  /** A pending file (what a fresh run has). */
  addFile(fileId: string, generation = 0): this {
    this.status.set(fileId, 'pending');
    this.generations.set(fileId, generation);
    return this;
  }

  async isFileOpen(_runId: string, fileId: string): Promise<boolean> {
    return this.status.get(fileId) === 'pending';
  }

  async generation(_runId: string, fileId: string): Promise<number> {
    return this.generations.get(fileId) ?? 0;
  }

  async stopReason(): Promise<StopReason | undefined> {
    return this.stopped?.reason;
  }

  /** True only for the call that stopped the run (the real one is a SET NX). */
  async stop(_runId: string, reason: StopReason, message: string): Promise<boolean> {
    if (this.stopped) return false;
    this.stopped = { reason, message };
    return true;
  }

  async finishNotRun(_runId: string, fileId: string, reason: StopReason): Promise<void> {
    this.notRun.push({ fileId, reason });
    if (this.status.get(fileId) === 'pending') this.status.set(fileId, 'not_run');
  }

  /** every skipFile call, in order */
  readonly skips: { fileId: string; code: string; message: string }[] = [];

  async skipFile(_runId: string, fileId: string, code: string, message: string): Promise<void> {
    this.skips.push({ fileId, code, message });
    if (this.status.get(fileId) === 'pending') this.status.set(fileId, 'skipped');
  }

  async count(_runId: string, field: CountField, by: number): Promise<void> {
    this.counts.set(field, (this.counts.get(field) ?? 0) + by);
  }

  /** the output calibration prepare reads (none unless a test sets one) */
  calibrationOf?: Calibration;
  async calibration(): Promise<Calibration | undefined> {
    return this.calibrationOf;
  }

  async addFileEstimate(_runId: string, fileId: string, e: FileEstimate): Promise<boolean> {
    if (this.estimates.has(fileId)) return false;
    this.estimates.set(fileId, e);
    return true;
  }
}
