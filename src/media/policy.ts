/** A task's chunk policy with the user's overrides, as the planner takes it. Pure. */
import { type ModelSpec, modelOf } from '../models/catalog.ts';
import { textTokens } from '../models/tokens.ts';
import type { RunSpec } from '../runs/types.ts';
import { TASK_SPECS, type Task } from '../tasks/catalog.ts';
import type { FileLimits } from './limits.ts';
import type { PlanPolicy } from './plan.ts';

export interface PolicyOverrides {
  chunkSeconds?: number;
  overlapSeconds?: number;
  inputMode?: 'base64' | 'url';
  base64MaxChars?: number;
  /** a custom prompt replaces the task's own */
  prompt?: string;
}

export function taskPolicy(task: Task, model: ModelSpec, o: PolicyOverrides = {}): PlanPolicy {
  const spec = TASK_SPECS[task];
  const prompt = model.acceptsPrompt ? (o.prompt ?? spec.prompt ?? '') : '';
  return {
    ...spec.policy,
    ...(o.chunkSeconds !== undefined && { targetS: o.chunkSeconds }),
    ...(o.overlapSeconds !== undefined && { overlapS: o.overlapSeconds }),
    mode: spec.media,
    inputMode: o.inputMode ?? 'base64',
    ...(o.base64MaxChars !== undefined && { base64MaxChars: o.base64MaxChars }),
    promptTokens: prompt ? textTokens(prompt) : 0,
  };
}

/** The planner's policy for a run: the task's defaults and the run's overrides (the planner picks the tracks). */
export function chunkPolicy(spec: RunSpec, base64MaxChars?: number, limits?: Pick<FileLimits, 'maxChunksPerFile'>): PlanPolicy {
  const policy = taskPolicy(spec.task, modelOf(spec)!, {
    chunkSeconds: spec.chunkSeconds,
    overlapSeconds: spec.overlapSeconds,
    inputMode: spec.inputMode,
    base64MaxChars,
    prompt: spec.prompt,
  });
  return limits ? { ...policy, maxChunks: limits.maxChunksPerFile } : policy;
}
