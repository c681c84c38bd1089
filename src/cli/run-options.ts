/** The options that describe a run, shared by `run` and `schedule add`, and the run request they make. */
import type { Command } from 'commander';
import { parseAmount } from '../cost/price.ts';
import type { RunRequest } from '../producers/run.ts';
import { collect, int, num } from './common.ts';

export interface RunRequestFlags {
  out: string; task: string; model?: string; prompt?: string; voice?: string; include?: string[]; exclude?: string[];
  maxFiles?: number; budget?: string; force?: boolean; manifest?: string; chunkSeconds?: number; overlapSeconds?: number; notifyUrl?: string;
  allowUnsignedWebhooks?: boolean;
}

export function addRunRequestOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--out <destination>', 's3://bucket/prefix/ or a local directory')
    .requiredOption('--task <task>', 'caption | transcribe | moderate | describe | speak | custom')
    .option('--model <model>', 'model id (default: the task\'s)')
    .option('--prompt <text>', 'the prompt (task custom; overrides the task\'s)')
    .option('--voice <voice>', 'voice for spoken output')
    .option('--include <glob>', 'only keys matching (repeatable; replaces the media-extension filter)', collect)
    .option('--exclude <glob>', 'skip keys matching (repeatable)', collect)
    .option('--max-files <n>', 'at most this many files', int)
    .option('--budget <amount>', 'stop before spending more than this (in the price table\'s currency)')
    .option('--force', 'redo files whose result already exists')
    .option('--manifest <file>', 'JSON lines or CSV of object URIs instead of a listing')
    .option('--chunk-seconds <s>', 'target chunk length (default: the task\'s)', num)
    .option('--overlap-seconds <s>', 'overlap between chunks', num)
    .option('--notify-url <url>', 'POST the signed report here when the run ends (needs OMNIBATCH_WEBHOOK_SECRET)')
    .option('--allow-unsigned-webhooks', "with --notify-url and no secret: send the run's notifications unsigned");
}

export function runRequestFrom(source: string, f: RunRequestFlags): RunRequest {
  return {
    source, destination: f.out, task: f.task, model: f.model, prompt: f.prompt, voice: f.voice, include: f.include, exclude: f.exclude,
    maxFiles: f.maxFiles, budgetMicros: f.budget !== undefined ? parseAmount(f.budget) : undefined, force: f.force,
    chunkSeconds: f.chunkSeconds, overlapSeconds: f.overlapSeconds, manifest: f.manifest, notifyUrl: f.notifyUrl,
    ...(f.allowUnsignedWebhooks && { allowUnsignedWebhooks: true }),
  };
}
