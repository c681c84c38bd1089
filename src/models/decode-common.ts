/**
 * The usage scaffolding the three protocol decoders share: each reports a total and a per-modality split
 * under its own key names (compat: prompt_/completion_tokens; responses and native: input_/output_tokens),
 * and the mapping to our Usage is otherwise the same. Kept apart from stream.ts so that each decoder
 * names only its keys.
 */
import { isObj, normalizeUsage, num, type StreamContext } from './stream.ts';
import type { Usage } from './types.ts';

/** Where a protocol's usage object keeps its totals and detail objects. */
export interface UsageKeys {
  inputTotal: string;
  outputTotal: string;
  inputDetails: string;
  outputDetails: string;
  /** native only: the legacy top-level audio_tokens / image_tokens / video_tokens count when the details lack them */
  legacyTopLevel?: boolean;
}

export const COMPAT_USAGE_KEYS: UsageKeys = {
  inputTotal: 'prompt_tokens',
  outputTotal: 'completion_tokens',
  inputDetails: 'prompt_tokens_details',
  outputDetails: 'completion_tokens_details',
};

export const IO_USAGE_KEYS: UsageKeys = {
  inputTotal: 'input_tokens',
  outputTotal: 'output_tokens',
  inputDetails: 'input_tokens_details',
  outputDetails: 'output_tokens_details',
};

/** A protocol's usage object -> Usage (only non-zero detail keys need be present; normalizeUsage fills the rest). */
export function detailedUsage(u: Record<string, unknown>, keys: UsageKeys, ctx: StreamContext, audioSecondsOut = 0): Usage {
  const id = isObj(u[keys.inputDetails]) ? (u[keys.inputDetails] as Record<string, unknown>) : {};
  const od = isObj(u[keys.outputDetails]) ? (u[keys.outputDetails] as Record<string, unknown>) : {};
  const pick = (key: string): number => num(id[key]) || (keys.legacyTopLevel ? num(u[key]) : 0);
  return normalizeUsage(
    {
      inputTotal: num(u[keys.inputTotal]),
      input: { text: num(id.text_tokens), audio: pick('audio_tokens'), image: pick('image_tokens'), video: pick('video_tokens') },
      outputTotal: num(u[keys.outputTotal]),
      output: { text: num(od.text_tokens), audio: num(od.audio_tokens), reasoning: num(od.reasoning_tokens) },
    },
    ctx,
    audioSecondsOut,
  );
}
