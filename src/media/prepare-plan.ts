/**
 * How a file is prepared, decided once (PURE): sent as it is (media/as-is.ts), or encoded and cut in the mode the
 * task and model want. The prepare decider (workers/prepare-decide.ts) makes it on the header it read; the
 * executor (media/prepare.ts prepareChunks) carries it out as given, and the handler's media fake
 * (test/fakes/media.ts) follows the same decision, so the choice is never made twice.
 */
import type { ModelSpec } from '../models/catalog.ts';
import { asIsPlan } from './as-is.ts';
import { type PlanPolicy, resolveMode } from './plan.ts';
import type { MediaInfo, Plan } from './types.ts';

export type PreparePlan =
  /** the source itself is chunk 0: no ffmpeg pass (its silences are measured only when subtitles need them) */
  | { kind: 'as-is'; plan: Plan }
  /** encode the whole source once, plan on what was decoded, cut by stream copy (media/prepare.ts) */
  | { kind: 'encode'; mode: 'audio' | 'video' };

export function planPrepare(info: MediaInfo, model: ModelSpec, policy: PlanPolicy): PreparePlan {
  const asIs = asIsPlan(info, model, policy);
  return asIs ? { kind: 'as-is', plan: asIs } : { kind: 'encode', mode: resolveMode(info, model, policy).mode };
}
