/**
 * What a prepare job does, as data (the handler, prepare.ts, carries it out): whether it runs at all, then
 * how its media is read (the sniffed header as it is, or ffprobe) and whether a per-file limit refuses it
 * before anything decodes. Pure: tested without ffmpeg, Redis or storage.
 */
import { decodeCostViolation, type FileLimits, limitError, mediaViolation } from '../media/limits.ts';
import type { PlanPolicy } from '../media/plan.ts';
import { type PreparePlan, planPrepare } from '../media/prepare-plan.ts';
import type { MediaInfo } from '../media/types.ts';
import type { ModelSpec } from '../models/catalog.ts';
import type { StopReason } from '../runs/types.ts';
import { OmniError } from '../util/errors.ts';

export interface PrepareStartFacts {
  fileOpen: boolean;
  stop?: StopReason;
  /** the file's finalize job (of this generation) exists: a redone job whose flow was already added */
  flowExists: boolean;
  key: string;
  /** the listed size; negative: the object was gone when the scan looked */
  size: number;
}

export type PrepareStart =
  | { kind: 'skip'; reason: 'file already finished' | 'flow exists' }
  | { kind: 'not-run'; stop: StopReason }
  | { kind: 'refuse'; error: OmniError }
  | { kind: 'prepare' };

export function decidePrepareStart(f: PrepareStartFacts): PrepareStart {
  if (!f.fileOpen) return { kind: 'skip', reason: 'file already finished' };
  if (f.stop) return { kind: 'not-run', stop: f.stop };
  if (f.flowExists) return { kind: 'skip', reason: 'flow exists' };
  if (f.size < 0) return { kind: 'refuse', error: new OmniError('storage_not_found', `${f.key} does not exist`) };
  return { kind: 'prepare' };
}

export interface PrepareMediaFacts {
  /** the header read without ffprobe (sniff.ts), when the format is one it knows */
  sniffed?: MediaInfo;
  /** ffprobe's answer, once asked for */
  probed?: MediaInfo;
  model: ModelSpec;
  policy: PlanPolicy;
  limits: FileLimits;
}

export type PrepareMedia =
  | { kind: 'probe' }
  | { kind: 'refuse'; error: OmniError }
  /** `prepare`: as it is or encoded (media/prepare-plan.ts), which the executor carries out as given */
  | { kind: 'plan'; info: MediaInfo; read: 'as-is' | 'probe'; prepare: PreparePlan };

/** The plan, or the coded reason the media cannot be planned for this task (no audio track for an audio task...). */
function tryPlan(info: MediaInfo, f: PrepareMediaFacts): PreparePlan | OmniError {
  try {
    return planPrepare(info, f.model, f.policy);
  } catch (err) {
    if (err instanceof OmniError) return err;
    throw err;
  }
}

export function decidePrepareMedia(f: PrepareMediaFacts): PrepareMedia {
  // A small WAV/mp3 the model takes as it is needs no ffprobe: its header holds all the plan needs (sniff.ts).
  const fromHeader = !f.probed && f.sniffed ? tryPlan(f.sniffed, f) : undefined;
  const sniffed = fromHeader instanceof OmniError ? undefined : fromHeader;
  const info = f.probed ?? (sniffed?.kind === 'as-is' ? f.sniffed : undefined);
  if (!info) return { kind: 'probe' };
  // Refused here, after the header was read and before anything decodes or plans the media.
  // A plan that decodes the pictures is refused what that decode would cost (limits.ts); audio plans never decode them.
  const decodesPictures = f.policy.mode === 'video' && f.model.inputs.includes('video') && f.model.limits.video !== undefined;
  const v = mediaViolation(info, f.limits) ?? (decodesPictures ? decodeCostViolation(info, f.limits) : undefined);
  if (v) return { kind: 'refuse', error: limitError(v) };
  if (!f.probed) return { kind: 'plan', info, read: 'as-is', prepare: sniffed! };
  const prepare = tryPlan(info, f);
  if (prepare instanceof OmniError) return { kind: 'refuse', error: prepare };
  return { kind: 'plan', info, read: 'probe', prepare };
}
