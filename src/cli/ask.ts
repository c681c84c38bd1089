/**
 * `omnibatch ask <file>`: one request from a local file, no Redis. The first command a user can try:
 * prints the answer as it streams, writes speech when asked, then usage and cost on stderr (or one JSON
 * object with --json). The decisions (task, model, prompt, media kind, encode) are `planAsk`, pure.
 */

import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { applyProcessSettings } from '../app/process-settings.ts';
import { type Config, endpointOf, loadConfig } from '../config/index.ts';
import { type Cost, costOf, formatMicros, type PricingOverride } from '../cost/price.ts';
import { mediaInputArgs } from '../media/allow-list.ts';
import { ffprobeJson, runFfmpeg } from '../media/ffmpeg.ts';
import { base64Ceiling, checkVoice, findModel, type ModelSpec, nameFor } from '../models/catalog.ts';
import { createClient } from '../models/client.ts';
import { base64Length } from '../models/request.ts';
import type { ModelRequest, ModelResult, Protocol, Usage } from '../models/types.ts';
import { unknownModel } from '../producers/run.ts';
import { isTask, TASK_SPECS, TASKS, type Task } from '../tasks/catalog.ts';
import { type FailureCode, OmniError } from '../util/errors.ts';
import { applyCatalog, CATALOG_HELP } from './common.ts';

export interface AskOptions {
  task?: string;
  prompt?: string;
  model?: string;
  voice?: string;
  audioOut?: string;
  thinking?: boolean;
  maxTokens?: string;
  json?: boolean;
  protocol?: string;
  baseUrl?: string;
  region?: string;
  pricing?: string;
  catalog?: string;
}

/** What ffprobe says matters here. */
export interface Probed {
  durationS: number;
  hasAudio: boolean;
  hasVideo: boolean;
  sizeBytes: number;
  ext: string;
}

export interface AskPlan {
  task: Task;
  model: string;
  prompt?: string;
  kind: 'audio' | 'video';
  /** undefined: send the file as it is; otherwise re-encode first */
  encode?: { format: 'mp3' | 'mp4'; args: string[] };
  audioOut?: { voice: string; file: string };
  thinking?: boolean;
}

/** Containers sent as they are (the captioner's documented set; anything else is re-encoded to mp3). */
const AUDIO_AS_IS = new Set(['mp3', 'wav', 'aac', 'amr']);
const VIDEO_AS_IS = new Set(['mp4', 'mov', 'webm', 'mkv', 'avi', 'flv']);
const bad = (code: FailureCode, message: string): OmniError => new OmniError(code, message);

/**
 * The request to make, pure. Task: --task, else `custom` with --prompt, else the model's natural task
 * (the captioner captions; a prompted model transcribes). Audio is sent unless the task wants video and
 * the file has a picture. Files over the base64 ceiling or in other containers are re-encoded small.
 */
export function planAsk(opts: AskOptions, probe: Probed, file: string, protocol: Protocol = 'chat'): AskPlan {
  if (opts.task !== undefined && !isTask(opts.task)) throw bad('invalid_task', `unknown task ${opts.task}: one of ${TASKS.join(', ')}`);
  const given = opts.model ? findModel(opts.model) : undefined;
  const task: Task = (opts.task as Task | undefined) ?? (opts.prompt ? 'custom' : given?.acceptsPrompt ? 'transcribe' : 'caption');
  const spec = TASK_SPECS[task];
  // The task's default under the name this protocol's endpoint serves (DMXAPI: the -all name); a given name is sent as given.
  const model = opts.model ?? nameFor(spec.defaultModel, protocol);
  const m: ModelSpec | undefined = findModel(model);
  if (!m) throw unknownModel(model, protocol);
  const acceptsPrompt = m?.acceptsPrompt ?? true;
  if (opts.prompt && !acceptsPrompt) throw bad('invalid_argument', `${model} takes no prompt (audio only): drop --prompt`);
  const prompt = acceptsPrompt ? (opts.prompt ?? spec.prompt) : undefined;
  if (task === 'custom' && !prompt) throw bad('invalid_argument', 'task custom needs --prompt');

  const acceptsVideo = m ? m.inputs.includes('video') : true;
  let kind: 'audio' | 'video';
  if (spec.media === 'video' && probe.hasVideo && acceptsVideo) kind = 'video';
  else if (probe.hasAudio) kind = 'audio';
  else if (probe.hasVideo && acceptsVideo) kind = 'video';
  else throw bad('media_no_audio', `${path.basename(file)} has no audio track${probe.hasVideo ? ` and ${model} takes no video` : ''}`);

  const limit = kind === 'audio' ? m?.limits.audio : m?.limits.video;
  if (limit && probe.durationS > limit.maxSeconds) {
    throw bad(
      'input_too_large',
      `${probe.durationS.toFixed(1)} s of ${kind} is over ${model}'s ${limit.maxSeconds} s per request: use \`omnibatch run\`, which splits it`,
    );
  }
  const base64Max = base64Ceiling(m);
  const fits = base64Length(probe.sizeBytes) < base64Max * 0.98;
  let encode: AskPlan['encode'];
  if (kind === 'audio' && (probe.hasVideo || !AUDIO_AS_IS.has(probe.ext) || !fits)) {
    // a bitrate that keeps the base64 under the ceiling for this duration (mono speech needs little)
    const kbps = Math.max(16, Math.min(64, Math.floor((base64Max * 0.7 * 8) / Math.max(1, probe.durationS) / 1000)));
    encode = { format: 'mp3', args: ['-vn', '-ac', '1', '-ar', '16000', '-c:a', 'libmp3lame', '-b:a', `${kbps}k`] };
  } else if (kind === 'video' && (!VIDEO_AS_IS.has(probe.ext) || !fits)) {
    // the model samples ~2 frames/s at modest resolution: a small re-encode loses nothing it would see
    encode = {
      format: 'mp4',
      args: [
        '-vf',
        'scale=-2:480',
        '-r',
        '2',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '32',
        '-c:a',
        'aac',
        '-ac',
        '1',
        '-b:a',
        '32k',
        '-movflags',
        '+faststart',
      ],
    };
  }

  const wantsAudio = opts.audioOut !== undefined || spec.wantsAudioOut;
  let audioOut: AskPlan['audioOut'];
  if (wantsAudio) {
    if (!m.outputs.includes('audio')) throw bad('invalid_argument', `${model} does not speak: drop --audio-out`);
    if (opts.thinking) throw bad('invalid_argument', 'thinking mode gives no audio output: drop --thinking or --audio-out');
    const voice = opts.voice ?? m.defaultVoice ?? 'Cherry';
    // A voice the model does not have on this protocol fails at the service: refused here, naming the valid ones.
    const verdict = checkVoice(model, voice, protocol);
    if (!verdict.ok && verdict.refuse) throw bad('voice_unsupported', verdict.message);
    audioOut = { voice, file: opts.audioOut ?? `${path.parse(file).name}.${task}.wav` };
  }
  return { task, model, prompt, kind, encode, audioOut, ...(opts.thinking && { thinking: true }) };
}

/**
 * The request for a plan, pure. The media's length and sound track go with it: a provider that reports only
 * totals (DMXAPI) has a video's sound track split out as audio from them (models/stream.ts), as it is billed.
 */
export function askRequest(plan: AskPlan, send: string, probe: Probed, opts: Pick<AskOptions, 'maxTokens'> = {}): ModelRequest {
  return {
    model: plan.model,
    prompt: plan.prompt,
    media: { kind: plan.kind, source: { file: send }, ...(probe.durationS > 0 && { seconds: probe.durationS }), hasAudio: probe.hasAudio },
    ...(plan.audioOut && { audioOut: plan.audioOut }),
    ...(plan.thinking && { thinking: true }),
    ...(opts.maxTokens && { maxOutputTokens: Number(opts.maxTokens) }),
  };
}

export function summarizeProbe(json: Record<string, unknown>, file: string, sizeBytes: number): Probed {
  const streams = Array.isArray(json.streams) ? (json.streams as Record<string, unknown>[]) : [];
  const format = (json.format ?? {}) as Record<string, unknown>;
  const isPicture = (s: Record<string, unknown>): boolean => ((s.disposition ?? {}) as Record<string, number>).attached_pic === 1;
  return {
    durationS: Number(format.duration) || 0,
    hasAudio: streams.some((s) => s.codec_type === 'audio'),
    hasVideo: streams.some((s) => s.codec_type === 'video' && !isPicture(s)),
    sizeBytes,
    ext: path.extname(file).slice(1).toLowerCase(),
  };
}

const plural = (parts: Record<string, number>): string =>
  Object.entries(parts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'none';

export function usageLine(u: Usage): string {
  return `usage: input ${u.inputTotal} tokens (${plural(u.input)}), output ${u.outputTotal} tokens (${plural(u.output)})`;
}

export function costLine(c: Cost): string {
  if (!c.priced || !c.currency) return `cost: unpriced${c.currency ? ` (partial ${formatMicros(c.amountMicros)} ${c.currency})` : ''}`;
  return `cost: ${formatMicros(c.amountMicros)} ${c.currency}`;
}

function readPricing(file: string | undefined): PricingOverride | undefined {
  if (!file) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PricingOverride;
  } catch (err) {
    throw bad('config_invalid', `cannot read pricing file ${file}: ${(err as Error).message}`);
  }
}

async function ask(file: string, opts: AskOptions, cfg: Config): Promise<void> {
  if (!cfg.apiKey) throw bad('config_invalid', 'no API key: set OMNI_API_KEY (or DASHSCOPE_API_KEY)');
  const size = (
    await stat(file).catch(() => {
      throw bad('media_unreadable', `cannot read ${file}`);
    })
  ).size;
  const probe = summarizeProbe(await ffprobeJson(file), file, size);
  const plan = planAsk(opts, probe, file, cfg.protocol as Protocol);
  const tmp = plan.encode ? await mkdtemp(path.join(cfg.tmpDir, 'omnibatch-ask-')) : undefined;
  const client = createClient(endpointOf(cfg));
  try {
    let send = file;
    if (plan.encode && tmp) {
      send = path.join(tmp, `input.${plan.encode.format}`);
      // The same allow-list as every media read (no playlist, no URL, nothing but this file).
      await runFfmpeg(['-y', ...mediaInputArgs(`file:${path.resolve(file)}`, undefined, cfg.maxPixels), ...plan.encode.args, send]);
    }
    const req = askRequest(plan, send, probe, opts);
    let streamed = false;
    const result = await client
      .complete(
        req,
        opts.json
          ? {}
          : {
              onText: (t) => {
                streamed = true;
                process.stdout.write(t);
              },
            },
      )
      .catch((err: unknown) => {
        // the text printed so far is not an answer: end its line so the error stands on its own
        if (streamed) process.stdout.write('\n');
        throw err;
      });
    const cost = costOf(result.usage, plan.model, cfg.region, readPricing(cfg.pricingFile));
    if (opts.json) process.stdout.write(`${JSON.stringify(jsonResult(file, plan, cfg, result, cost))}\n`);
    else report(result, cost, streamed);
  } finally {
    await client.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}

function report(result: ModelResult, cost: Cost, streamed: boolean): void {
  process.stdout.write(streamed ? '\n' : `${result.text}\n`);
  if (result.reasoning) process.stderr.write(`reasoning: ${result.reasoning}\n`);
  if (result.audio) process.stderr.write(`audio: ${result.audio.file} (${result.audio.seconds.toFixed(2)} s)\n`);
  process.stderr.write(`${usageLine(result.usage)}\n${costLine(cost)}\n`);
}

function jsonResult(file: string, plan: AskPlan, cfg: Config, r: ModelResult, cost: Cost): Record<string, unknown> {
  return {
    file,
    task: plan.task,
    model: plan.model,
    protocol: cfg.protocol,
    region: cfg.region,
    media: plan.kind,
    text: r.text,
    reasoning: r.reasoning || undefined,
    audio: r.audio,
    usage: r.usage,
    cost: { currency: cost.currency, amount: formatMicros(cost.amountMicros), amountMicros: cost.amountMicros, priced: cost.priced },
    finishReason: r.finishReason,
    requestId: r.requestId,
  };
}

export function register(program: Command): void {
  program
    .command('ask <file>')
    .description('send one local file to the model and print the answer, usage and cost (no Redis)')
    .option('--task <task>', `${TASKS.join(' | ')} (default: caption, or custom with --prompt)`)
    .option('--prompt <text>', 'your own question (task custom)')
    .option('--model <model>', "model (default: the task's)")
    .option('--voice <voice>', "voice for spoken output (default: the model's)")
    .option('--audio-out <file>', 'also ask for speech and write it to this WAV file')
    .option('--thinking', 'thinking mode (qwen3-omni-flash, qwen3.5-omni-plus; text output only)')
    .option('--max-tokens <n>', 'output token ceiling')
    .option('--protocol <p>', 'chat | responses | dashscope (OMNI_PROTOCOL)')
    .option('--base-url <url>', 'API base URL (OMNI_BASE_URL)')
    .option('--region <r>', 'intl | cn: default base URL and prices (OMNI_REGION)')
    .option('--pricing <file>', 'JSON price override (OMNIBATCH_PRICING)')
    .option('--catalog <file>', CATALOG_HELP)
    .option('--json', 'print one JSON object instead of text + stderr summary')
    .action(async (file: string, opts: AskOptions, cmd: Command) => {
      const g = cmd.optsWithGlobals() as { config?: string; logLevel?: string };
      // not cli/common.ts's configFrom: that module loads the queues and the AWS SDK, which ask never needs
      const cfg = loadConfig({
        file: g.config,
        flags: {
          protocol: opts.protocol,
          baseUrl: opts.baseUrl,
          region: opts.region,
          pricingFile: opts.pricing,
          catalogFile: opts.catalog,
          logLevel: g.logLevel,
        },
      });
      applyProcessSettings(cfg);
      applyCatalog(cfg);
      await ask(file, opts, cfg);
    });
}
