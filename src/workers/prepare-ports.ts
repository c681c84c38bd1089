/**
 * Everything the prepare handler touches, narrowed to what it uses, so that tests give it in-memory fakes
 * (test/fakes/) the way infer's are (docs/architecture.md, "Where the decisions are").
 */
import type { FlowJob } from 'bullmq';
import type { JobContext } from '../app/context.ts';
import { type Calibration, readCalibration } from '../cost/calibration.ts';
import type { PricingOverride } from '../cost/price.ts';
import { jobIds } from '../jobs/catalog.ts';
import { finishFile, finishNotRun, isFileOpen } from '../lifecycle/file-state.ts';
import { type FileLimits, fileLimitsOf } from '../media/limits.ts';
import { prepareChunks } from '../media/prepare.ts';
import { probeMedia } from '../media/probe.ts';
import { sniffFile } from '../media/sniff.ts';
import type { FileEstimate } from '../runs/store.ts';
import type { RunSpec, StopReason } from '../runs/types.ts';
import type { Storage } from '../storage/types.ts';
import type { Task } from '../tasks/catalog.ts';
import type { FailureCode } from '../util/failure-codes.ts';
import type { Logger } from '../util/logger.ts';

/** The run store, as prepare uses it: the file's state, the run's stop flag, the file's estimate. */
export interface PrepareRuns {
  /** true while the file is pending (and, when it is not, the run's report is made sure of) */
  isFileOpen(runId: string, fileId: string): Promise<boolean>;
  stopReason(runId: string): Promise<StopReason | undefined>;
  finishNotRun(runId: string, fileId: string, reason: StopReason): Promise<void>;
  /** ends the file as skipped, with why (its content is not media) */
  skipFile(runId: string, fileId: string, code: FailureCode, message: string): Promise<void>;
  /** the output-token calibration of a model and task (cost/calibration.ts), when runs have made one */
  calibration(model: string, task: Task): Promise<Calibration | undefined>;
  /** counted once per file, whatever the number of prepares */
  addFileEstimate(runId: string, fileId: string, e: FileEstimate): Promise<boolean>;
}

export type PrepareStorage = Pick<Storage, 'download' | 'upload' | 'putJson'>;

/** The media adapters: the header read without ffprobe, ffprobe, and plan + cut + encode (media/prepare.ts). */
export interface PrepareMediaPort {
  sniff: typeof sniffFile;
  probe: typeof probeMedia;
  chunks: typeof prepareChunks;
}

/** The next step: one BullMQ flow per file (a finalize parent with its infer children). */
export interface PrepareFlows {
  /** the file's finalize job of this generation exists (a redone prepare added its flow already) */
  exists(runId: string, fileId: string, generation: number): Promise<boolean>;
  add(flow: FlowJob): Promise<void>;
}

export interface PreparePorts {
  spec(runId: string): Promise<RunSpec>;
  runs: PrepareRuns;
  storage(location: string): PrepareStorage;
  media: PrepareMediaPort;
  flows: PrepareFlows;
  limits: FileLimits;
  base64MaxChars?: number;
  /** --via batch: a chunk's whole request line (its base64 media inside) must fit this many bytes */
  batchMaxLineBytes?: number;
  pricing?: PricingOverride;
  tmpDir?: string;
  log: Logger;
  /** the job's cancel or the worker's shutdown (JobContext.signal) */
  signal?: AbortSignal;
  /** how often a running prepare looks whether its run was stopped (default 1 s) */
  stopPollMs?: number;
}

/** The ports of one job, over the process's context. */
export function preparePorts(ctx: JobContext): PreparePorts {
  return {
    spec: (runId) => ctx.spec(runId),
    runs: {
      isFileOpen: (runId, fileId) => isFileOpen(ctx, runId, fileId),
      stopReason: (runId) => ctx.runs.stopReason(runId),
      finishNotRun: (runId, fileId, reason) => finishNotRun(ctx, runId, fileId, reason),
      skipFile: (runId, fileId, code, message) => finishFile(ctx, runId, fileId, { status: 'skipped', code, message }),
      addFileEstimate: (runId, fileId, e) => ctx.runs.addFileEstimate(runId, fileId, e),
      calibration: (model, task) => readCalibration(ctx.redis, ctx.keyPrefix, model, task).catch(() => undefined),
    },
    storage: (location) => ctx.storage(location),
    media: { sniff: sniffFile, probe: probeMedia, chunks: prepareChunks },
    flows: {
      exists: async (runId, fileId, generation) => Boolean(await ctx.queues.finalize.getJob(jobIds.finalize(runId, fileId, generation))),
      add: async (flow) => {
        await ctx.flows.add(flow);
      },
    },
    limits: fileLimitsOf(ctx.cfg),
    base64MaxChars: ctx.cfg.base64MaxChars,
    batchMaxLineBytes: ctx.cfg.batchMaxLineBytes,
    pricing: ctx.pricing,
    tmpDir: ctx.cfg.tmpDir,
    log: ctx.log,
    signal: ctx.signal,
  };
}
