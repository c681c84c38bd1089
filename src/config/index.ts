/**
 * env + flags (+ an optional JSON config file) -> one validated, typed, frozen Config.
 * A bad setting stops the program with one message that lists every bad setting and how to fix it.
 * Precedence: flags > environment > config file > defaults.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { z } from 'zod';
import type { Protocol } from '../models/types.ts';
import { OmniError } from '../util/errors.ts';

const DEFAULT_BASES: Record<Protocol, Record<'intl' | 'cn', string>> = {
  chat: { intl: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1', cn: 'https://dashscope.aliyuncs.com/compatible-mode/v1' },
  responses: { intl: 'https://www.dmxapi.cn/v1', cn: 'https://www.dmxapi.cn/v1' },
  dashscope: { intl: 'https://dashscope-intl.aliyuncs.com/api/v1', cn: 'https://dashscope.aliyuncs.com/api/v1' },
};

const int = (min: number) => z.coerce.number().int().min(min);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

/** Every setting: its env variable, default and meaning. The README's configuration table follows this. */
export const SETTINGS = {
  apiKey: { env: ['OMNI_API_KEY', 'DASHSCOPE_API_KEY'], schema: z.string().min(1).optional(), help: 'API key for the model service' },
  protocol: { env: ['OMNI_PROTOCOL'], schema: z.enum(['chat', 'responses', 'dashscope']).default('chat'), help: 'chat | responses | dashscope' },
  region: { env: ['OMNI_REGION'], schema: z.enum(['intl', 'cn']).default('intl'), help: 'intl | cn: default base URL and price table' },
  baseUrl: { env: ['OMNI_BASE_URL'], schema: z.string().url().optional(), help: "base URL the protocol's path is appended to" },
  authStyle: { env: ['OMNI_AUTH_STYLE'], schema: z.enum(['bearer', 'raw']).optional(), help: 'bearer (default) | raw (DMXAPI: the key alone)' },
  redisUrl: {
    env: ['REDIS_URL'],
    schema: z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .default('redis://127.0.0.1:6379'),
    help: 'Redis for queues, ledger and state',
  },
  queuePrefix: {
    env: ['OMNIBATCH_PREFIX'],
    schema: z
      .string()
      .regex(/^[\w.-]+$/)
      .default('omnibatch'),
    help: 'Redis key prefix of every queue and key',
  },
  s3Endpoint: { env: ['S3_ENDPOINT'], schema: z.string().url().optional(), help: 'S3-compatible endpoint (MinIO, R2, OSS, s3rver)' },
  s3ForcePathStyle: { env: ['S3_FORCE_PATH_STYLE'], schema: bool.optional(), help: 'path-style bucket addressing (default: on when S3_ENDPOINT is set)' },
  awsRegion: { env: ['AWS_REGION', 'AWS_DEFAULT_REGION'], schema: z.string().default('us-east-1'), help: 'S3 region' },
  tmpDir: { env: ['OMNIBATCH_TMP'], schema: z.string().default(os.tmpdir()), help: 'where per-job temp directories go' },
  logLevel: { env: ['LOG_LEVEL'], schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), help: 'pino log level' },
  pricingFile: { env: ['OMNIBATCH_PRICING'], schema: z.string().optional(), help: 'JSON price override merged over the built-in table' },
  catalogFile: {
    env: ['OMNIBATCH_CATALOG'],
    schema: z.string().optional(),
    help: 'JSON catalog file: models (limits, token rules, prices with sources, protocols, voices, Batch rate) merged over the built-in ones',
  },
  inputMode: { env: ['OMNIBATCH_INPUT_MODE'], schema: z.enum(['base64', 'url']).default('base64'), help: 'send chunks as base64 or as presigned URLs' },
  base64MaxChars: {
    env: ['OMNIBATCH_BASE64_MAX'],
    schema: int(1024).optional(),
    help: "base64 ceiling per request (default: the model's seed's, else the gateway's 20 MiB)",
  },
  prepareConcurrency: {
    env: ['OMNIBATCH_PREPARE_CONCURRENCY'],
    schema: int(1).default(Math.max(1, os.cpus().length)),
    help: 'prepare jobs per worker (ffmpeg, CPU-bound)',
  },
  inferConcurrency: { env: ['OMNIBATCH_INFER_CONCURRENCY'], schema: int(1).default(8), help: 'requests in flight across all workers' },
  inferWorkerConcurrency: {
    env: ['OMNIBATCH_INFER_WORKER_CONCURRENCY'],
    schema: int(1).optional(),
    help: 'requests in flight in one worker process (default: all of the global limit)',
  },
  finalizeConcurrency: { env: ['OMNIBATCH_FINALIZE_CONCURRENCY'], schema: int(1).default(4), help: 'finalize jobs per worker' },
  rpm: { env: ['OMNIBATCH_RPM'], schema: int(0).optional(), help: 'requests per minute across all workers (0: remove the limit)' },
  tpm: { env: ['OMNIBATCH_TPM'], schema: int(1).optional(), help: 'input tokens per minute across all workers' },
  connectTimeoutMs: { env: ['OMNIBATCH_CONNECT_TIMEOUT_MS'], schema: int(1).default(10_000), help: 'HTTP connect timeout' },
  firstByteTimeoutMs: { env: ['OMNIBATCH_FIRST_BYTE_TIMEOUT_MS'], schema: int(1).default(120_000), help: 'time to the first response byte' },
  idleTimeoutMs: { env: ['OMNIBATCH_IDLE_TIMEOUT_MS'], schema: int(1).default(60_000), help: 'longest gap between stream events' },
  lockDurationMs: {
    env: ['OMNIBATCH_LOCK_MS'],
    schema: int(1000).default(30_000),
    help: "how soon a dead worker's job comes back (BullMQ lock; renewed while the worker lives)",
  },
  runRetentionDays: {
    env: ['OMNIBATCH_RUN_RETENTION_DAYS'],
    schema: int(1).default(7),
    help: "days a finished run's state and ledger stay in Redis (its report stays in the bucket)",
  },
  webhookSecret: { env: ['OMNIBATCH_WEBHOOK_SECRET'], schema: z.string().optional(), help: 'HMAC-SHA256 key for webhook signatures' },
  // Per-file limits: every media file is a stranger's; these keep one upload from taking the worker's disk, memory
  // or the run's money. Defaults fit any real recording we expect (see src/media/limits.ts for the reasoning).
  maxDownloadBytes: {
    env: ['OMNIBATCH_MAX_DOWNLOAD_BYTES'],
    schema: int(1).default(10 * 1024 ** 3),
    help: 'largest object a worker downloads (bytes); the download aborts as soon as it passes this',
  },
  maxMediaSeconds: { env: ['OMNIBATCH_MAX_MEDIA_SECONDS'], schema: int(1).default(24 * 3600), help: 'longest media one file may hold (seconds)' },
  maxPixels: {
    env: ['OMNIBATCH_MAX_PIXELS'],
    schema: int(1).default(8192 * 4320),
    help: 'largest video frame (width x height) a file may declare: checked before anything decodes it',
  },
  maxPixelsPerSecond: {
    env: ['OMNIBATCH_MAX_PIXELS_PER_SECOND'],
    schema: int(1).default(3840 * 2160 * 60),
    help: 'most pixels a second (width x height x fps) of a video a task decodes: refused before decoding (media_too_costly)',
  },
  childMaxMemoryMb: {
    env: ['OMNIBATCH_CHILD_MAX_MEMORY_MB'],
    schema: int(0).default(768),
    help: 'address space (RLIMIT_AS, via prlimit) of each ffmpeg/ffprobe child in MB; 0: none',
  },
  resultSecret: {
    env: ['OMNIBATCH_RESULT_SECRET'],
    schema: z.string().min(16).optional(),
    help: 'HMAC key that signs result files; a later run skips only a file whose result it signed (default: a random key kept in Redis)',
  },
  maxChunksPerFile: { env: ['OMNIBATCH_MAX_CHUNKS'], schema: int(1).default(3000), help: 'most requests one file may be planned into' },
  maxSecondsPerByte: {
    env: ['OMNIBATCH_MAX_SECONDS_PER_BYTE'],
    schema: z.coerce.number().positive().default(0.1),
    help: 'media seconds per byte above which a file is refused as media_suspicious (0.1 = under 10 bytes a second)',
  },
  // Every ffmpeg/ffprobe child has a deadline proportional to its media (media/child-deadline.ts), within these.
  childTimeoutFloorMs: {
    env: ['OMNIBATCH_CHILD_TIMEOUT_FLOOR_MS'],
    schema: int(1).default(60_000),
    help: 'shortest deadline of an ffmpeg/ffprobe child (ms): process start and a slow disk',
  },
  childTimeoutCeilingMs: {
    env: ['OMNIBATCH_CHILD_TIMEOUT_CEILING_MS'],
    schema: int(1).default(2 * 3600_000), // media/child-deadline.ts DEFAULT_DEADLINES: the same 2 h
    help: 'longest deadline of an ffmpeg/ffprobe child (ms); raised to the floor when below it',
  },
  ffmpegPath: { env: ['FFMPEG_PATH'], schema: z.string().min(1).optional(), help: 'ffmpeg binary (default: on PATH, else the npm package)' },
  ffprobePath: { env: ['FFPROBE_PATH'], schema: z.string().min(1).optional(), help: 'ffprobe binary (default: on PATH, else the npm package)' },
  // The AWS SDK reads the credentials itself (its default chain); held here only so that logs mask them.
  awsSecretAccessKey: { env: ['AWS_SECRET_ACCESS_KEY'], schema: z.string().optional(), help: 'S3 secret key (read by the AWS SDK; masked in logs)' },
  awsSessionToken: { env: ['AWS_SESSION_TOKEN'], schema: z.string().optional(), help: 'S3 session token (read by the AWS SDK; masked in logs)' },
  // The provider's Batch API (--via batch). Limits per input file and line from the Batch page (docs/protocols.md
  // "Batch (file input)": 50,000 requests, 500 MB, 6 MB a line, a window of 24h to 336h).
  batchMaxRequests: { env: ['OMNIBATCH_BATCH_MAX_REQUESTS'], schema: int(1).default(50_000), help: 'most request lines in one Batch input file' },
  batchMaxFileBytes: { env: ['OMNIBATCH_BATCH_MAX_FILE_BYTES'], schema: int(1024).default(500 * 1024 ** 2), help: 'largest Batch input file (bytes)' },
  batchMaxLineBytes: {
    env: ['OMNIBATCH_BATCH_MAX_LINE_BYTES'],
    schema: int(1024).default(6 * 1024 ** 2),
    help: 'largest request line in a Batch input file (bytes, the base64 media included): a larger chunk is re-planned smaller',
  },
  batchWindow: {
    env: ['OMNIBATCH_BATCH_WINDOW'],
    schema: z
      .string()
      .regex(/^\d+[hd]$/, 'a number of hours or days, e.g. 24h')
      .default('24h'),
    help: "the batches' completion_window: answers come within it, or the batch expires and its unanswered lines go again",
  },
  batchQuietMs: {
    env: ['OMNIBATCH_BATCH_QUIET_MS'],
    schema: int(0).default(30_000),
    help: 'a Batch input file is packed once no new line came for this long (or it is full)',
  },
  batchMaxWaitMs: {
    env: ['OMNIBATCH_BATCH_MAX_WAIT_MS'],
    schema: int(0).default(10 * 60_000),
    help: 'the longest a line waits to be packed while others keep coming',
  },
  estimateProbeMb: {
    env: ['OMNIBATCH_ESTIMATE_PROBE_MB'],
    schema: int(1).default(16),
    help: 'MiB `estimate` reads of one object at most: a smaller object whole (probed as the run probes it), a larger one by its head and tail (priced from its header)',
  },
  waitPollMs: {
    env: ['OMNIBATCH_WAIT_POLL_MS'],
    schema: int(50).optional(),
    help: "how often `--wait` and `status --watch` read the run's state (default: 250 ms on a terminal, 1000 ms otherwise)",
  },
  batchPollMs: { env: ['OMNIBATCH_BATCH_POLL_MS'], schema: int(100).default(10_000), help: "the first wait before a batch's status is read again" },
  batchPollMaxMs: { env: ['OMNIBATCH_BATCH_POLL_MAX_MS'], schema: int(100).default(5 * 60_000), help: 'the longest wait between two reads of a batch' },
  batchMaxResubmits: {
    env: ['OMNIBATCH_BATCH_MAX_RESUBMITS'],
    schema: int(0).default(3),
    help: 'how often a line a batch left unanswered (expired, cancelled, a transient error) is sent again before its file fails',
  },
  allowUnsignedWebhooks: {
    env: ['OMNIBATCH_ALLOW_UNSIGNED_WEBHOOKS'],
    schema: bool.default(false),
    help: 'send webhooks without a signature when no secret is set (refused otherwise)',
  },
} as const;

type Settings = typeof SETTINGS;
export type Config = Readonly<{ [K in keyof Settings]: z.output<Settings[K]['schema']> }> & {
  /** the settings given by a flag, a variable or the config file (not defaults): shared limits change only when asked */
  readonly explicit: readonly (keyof Settings)[];
  readonly baseUrlResolved: string;
  readonly authStyleResolved: 'bearer' | 'raw';
};

export type ConfigInput = Partial<Record<keyof Settings, unknown>>;

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** command-line values, already parsed (undefined = not given) */
  flags?: ConfigInput;
  /** path of a JSON config file (`--config`, or OMNIBATCH_CONFIG) */
  file?: string;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const filePath = opts.file ?? env.OMNIBATCH_CONFIG;
  const fromFile: ConfigInput = filePath ? readConfigFile(filePath) : {};
  const raw: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS)) {
    const fromEnv = s.env.map((name) => env[name]).find((v) => v !== undefined && v !== '');
    const fromFlag = opts.flags?.[key as keyof Settings];
    raw[key] = fromFlag ?? fromEnv ?? fromFile[key as keyof Settings];
  }
  const shape = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.schema]));
  const parsed = z.object(shape).safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as keyof Settings;
      const s = SETTINGS[key];
      return `  - ${key} (${s.env.join(' or ')}${opts.flags?.[key] !== undefined ? ', or its flag' : ''}): ${issue.message}. Expected: ${s.help}.`;
    });
    throw new OmniError('config_invalid', `invalid configuration:\n${lines.join('\n')}`);
  }
  const cfg = parsed.data as Record<string, unknown>;
  const protocol = cfg.protocol as Protocol;
  const region = cfg.region as 'intl' | 'cn';
  return Object.freeze({
    ...cfg,
    explicit: Object.freeze(Object.keys(raw).filter((k) => raw[k] !== undefined)) as (keyof Settings)[],
    baseUrlResolved: ((cfg.baseUrl as string | undefined) ?? DEFAULT_BASES[protocol][region]).replace(/\/+$/, ''),
    authStyleResolved: (cfg.authStyle as 'bearer' | 'raw' | undefined) ?? (protocol === 'responses' ? 'raw' : 'bearer'),
  }) as unknown as Config;
}

function readConfigFile(path: string): ConfigInput {
  try {
    const data = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('not a JSON object');
    return data as ConfigInput;
  } catch (err) {
    throw new OmniError('config_invalid', `cannot read config file ${path}: ${(err as Error).message}`);
  }
}

/** The endpoint part of the config, as the model clients take it. */
export function endpointOf(cfg: Config): import('../models/types.ts').EndpointConfig {
  return {
    protocol: cfg.protocol,
    baseUrl: cfg.baseUrlResolved,
    apiKey: cfg.apiKey ?? '',
    authStyle: cfg.authStyleResolved,
    connectTimeoutMs: cfg.connectTimeoutMs,
    firstByteTimeoutMs: cfg.firstByteTimeoutMs,
    idleTimeoutMs: cfg.idleTimeoutMs,
  };
}

/**
 * This process's environment, for the one use below config/ that needs it as it is: the few variables a child
 * process keeps (media/child-argv.ts childEnv: PATH, locale, temp dir; never a secret).
 */
export function hostEnvironment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
