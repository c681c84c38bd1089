/** A task's chunk policy with the user's overrides, as the planner takes it. Pure. */
import type { ModelSpec } from '../models/catalog.ts';
import { textTokens } from '../models/tokens.ts';
import { TASK_SPECS, type Task } from '../tasks/catalog.ts';
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
