/**
 * Every failure code the product raises, in one table that decides: what the queue does with a job that
 * failed with it (`queue`), whether the provider spent any tokens on it (`billed`), what it means in one line,
 * and what the user can do. Retryability is not stated anywhere else: `OmniError` reads it from here
 * (`retryableCode`), the worker bootstrap maps `queue` to BullMQ behaviour once (workers/failure-decide.ts), and
 * the README's "Troubleshooting by error code" table is generated from this one (`npm run docs:codes`, checked
 * by test/repo/failure-codes.test.ts).
 *
 * The model service's own codes (ModelNotFound, Throttling.RateQuota, ...) are not ours: src/models/errors.ts
 * maps them onto these, and the emulator answers with the service's.
 */

/**
 * What a queue does with a job whose attempt failed with the code:
 * - `wait`: a rate limit; the queue pauses for Retry-After or a backoff, and no attempt is spent.
 * - `retry`: weather; tried again with exponential backoff, and the file fails at the last attempt.
 * - `replan`: the service refused the request's size; the file is planned again smaller once, then fails.
 * - `fail_file`: the file fails at once with the code; the run goes on.
 * - `stop_run`: nothing else can succeed (a bad key); the file fails and the run stops.
 * - `refuse`: a command, flag or request refused before any job runs; a job that meets one fails its file.
 * - `result`: not a failure of the job: a row of the report (`not_run`) or a recorded verdict.
 */
export type QueueBehaviour = 'wait' | 'retry' | 'replan' | 'fail_file' | 'stop_run' | 'refuse' | 'result';

export interface FailureCodeInfo {
  queue: QueueBehaviour;
  /** false: the provider refused the request at the door and counted no tokens of the quota for it */
  billed?: false;
  /** what happened, one line */
  meaning: string;
  /** what to do about it */
  action: string;
}

export const FAILURE_CODES = {
  // --- media: the file itself (one bad file never stops a run) ---
  media_unreadable: {
    queue: 'fail_file',
    meaning: 'ffprobe cannot read the file (corrupt, not media)',
    action: 'the file is listed in `failures.jsonl`; the run goes on',
  },
  media_empty: { queue: 'fail_file', meaning: 'the file has no decodable samples', action: 'nothing to caption' },
  media_too_short: { queue: 'fail_file', meaning: 'the media lasts under 0.1 s', action: 'nothing to caption' },
  media_no_audio: { queue: 'fail_file', meaning: 'an audio task on a file with no audio track (e.g. a silent video)', action: 'use `describe` for video' },
  media_unsupported_container: {
    queue: 'fail_file',
    meaning: "the file's container is not on the demuxer allow-list (a playlist, a list of files, a picture: the message says which)",
    action: 'convert it to a common format (wav, flac, mp3, m4a, mp4, webm, ...)',
  },
  media_too_large: {
    queue: 'fail_file',
    meaning: 'the object is larger than `OMNIBATCH_MAX_DOWNLOAD_BYTES`',
    action: 'raise the limit if the file is genuine',
  },
  media_too_long: {
    queue: 'fail_file',
    meaning: 'the media lasts longer than `OMNIBATCH_MAX_MEDIA_SECONDS`',
    action: 'raise the limit if the file is genuine',
  },
  media_too_many_pixels: { queue: 'fail_file', meaning: 'a video frame larger than `OMNIBATCH_MAX_PIXELS`', action: 'raise the limit if the file is genuine' },
  media_too_costly: {
    queue: 'fail_file',
    meaning:
      'decoding the video would cost more than a file may: over `OMNIBATCH_MAX_PIXELS_PER_SECOND`, past the child ceiling, or out of the child memory limit (`OMNIBATCH_CHILD_MAX_MEMORY_MB`)',
    action: 'raise the limit if the file is genuine, or run an audio task on it',
  },
  media_suspicious: {
    queue: 'fail_file',
    meaning:
      'far more media seconds per byte than any real recording (a bomb), or timestamps that span far more than the decoded samples (a 20-h jump over 10 s of audio)',
    action: 'raise `OMNIBATCH_MAX_SECONDS_PER_BYTE` if the file is genuine; remux a file with timestamp gaps (`ffmpeg -i in -af asetpts=N/SR/TB out`)',
  },
  // --- objects a run lists but does not read: skipped with a reason (`skipped.jsonl`), never a failure ---
  excluded: {
    queue: 'result',
    meaning: "the object was left out by the user's `--exclude`, or not matched by `--include`",
    action: 'change the patterns to read it',
  },
  unchanged: {
    queue: 'result',
    meaning: 'a result of the same object (ETag) and the same settings (fingerprint) already exists: the file was not processed again',
    action: '`--force` redoes it',
  },
  not_media: {
    queue: 'result',
    meaning: 'the object is not audio or video: by its name (`.pdf`, `.jpg`, `.m3u8`, ...) or, for other names, by its content',
    action: "`--include '*.ext'` reads a name the pre-filter leaves out; the content check is final",
  },
  media_too_many_cuts: { queue: 'fail_file', meaning: 'a video plan with more cut points than one encode can take', action: 'a larger `--chunk-seconds`' },
  media_timeout: {
    queue: 'fail_file',
    meaning: 'ffmpeg or ffprobe ran past its deadline on the file',
    action: 'the file fails; check it with `omnibatch probe`',
  },
  ffmpeg_failed: {
    queue: 'fail_file',
    meaning: 'ffmpeg exited with an error while cutting or encoding',
    action: "the message has the last lines of ffmpeg's output",
  },
  ffmpeg_missing: { queue: 'fail_file', meaning: 'no ffmpeg/ffprobe binary could be run', action: 'install ffmpeg, or set `FFMPEG_PATH` / `FFPROBE_PATH`' },
  audio_invalid: { queue: 'fail_file', meaning: "a chunk's synthesised audio is not 24 kHz mono PCM16 WAV", action: 'the file fails; report it' },
  audio_write_failed: { queue: 'refuse', meaning: '`ask --audio-out` could not write the audio file', action: 'check the path and its permissions' },
  plan_impossible: {
    queue: 'fail_file',
    meaning: "no chunking fits the model's limits (e.g. a video chunk over the model's byte limit at the lowest quality)",
    action: 'choose another model, or `--chunk-seconds`',
  },
  plan_too_many_chunks: {
    queue: 'fail_file',
    meaning: 'the file would take more requests than `OMNIBATCH_MAX_CHUNKS`',
    action: 'a larger `--chunk-seconds`, or raise the limit',
  },

  // --- the model service ---
  rate_limited: {
    queue: 'wait',
    billed: false,
    meaning: '429 from the service: requests per minute',
    action: 'handled: the queue pauses for Retry-After or a backoff; no attempt is spent. Set `--rpm` to stay under your quota',
  },
  quota_exceeded: {
    queue: 'wait',
    billed: false,
    meaning: '429 from the service: tokens per minute',
    action: 'handled as `rate_limited`. Set `--tpm` to stay under your quota',
  },
  server_error: { queue: 'retry', billed: false, meaning: '5xx from the service', action: 'retried with exponential backoff and jitter' },
  timeout: {
    queue: 'retry',
    meaning: 'the service stalled (connect, first byte or idle deadline)',
    action: 'retried with exponential backoff and jitter; partial text is thrown away',
  },
  connection: {
    queue: 'retry',
    meaning: 'a connection failed or broke before an answer (reset, refused, DNS): the model service, the store or Redis',
    action: 'retried with exponential backoff and jitter',
  },
  stream_truncated: { queue: 'retry', meaning: 'a stream that ended without its final event', action: 'retried; partial text is thrown away' },
  input_too_large: {
    queue: 'replan',
    billed: false,
    meaning: "the service refused the request's size",
    action: "the file is planned again with smaller chunks; if it still fails, the file fails with the service's message",
  },
  service_invalid_request: {
    queue: 'fail_file',
    billed: false,
    meaning: "the service refused the request's parameters (a 400 not about size)",
    action: "the file fails; the message has the service's words",
  },
  content_blocked: {
    queue: 'result',
    meaning: "DataInspectionFailed: the service's content filter refused the input or output",
    action: 'recorded as `provider_blocked` (a verdict for moderation), not a failure',
  },
  auth: {
    queue: 'stop_run',
    billed: false,
    meaning: "bad key, or another region's key",
    action: 'the run stops (`stopped_error`): nothing else would succeed. Fix the key or `--region`',
  },
  arrears: { queue: 'stop_run', billed: false, meaning: 'the account is in arrears', action: 'the run stops (`stopped_error`); top up the account' },
  model_not_found: {
    queue: 'fail_file',
    billed: false,
    meaning: 'the service answered 404: it does not serve this model name on this endpoint',
    action: 'check `--model` against `omnibatch models` and the protocol',
  },
  aborted: {
    queue: 'retry',
    meaning: 'the request or child process was aborted (shutdown, a stopped run)',
    action: 'nothing: the job is handed back or the run was stopped',
  },
  service_unknown: {
    queue: 'retry',
    meaning: 'the service failed with a code we do not know, or sent a stream we cannot read',
    action: 'retried with backoff (a 4xx with an unknown code is `service_invalid_request`); report the message',
  },
  protocol_unsupported: {
    queue: 'refuse',
    meaning: 'the model cannot be called over the chosen `--protocol`',
    action: 'drop `--protocol`, or pick one the model supports',
  },
  batch_unsupported: {
    queue: 'refuse',
    meaning:
      "`--via batch` on a model, region, protocol or task the provider's Batch API does not serve (speech out, the captioner, DMXAPI, Singapore for omni models)",
    action: 'the message names what Batch serves; or `--via realtime`. Refused before anything is uploaded or spent',
  },
  batch_failed: {
    queue: 'fail_file',
    meaning:
      "the provider's Batch API failed a chunk's line for good (the batch failed validation, or the line failed or went unanswered more times than `OMNIBATCH_BATCH_MAX_RESUBMITS`)",
    action: "the file fails with the provider's message; `retry` the run, or `--via realtime`",
  },
  verdict_no_json: { queue: 'fail_file', meaning: "the model's moderation answer had no JSON object, even after one repair request", action: 'the file fails' },
  verdict_invalid_json: {
    queue: 'fail_file',
    meaning: "the model's moderation verdict was not valid JSON, even after one repair request",
    action: 'the file fails',
  },
  verdict_schema: {
    queue: 'fail_file',
    meaning: "the model's moderation verdict did not match the schema, even after one repair request",
    action: 'the file fails',
  },

  // --- storage ---
  storage_unavailable: { queue: 'retry', meaning: 'S3 503/5xx/throttling/reset, or a local disk full', action: 'retried' },
  storage_integrity: { queue: 'retry', meaning: 'a size or MD5 mismatch between what was sent and what was stored', action: 'retried' },
  storage_aborted: { queue: 'retry', meaning: 'a transfer was stopped by a shutdown', action: 'redone by the next worker' },
  storage_invalid_key: { queue: 'fail_file', meaning: 'a key no output may mirror (`..`, `./`, `//`)', action: 'the file fails; rename the object' },
  key_too_long: {
    queue: 'fail_file',
    meaning: 'with a folder destination, an output name would be over 255 bytes',
    action: 'the file fails; shorten the key, or write to S3',
  },
  storage_not_found: { queue: 'fail_file', meaning: 'a missing object or file', action: 'the file fails' },
  storage_denied: { queue: 'fail_file', meaning: 'no permission (or a symlink leaving the root)', action: 'check the credentials and the bucket policy' },
  storage_invalid_location: {
    queue: 'fail_file',
    meaning: 'a bad location string, a missing bucket or root folder',
    action: 'check the `s3://bucket/prefix` or folder',
  },
  storage_rejected: { queue: 'fail_file', meaning: 'any other 4xx from the store: the request itself is wrong', action: "the message has the store's answer" },
  source_unreadable: { queue: 'refuse', meaning: 'the source or the manifest cannot be read', action: 'check the location and permissions' },
  destination_unwritable: {
    queue: 'refuse',
    meaning: "the run's destination refused a test write before the run started",
    action: 'check the location and permissions',
  },
  staging_missing: {
    queue: 'retry',
    meaning: "a file's staged chunk results are incomplete when it is finalized",
    action: 'retried; the missing chunks are redone',
  },

  // --- the run ---
  stopped_budget: {
    queue: 'result',
    meaning: 'on a `not_run` row: the run reached its budget before the file was processed',
    action: 'a new run with a higher `--budget` (finished files are skipped, nothing is paid twice)',
  },
  stopped_cancelled: { queue: 'result', meaning: 'on a `not_run` row: the run was cancelled before the file was processed', action: '`retry` the run' },
  stopped_auth: {
    queue: 'result',
    meaning: 'on a `not_run` row: the run stopped on `auth`/`arrears` before the file was processed',
    action: 'fix the key or account, then `retry`',
  },
  stopped_error: {
    queue: 'result',
    meaning: 'on a `not_run` row: the run stopped on an error before the file was processed',
    action: 'fix the cause, then `retry`',
  },
  run_stopped: { queue: 'fail_file', meaning: 'the run was stopped while the file was being prepared', action: 'nothing: the file ends `not_run`' },
  run_not_found: { queue: 'refuse', meaning: 'no run with this id (or it has expired)', action: 'check the id with `omnibatch runs`' },
  file_not_found: { queue: 'refuse', meaning: 'the run has no file with this id (or its state has expired)', action: 'open the run again from the runs page' },
  review_no_verdict: {
    queue: 'refuse',
    meaning: 'a review decision on a file with no moderation verdict (failed, skipped or not moderated)',
    action: 'review the files the review page lists',
  },
  review_invalid: {
    queue: 'refuse',
    meaning: 'a review decision that is not `confirm` or `clear` (or a note over 2000 characters)',
    action: 'send `{"decision": "confirm"|"clear", "note": "..."}`',
  },
  media_source_unavailable: {
    queue: 'refuse',
    meaning: "the dashboard's player could not read the file from the run's source",
    action: 'check that the dashboard can read the source with the same credentials as the workers',
  },
  worker_lost: {
    queue: 'fail_file',
    meaning: "the file's job crashed or was killed more times than BullMQ allows (`maxStalledCount`)",
    action: 'look for out-of-memory kills; `retry`',
  },
  worker_shutdown: { queue: 'retry', meaning: 'the worker shut down before the job finished', action: 'nothing: another worker takes the job' },
  budget_unpriced: {
    queue: 'fail_file',
    meaning:
      'a budget cannot bound a request whose model/region has no published price for what the task sends (video for moderate and describe): refused before the run starts',
    action: 'add prices with `--pricing`',
  },
  cost_currency_mismatch: {
    queue: 'fail_file',
    meaning: 'costs in two currencies cannot be added',
    action: 'use one region (or one pricing file currency) per run',
  },
  deadline_invalid: { queue: 'refuse', meaning: 'a `--deadline` that is not a duration or a time', action: 'e.g. `--deadline 2h` or an ISO time' },
  deadline_unreachable: {
    queue: 'refuse',
    meaning: 'no concurrency within the quota finishes the run by `--deadline`',
    action: 'a later deadline, a higher `--rpm`/`--tpm`, or fewer files',
  },
  manifest_invalid: { queue: 'fail_file', meaning: 'a manifest line is not a key or URI', action: 'the message names the line' },
  manifest_outside_source: { queue: 'fail_file', meaning: "a manifest entry is not under the run's source", action: 'list only objects under the source' },
  invalid_task: { queue: 'refuse', meaning: 'an unknown `--task`', action: 'caption, transcribe, moderate, describe, speak or custom' },
  model_unknown: {
    queue: 'refuse',
    meaning: 'a `--model` neither the built-in catalogue nor a catalog file has',
    action: 'one of `omnibatch models`, or add the printed entry to a catalog file (`--catalog`, `OMNIBATCH_CATALOG`)',
  },
  voice_unsupported: {
    queue: 'refuse',
    meaning: "a `--voice` not on the model's complete voice list for that protocol: the service would refuse every request",
    action: 'one of the voices the message names',
  },

  // --- settings, processes, surfaces ---
  invalid_argument: {
    queue: 'refuse',
    meaning: 'a flag or argument omnibatch refused before sending anything (e.g. `--prompt` to a model that takes none)',
    action: 'the message names the flag',
  },
  config_invalid: { queue: 'refuse', meaning: 'a bad setting', action: 'the message lists every bad setting' },
  catalog_invalid: { queue: 'refuse', meaning: 'a catalog file (`--catalog`) that is not valid', action: 'the message lists every bad field' },
  redis_unavailable: { queue: 'refuse', meaning: '`demo` found no Redis and could not start one', action: 'install Redis or set `REDIS_URL`' },
  listen_failed: { queue: 'refuse', meaning: 'a server (metrics, dashboard, emulator) could not listen on its port', action: 'pick a free port' },
  internal: {
    queue: 'fail_file',
    meaning:
      'an error without a code: a bug (TypeError, RangeError, ...) or corrupt data such as a damaged staged result. Never retried: the same code on the same data fails the same way',
    action: 'report the message; `retry` the run once fixed',
  },
  webhook_unsigned: {
    queue: 'refuse',
    meaning: '`--notify-url` without `OMNIBATCH_WEBHOOK_SECRET`',
    action: 'set the secret (and verify signatures at the receiver), or `--allow-unsigned-webhooks`',
  },
  no_worker: {
    queue: 'refuse',
    meaning: '`run --wait` saw no worker of any stage for `--worker-grace` seconds: it stopped waiting (the run is intact)',
    action: 'start `omnibatch worker`; the run goes on where it was (`omnibatch status <runId>`)',
  },
  webhook_credentials_in_url: {
    queue: 'refuse',
    meaning: '`--notify-url` carries `user:password@`: no request can be sent to it (and it would be stored)',
    action: 'drop the credentials: the receiver verifies the signature, or put a token in the path',
  },
  webhook_failed: {
    queue: 'retry',
    meaning: 'the webhook receiver answered 408/429/5xx or could not be reached',
    action: 'retried by the `notify` queue with backoff (Retry-After honoured); after its attempts, the notification is dropped',
  },
  webhook_refused: { queue: 'fail_file', meaning: 'the webhook receiver answered another non-2xx status', action: 'not retried: fix the receiver' },
  dashboard_auth_required: {
    queue: 'refuse',
    meaning: '`dashboard --host` beyond loopback with no credentials',
    action: '`--auth-token` or `--basic-auth`, or bind 127.0.0.1',
  },
  dashboard_auth_invalid: { queue: 'refuse', meaning: '`--basic-auth` is not `user:password`', action: 'give both, separated by a colon' },
  dashboard_unauthorized: { queue: 'refuse', meaning: 'the dashboard asked a request for its credentials (401)', action: 'send the token or basic auth' },
  host_not_allowed: { queue: 'refuse', meaning: 'the dashboard refused a request for an unknown Host', action: "`--allowed-host NAME` for a proxy's name" },
  csrf_origin_mismatch: { queue: 'refuse', meaning: 'the dashboard refused a mutation from another origin', action: "act from the dashboard's own pages" },
  dashboard_read_only: {
    queue: 'refuse',
    meaning: 'the dashboard refused a mutation without `--allow-actions`',
    action: '`--allow-actions` to act from the board',
  },
} as const satisfies Record<string, FailureCodeInfo>;

export type FailureCode = keyof typeof FAILURE_CODES;

export function isFailureCode(code: string): code is FailureCode {
  return Object.hasOwn(FAILURE_CODES, code);
}

/** What the queue does with the code (the table's `queue`). */
export function queueBehaviour(code: FailureCode): QueueBehaviour {
  // a code from another version of the table (a job enqueued by an older worker) fails its file, as `internal` does
  return (FAILURE_CODES[code] as FailureCodeInfo | undefined)?.queue ?? 'fail_file';
}

/** Whether trying again can help: only rate limits (waited for) and weather (backed off). */
export function retryableCode(code: FailureCode): boolean {
  const q = queueBehaviour(code);
  return q === 'wait' || q === 'retry';
}

/** True when the provider spent no tokens of the quota on a request that failed with the code. */
export function spentNoTokens(code: FailureCode): boolean {
  return (FAILURE_CODES[code] as FailureCodeInfo | undefined)?.billed === false;
}

const escapeCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const QUEUE_WORDS: Record<QueueBehaviour, string> = {
  wait: 'waits (no attempt spent)',
  retry: 'retries with backoff',
  replan: 're-plans smaller once',
  fail_file: 'fails the file',
  stop_run: 'stops the run',
  refuse: 'refused up front',
  result: 'recorded, not a failure',
};

/** The README's table, one row per code in the table's order. */
export function failureCodesTable(): string {
  const rows = (Object.entries(FAILURE_CODES) as [FailureCode, FailureCodeInfo][]).map(([code, c]) => {
    return `| \`${code}\` | ${QUEUE_WORDS[c.queue]} | ${escapeCell(c.meaning)} | ${escapeCell(c.action)} |`;
  });
  return ['| code | what the queue does | what happened | what to do |', '|---|---|---|---|', ...rows].join('\n');
}

export const CODES_BEGIN = '<!-- failure-codes:begin (generated from src/util/failure-codes.ts by `npm run docs:codes`) -->';
export const CODES_END = '<!-- failure-codes:end -->';

/** README text with the table between the markers replaced by the generated one. */
export function withFailureCodesTable(readme: string): string {
  const begin = readme.indexOf(CODES_BEGIN);
  const end = readme.indexOf(CODES_END);
  if (begin < 0 || end < begin) throw new Error('README.md has no failure-codes markers');
  return `${readme.slice(0, begin + CODES_BEGIN.length)}\n${failureCodesTable()}\n${readme.slice(end)}`;
}
