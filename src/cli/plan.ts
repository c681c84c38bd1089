/** `omnibatch plan <file> --task T [--model M] ...`: how a file would be chunked and compressed, without cutting. */
import type { Command } from 'commander';
import { describePlan, planChunks } from '../media/plan.ts';
import { type PolicyOverrides, taskPolicy } from '../media/policy.ts';
import { probeMedia } from '../media/probe.ts';
import { detectSilences } from '../media/silence.ts';
import type { Plan } from '../media/types.ts';
import { findModel, MODEL_IDS, type ModelSpec } from '../models/catalog.ts';
import { isTask, TASK_SPECS, TASKS, type Task } from '../tasks/catalog.ts';
import { OmniError } from '../util/errors.ts';
import { CATALOG_HELP, configFrom, loggerFor, num, printJson } from './common.ts';

export interface MediaFlags {
  model?: string;
  task: string;
  chunkSeconds?: number;
  overlapSeconds?: number;
  inputMode?: string;
}

/** The flags every media command shares. */
export function mediaOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--task <task>', TASKS.join(' | '))
    .option('--model <model>', `${MODEL_IDS.join(' | ')} (default: the task's)`)
    .option('--chunk-seconds <s>', "target chunk length (default: the task's)", num)
    .option('--overlap-seconds <s>', 'seconds each chunk repeats of the previous one', num)
    .option('--input-mode <mode>', 'base64 | url: how chunks travel (sets the byte limit)')
    .option('--catalog <file>', CATALOG_HELP);
}

export function resolveMedia(
  f: MediaFlags,
  defaults: { inputMode: 'base64' | 'url'; base64MaxChars?: number },
): { task: Task; model: ModelSpec; overrides: PolicyOverrides } {
  if (!isTask(f.task)) throw new OmniError('invalid_task', `unknown task ${f.task} (one of ${TASKS.join(', ')})`);
  const name = f.model ?? TASK_SPECS[f.task].defaultModel;
  const model = findModel(name);
  if (!model) throw new OmniError('model_unknown', `unknown model ${name} (one of ${MODEL_IDS.join(', ')})`);
  const inputMode = f.inputMode ?? defaults.inputMode;
  if (inputMode !== 'base64' && inputMode !== 'url') throw new OmniError('invalid_argument', `--input-mode must be base64 or url, not ${inputMode}`);
  return {
    task: f.task,
    model,
    overrides: { chunkSeconds: f.chunkSeconds, overlapSeconds: f.overlapSeconds, inputMode, base64MaxChars: defaults.base64MaxChars },
  };
}

export function formatPlan(plan: Plan): string {
  const lines = [describePlan(plan), ...plan.notes.map((n) => `note: ${n}`)];
  for (const c of plan.chunks) {
    lines.push(
      `  #${String(c.index).padStart(4)}  ${c.startS.toFixed(3).padStart(10)} -> ${c.endS.toFixed(3).padStart(10)}  (${(c.endS - c.startS).toFixed(2)} s)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  mediaOptions(program.command('plan').description('plan the chunks and encoding of a file for a task and model (nothing is cut)').argument('<file>'))
    .option('--json', 'print {info, plan} as JSON')
    .action(async (file: string, f: MediaFlags & { json?: boolean }, cmd: Command) => {
      const cfg = configFrom(cmd);
      const log = loggerFor(cfg);
      const { model, task, overrides } = resolveMedia(f, cfg);
      const info = await probeMedia(file, { log });
      const policy = taskPolicy(task, model, overrides);
      const silences = info.audio.length
        ? await detectSilences(file, { log, streamIndex: info.audio[0].index, durationS: info.durationS, format: info.container, maxPixels: cfg.maxPixels })
        : [];
      const plan = planChunks(info, model, policy, silences);
      if (f.json) printJson({ info, plan });
      else process.stdout.write(formatPlan(plan));
    });
}
