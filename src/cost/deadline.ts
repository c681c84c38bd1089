/**
 * `--deadline`: pick the run's chunk length so the whole run fits the deadline with the most detail that
 * still finishes. Pure: the files' durations, the account's limits and two instants in, a plan (or a coded
 * refusal naming the earliest achievable finish) out.
 *
 * Why chunk length is the lever: every chunk is one request, so halving the chunk doubles the requests
 * (RPM binds short chunks), while the audio tokens stay the same whatever the chunk length (TPM binds a
 * run in long chunks: only the per-request prompt and output shrink). So the planner walks a ladder from
 * the task's own length (most detail) up to the longest chunk the model accepts and takes the first rung
 * whose predicted wall time ends before the deadline. When even the fastest rung is late, no chunk length
 * can help and the run is refused before anything is sent.
 */
import { findModel } from '../models/catalog.ts';
import { TASK_SPECS } from '../tasks/catalog.ts';
import { OmniError } from '../util/errors.ts';
import { type Estimate, type EstimateFile, type EstimateOptions, estimateRun } from './estimate.ts';

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * `8h`, `90m`, `1h30m`, `2d` (from now); `06:00` or `6:30` (the next such local wall-clock time); or an ISO
 * date-time (`2026-12-02T06:00:00Z`). A deadline that is not in the future is refused.
 */
export function parseDeadline(text: string, now: Date): Date {
  const t = text.trim();
  const bad = (why: string) => new OmniError('deadline_invalid', `--deadline ${JSON.stringify(text)}: ${why}`);
  let at: Date | undefined;
  if (/^(\d+(\.\d+)?[smhd])+$/i.test(t)) {
    let s = 0;
    for (const m of t.toLowerCase().matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) s += Number(m[1]) * UNIT_S[m[2]];
    at = new Date(now.getTime() + s * 1000);
  } else if (/^\d{1,2}:\d{2}$/.test(t)) {
    const [h, min] = t.split(':').map(Number);
    if (h > 23 || min > 59) throw bad('not a time of day');
    at = new Date(now);
    at.setHours(h, min, 0, 0);
    if (at.getTime() <= now.getTime()) at.setDate(at.getDate() + 1); // 06:00 at 22:00 means tomorrow morning
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(t)) {
    at = new Date(t);
    if (Number.isNaN(at.getTime())) throw bad('not a valid date-time');
  } else {
    throw bad('expected a duration (8h, 90m, 1h30m), a time of day (06:00) or an ISO date-time');
  }
  if (at.getTime() <= now.getTime()) throw bad('it is already past');
  return at;
}

/** The longest chunk one request of this model may carry for the task, in seconds. */
export function longestChunkS(model: string, task: EstimateOptions['task'], promptTokens = 0): number {
  const spec = findModel(model);
  if (!spec) throw new OmniError('model_unknown', `unknown model: ${model}`);
  const media =
    TASK_SPECS[task].media === 'video' && spec.limits.video
      ? spec.limits.video.maxSeconds
      : (spec.limits.audio?.maxSeconds ?? spec.limits.video?.maxSeconds ?? 3600);
  // The input-token ceiling, minus the prompt, at the model's audio rate (video adds frames: the media limit is tighter).
  const byTokens = Math.floor((spec.limits.maxInputTokens - promptTokens) / spec.tokens.audioTokensPerSecond);
  return Math.max(1, Math.min(media, byTokens));
}

/** Chunk lengths to try, shortest first: the shortest, then x1.5, x2, x3, ... of it, capped by and ending at the longest. */
export function chunkLadder(shortestS: number, longestS: number): number[] {
  if (shortestS >= longestS) return [longestS];
  const out: number[] = [];
  for (const f of [1, 1.5, 2, 3, 4, 6, 8, 10, 15, 20, 30, 40, 60, 80, 120, 160, 240, 360]) {
    const s = Math.round(shortestS * f);
    if (s >= longestS) break;
    out.push(s);
  }
  out.push(longestS);
  return out;
}

export interface DeadlineOptions extends EstimateOptions {
  deadline: Date;
  now: Date;
  /** the most detail wanted (default: the task's own chunk length) */
  shortestS?: number;
}

export interface DeadlineRung {
  chunkSeconds: number;
  requests: number;
  wallSeconds: number;
  binding: Estimate['wall']['binding'];
}

export interface DeadlinePlan {
  deadline: Date;
  chunkSeconds: number;
  /** the task's own (or the user's) chunk length: what the run would use without a deadline */
  shortestS: number;
  /** true when the deadline forced longer chunks than shortestS */
  lengthened: boolean;
  estimate: Estimate;
  predictedFinish: Date;
  /** every rung tried, shortest first, up to the chosen one */
  tried: DeadlineRung[];
  /** one sentence for the user */
  note: string;
}

/** Each file in equal parts of at most `chunkS` (what the media planner aims at, before it moves cuts to silences). */
function atChunkLength(files: readonly EstimateFile[], chunkS: number): EstimateFile[] {
  return files.map((f) => ({
    ...(f.uri !== undefined && { uri: f.uri }),
    durationS: f.durationS,
    chunks: Math.max(1, Math.ceil(f.durationS / chunkS)),
    ...(f.hasAudio !== undefined && { hasAudio: f.hasAudio }),
    ...(f.video && { video: f.video }),
  }));
}

export function planForDeadline(files: readonly EstimateFile[], opts: DeadlineOptions): DeadlinePlan {
  const { deadline, now, shortestS: wanted, ...est } = opts;
  const budgetS = (deadline.getTime() - now.getTime()) / 1000;
  const longest = longestChunkS(est.model, est.task);
  const shortestS = Math.min(longest, wanted ?? TASK_SPECS[est.task].policy.targetS);
  const tried: DeadlineRung[] = [];
  let fastest: { rung: DeadlineRung; estimate: Estimate } | undefined;
  for (const chunkSeconds of chunkLadder(shortestS, longest)) {
    const estimate = estimateRun(atChunkLength(files, chunkSeconds), est);
    const rung = { chunkSeconds, requests: estimate.requests, wallSeconds: estimate.wall.seconds, binding: estimate.wall.binding };
    tried.push(rung);
    if (!fastest || rung.wallSeconds < fastest.rung.wallSeconds) fastest = { rung, estimate };
    if (rung.wallSeconds <= budgetS) {
      const lengthened = chunkSeconds > shortestS;
      const first = tried[0];
      return {
        deadline,
        chunkSeconds,
        shortestS,
        lengthened,
        estimate,
        tried,
        predictedFinish: new Date(now.getTime() + rung.wallSeconds * 1000),
        note: lengthened
          ? `${shortestS}-s chunks would take ${formatSpan(first.wallSeconds)} (bound by ${first.binding}): ${chunkSeconds}-s chunks finish in ${formatSpan(rung.wallSeconds)}, before the deadline`
          : `${chunkSeconds}-s chunks (the most detail) finish in ${formatSpan(rung.wallSeconds)}, before the deadline`,
      };
    }
  }
  const earliest = new Date(now.getTime() + fastest!.rung.wallSeconds * 1000);
  throw new OmniError(
    'deadline_unreachable',
    `no chunk length finishes by ${deadline.toISOString()}: the earliest achievable finish is ${earliest.toISOString()} ` +
      `(${fastest!.rung.chunkSeconds}-s chunks, ${formatSpan(fastest!.rung.wallSeconds)}, bound by ${fastest!.rung.binding})`,
    {
      details: {
        deadline: deadline.toISOString(),
        earliest_finish: earliest.toISOString(),
        chunk_seconds: fastest!.rung.chunkSeconds,
        binding: fastest!.rung.binding,
      },
    },
  );
}

/** A span for a sentence: "2 h 5 min", "40 min", "12 s" (under a minute, as a Batch fallback in a test sees it). */
export function formatSpan(s: number): string {
  if (s < 59.5) return `${Math.max(0, Math.round(s))} s`;
  const h = Math.floor(s / 3600);
  const m = Math.round((s - h * 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${Math.max(1, m)} min`;
}
