/**
 * The emulator's Batch settings: its region, how long each status lasts (milliseconds, so a test takes
 * seconds where the service takes hours), the documented limits it enforces, and the injected faults.
 * Faults come from option rates drawn per batch / per line on their own seeded PRNG (so they never shift
 * the real-time fault sequence), or are forced on one batch by the header on `POST /batches`:
 *
 *   x-emulator-batch-fault: expire[=<share done>] | validation | fail-lines=<share>[:<fault kind>]   (comma-separated)
 *
 * | fault        | what the client sees                                                                         |
 * |--------------|----------------------------------------------------------------------------------------------|
 * | expire       | `expired` once that share of lines ran: they are in the output/error file, the rest in the   |
 * |              | error file as `batch_expired`                                                                 |
 * | validation   | `failed` in validation, `errors.data` = [{code: invalid_input_file}], no output or error file |
 * | fail-lines   | that share of lines refused with the fault kind's real-time error (faults.ts), in the error file |
 */
import type { Region } from '../../models/catalog.ts';
import { type FaultKind, faultError, isFaultKind } from '../faults.ts';
import { type BatchLimits, DEFAULT_BATCH_LIMITS } from './contract.ts';

export interface BatchOptions {
  /** whose Batch model list applies: cn (Beijing, default) or intl (Singapore) */
  region?: Region;
  /** how long `validating` lasts (default 200) */
  batchValidatingMs?: number;
  /** the least `in_progress` lasts; the lines are started evenly over it (default 1000) */
  batchInProgressMs?: number;
  /** how long `finalizing` lasts (default 200) */
  batchFinalizingMs?: number;
  /** how long `cancelling` lasts once the running lines are done (default 200) */
  batchCancellingMs?: number;
  /** lines of one batch answered at once (default 4) */
  batchConcurrency?: number;
  /** documented limits, overridable: requests per file, bytes per file, bytes per line */
  batchMaxRequests?: number;
  batchMaxFileBytes?: number;
  batchMaxLineBytes?: number;
  /** share of batches that expire part-way (0..1) */
  batchExpire?: number;
  /** the share of lines done when such a batch expires (default 0.5) */
  batchExpireAfter?: number;
  /** share of lines refused with `batchFailKind` (0..1) */
  batchFailLines?: number;
  /** the fault kind of those lines (default server_error); only kinds refused before streaming */
  batchFailKind?: FaultKind;
  /** share of batches failed in validation (0..1) */
  batchValidationFail?: number;
}

export interface BatchTiming {
  validatingMs: number;
  inProgressMs: number;
  finalizingMs: number;
  cancellingMs: number;
  concurrency: number;
}

export function batchTiming(o: BatchOptions): BatchTiming {
  return {
    validatingMs: o.batchValidatingMs ?? 200,
    inProgressMs: o.batchInProgressMs ?? 1000,
    finalizingMs: o.batchFinalizingMs ?? 200,
    cancellingMs: o.batchCancellingMs ?? 200,
    concurrency: Math.max(1, o.batchConcurrency ?? 4),
  };
}

export function batchLimits(o: BatchOptions): BatchLimits {
  return {
    ...DEFAULT_BATCH_LIMITS,
    ...(o.batchMaxRequests !== undefined && { maxRequests: o.batchMaxRequests }),
    ...(o.batchMaxFileBytes !== undefined && { maxFileBytes: o.batchMaxFileBytes }),
    ...(o.batchMaxLineBytes !== undefined && { maxLineBytes: o.batchMaxLineBytes }),
  };
}

/** The faults one batch gets. */
export interface BatchFaults {
  /** expire once this share of lines ran */
  expireAfter?: number;
  validation?: boolean;
  failLines?: { share: number; kind: FaultKind };
}

/** A kind whose real-time error is an HTTP refusal (not an in-stream fault), so it can fail a line. */
export function isLineFaultKind(kind: string): kind is FaultKind {
  return isFaultKind(kind) && faultError(kind, 'm', undefined) !== undefined;
}

const share = (v: string | undefined, fallback: number): number | undefined => {
  const n = v === undefined ? fallback : Number(v);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
};

/** The header's faults; a string naming the bad part otherwise. */
export function parseFaultHeader(header: string): BatchFaults | string {
  const out: BatchFaults = {};
  for (const part of header
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, arg] = part.split('=');
    if (name === 'validation' && arg === undefined) out.validation = true;
    else if (name === 'expire') {
      const s = share(arg, 0.5);
      if (s === undefined) return `expire takes a share in [0, 1], got ${arg}`;
      out.expireAfter = s;
    } else if (name === 'fail-lines' && arg !== undefined) {
      const [rate, kind = 'server_error'] = arg.split(':');
      const s = share(rate, 0);
      if (s === undefined || !isLineFaultKind(kind)) return `fail-lines takes <share in [0, 1]>[:<fault kind refused before streaming>], got ${arg}`;
      out.failLines = { share: s, kind };
    } else return `unknown batch fault: ${part}`;
  }
  return out;
}

/** The faults the option rates draw for a new batch (two draws each, whatever the outcome); failing lines are drawn per line. */
export function drawBatchFaults(o: BatchOptions, rand: () => number): BatchFaults {
  const [rExpire, rValidation] = [rand(), rand()];
  const out: BatchFaults = {};
  if (rExpire < (o.batchExpire ?? 0)) out.expireAfter = o.batchExpireAfter ?? 0.5;
  if (rValidation < (o.batchValidationFail ?? 0)) out.validation = true;
  if ((o.batchFailLines ?? 0) > 0) out.failLines = { share: o.batchFailLines ?? 0, kind: o.batchFailKind ?? 'server_error' };
  return out;
}
