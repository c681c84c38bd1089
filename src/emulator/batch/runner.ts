/**
 * One batch's life: `validating` (the input file checked, validate.ts) -> `failed`, or `in_progress` (each
 * line answered by the real-time chat logic as a whole, non-streaming `chat.completion`, the lines started
 * evenly over the in-progress time) -> `finalizing` -> `completed`; or, part-way, `expired` (a fault) or
 * `cancelling` -> `cancelled` (the lines already running finish first). Every successful line is billed
 * at once into `/stats` `batch` (so a cancelled or expired batch bills what it did); the output and error
 * files are registered when the batch ends.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Region } from '../../models/catalog.ts';
import { apiErrors } from '../errors.ts';
import { faultError } from '../faults.ts';
import { type BatchMode, chatBody, type HandlerEnv, prepareAnswer } from '../handle.ts';
import { pause } from '../sink.ts';
import { addBilled } from '../stats.ts';
import { type ApiError, isApiError } from '../types.ts';
import { type BatchLimits, batchServed, TEST_MODEL } from './contract.ts';
import { batchLineRefusal, errorLine, type NotRunCode, notRunLine, outputLine, testModelBody } from './lines.ts';
import type { BatchTiming } from './options.ts';
import { type BatchRecord, type BatchStore, JsonlWriter, nowS } from './store.ts';
import { InputFileValidator } from './validate.ts';

export interface RunnerEnv {
  handler: HandlerEnv;
  store: BatchStore;
  region: Region;
  limits: BatchLimits;
  timing: BatchTiming;
  /** the Batch faults' own PRNG */
  rand: () => number;
  /** aborted when the emulator closes */
  signal: AbortSignal;
}

/** Reads a file's lines one at a time (a 500 MB file never sits in memory). */
async function* fileLines(at: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(at, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    yield* rl;
  } finally {
    rl.close();
  }
}

async function validate(env: RunnerEnv, rec: BatchRecord, inputPath: string): Promise<ReturnType<InputFileValidator['finish']>> {
  const v = new InputFileValidator(env.region, rec.object.endpoint, env.limits);
  let n = 0;
  for await (const text of fileLines(inputPath)) v.line(text, ++n);
  return v.finish((await stat(inputPath)).size);
}

/** Answers one line: the test model's fixed text, or the real-time logic; an injected fault first. */
async function answerLine(env: RunnerEnv, rec: BatchRecord, model: string, text: string): Promise<{ body: Record<string, unknown> } | ApiError> {
  const lines = rec.faults.failLines;
  if (lines && env.rand() < lines.share) return faultError(lines.kind, model, undefined) ?? apiErrors.internal();
  const row = JSON.parse(text) as { body: Record<string, unknown> };
  if (model === TEST_MODEL) return { body: testModelBody(model) };
  const mode: BatchMode = { check: batchLineRefusal, maxInputTokens: batchServed(env.region, model)?.maxInputTokens };
  const prepared = await prepareAnswer(env.handler, 'chat', row.body, () => undefined, mode);
  if (isApiError(prepared)) return prepared;
  addBilled(env.handler.stats().batch.billed, prepared.spec.id, prepared.ctx.answer.billed);
  return { body: chatBody(prepared.ctx) };
}

export async function runBatch(env: RunnerEnv, rec: BatchRecord, inputPath: string): Promise<void> {
  const b = rec.object;
  const { timing } = env;
  const wait = (ms: number) => pause(ms, env.signal);
  if (!(await wait(timing.validatingMs))) return;
  // a cancel before the batch is in progress takes the provider's cancelling time too (it never starts)
  const cancelledEarly = async () => ((await wait(timing.cancellingMs)) ? end(env, rec, 'cancelled', [], undefined, undefined) : undefined);
  if (b.status === 'cancelling') return cancelledEarly();

  const checked = rec.faults.validation
    ? {
        ok: false as const,
        errors: [{ code: 'invalid_input_file', message: 'Injected validation failure (x-emulator-batch-fault).', param: null, line: null }],
      }
    : await validate(env, rec, inputPath);
  if (!checked.ok) {
    b.errors = { object: 'list', data: checked.errors };
    return end(env, rec, 'failed', [], undefined, undefined);
  }
  // a cancel that came while the file was being validated: the batch never starts (it was not in progress)
  if ((b.status as string) === 'cancelling') return cancelledEarly();
  const { model, customIds } = checked;
  const total = customIds.length;
  b.status = 'in_progress';
  b.in_progress_at = nowS();
  b.expires_at = b.created_at + rec.windowHours * 3600;
  b.request_counts.total = total;

  const output = new JsonlWriter(await env.store.newPath());
  const errors = new JsonlWriter(await env.store.newPath());
  const started = new Set<number>();
  const expireAt = rec.faults.expireAfter === undefined ? undefined : Math.floor(rec.faults.expireAfter * total);
  // Read through a function: a cancel request changes the status while this runs.
  const cancelling = (): boolean => (b.status as string) === 'cancelling';
  const stopping = () => cancelling() || (expireAt !== undefined && started.size >= expireAt) || env.signal.aborted;
  const t0 = Date.now();
  const running = new Set<Promise<void>>();
  let index = -1;
  for await (const text of fileLines(inputPath)) {
    if (text.trim() === '') continue;
    index++;
    while (running.size >= timing.concurrency) await Promise.race(running);
    const due = t0 + (timing.inProgressMs * index) / total - Date.now();
    // a cancel ends the wait for the next line's turn: the lines not started are not waited for
    if (due > 0 && !(await waitUnless(due, cancelling, wait))) return;
    if (stopping()) break;
    started.add(index);
    const customId = customIds[index];
    // An emulator failure inside a line (not a documented outcome) refuses that line with a 500.
    const answered = answerLine(env, rec, model, text).catch(() => apiErrors.internal());
    const task = answered.then(async (r) => {
      const stats = env.handler.stats().batch;
      if (isApiError(r)) {
        b.request_counts.failed++;
        stats.lines.failed++;
        await errors.write(errorLine(customId, r));
      } else {
        b.request_counts.completed++;
        stats.lines.completed++;
        await output.write(outputLine(customId, String(r.body.id).replace(/^chatcmpl-/, ''), r.body));
      }
    });
    // Never rejects: after a close nobody awaits it.
    const tracked: Promise<void> = task.catch(() => undefined).finally(() => running.delete(tracked));
    running.add(tracked);
  }
  await Promise.all(running);
  if (env.signal.aborted) return;
  const notRun = customIds.filter((_, i) => !started.has(i));
  if (cancelling()) {
    if (!(await wait(timing.cancellingMs))) return;
    return end(env, rec, 'cancelled', notRun, output, errors);
  }
  if (notRun.length > 0) return end(env, rec, 'expired', notRun, output, errors);
  const rest = t0 + timing.inProgressMs - Date.now();
  if (rest > 0 && !(await waitUnless(rest, cancelling, wait))) return;
  // A cancel that came after the last line started still ends the batch as cancelled (nothing is left to skip).
  if (!cancelling()) {
    b.status = 'finalizing';
    b.finalizing_at = nowS();
    if (!(await wait(timing.finalizingMs))) return;
  } else if (!(await wait(timing.cancellingMs))) return;
  return end(env, rec, cancelling() ? 'cancelled' : 'completed', [], output, errors);
}

/** Waits `ms`, or less once `stop()` holds (looked at every 50 ms); false when the emulator closes. */
async function waitUnless(ms: number, stop: () => boolean, wait: (ms: number) => Promise<boolean>): Promise<boolean> {
  const end = Date.now() + ms;
  for (let left = ms; left > 0 && !stop(); left = end - Date.now()) if (!(await wait(Math.min(50, left)))) return false;
  return true;
}

const NOT_RUN: Partial<Record<string, NotRunCode>> = { expired: 'batch_expired', cancelled: 'batch_cancelled' };

/** The final status: the lines never run go to the error file; each file is registered if it has a line. */
async function end(
  env: RunnerEnv,
  rec: BatchRecord,
  status: 'completed' | 'failed' | 'expired' | 'cancelled',
  notRun: readonly string[],
  output: JsonlWriter | undefined,
  errors: JsonlWriter | undefined,
): Promise<void> {
  const b = rec.object;
  const code = NOT_RUN[status];
  if (errors && code) for (const id of notRun) await errors.write(notRunLine(id, code));
  const stats = env.handler.stats().batch;
  stats.lines.notRun += notRun.length;
  for (const [w, prefix, key] of [
    [output, 'file-batch_output', 'output_file_id'],
    [errors, 'file-batch_error', 'error_file_id'],
  ] as const) {
    if (!w) continue;
    await w.close();
    if (w.lines > 0) b[key] = (await env.store.addFile(w.path, `${b.id}_${key.replace('_file_id', '')}.jsonl`, 'batch_output', prefix)).id;
  }
  b.status = status;
  b[`${status}_at`] = nowS();
  stats.batches[status] = (stats.batches[status] ?? 0) + 1;
}
