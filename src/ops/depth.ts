/**
 * Queue depth and work left, for autoscalers (KEDA, HPA on Prometheus, `docker compose --scale`): what is
 * waiting in each queue and how long the running runs still need at their current pace. The arithmetic is
 * pure (`queueDepth`, `runWorkLeft`); `readDepth` is the thin Redis adapter a scrape calls.
 */
import type { Queue } from 'bullmq';
import { STAGES, type Stage } from '../jobs/catalog.ts';
import type { Queues } from '../jobs/queues.ts';
import type { RunStore } from '../runs/store.ts';
import type { RunState } from '../runs/types.ts';

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export interface RunWorkLeft {
  runId: string;
  filesLeft: number;
  /** predicted seconds until the run ends at its pace so far; NaN until a file has ended and no plan says */
  secondsLeft: number;
}

export interface DepthSnapshot {
  queues: Record<Stage, Record<QueueState, number>>;
  runs: RunWorkLeft[];
}

export function emptyDepth(): DepthSnapshot {
  const zero = (): Record<QueueState, number> => ({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  return { queues: Object.fromEntries(STAGES.map((s) => [s, zero()])) as DepthSnapshot['queues'], runs: [] };
}

/** BullMQ's job counts -> the four gauges: prioritized jobs wait too (they sit in a sorted set, not the wait list). */
export function queueDepth(counts: Record<string, number>): Record<QueueState, number> {
  return {
    waiting: (counts.wait ?? counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts['waiting-children'] ?? 0),
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    failed: counts.failed ?? 0,
  };
}

/**
 * Files not yet ended, and the seconds they need at the run's pace so far (elapsed x left / ended). Before
 * the first file ends, a --deadline run's predicted finish stands in; otherwise the pace is unknown (NaN).
 */
export function runWorkLeft(state: Pick<RunState, 'spec' | 'counts'>, now: Date): RunWorkLeft {
  const { total, terminal } = state.counts;
  const filesLeft = Math.max(0, total - terminal);
  const elapsedS = Math.max(0, (now.getTime() - Date.parse(state.spec.createdAt)) / 1000);
  let secondsLeft = Number.NaN;
  if (filesLeft === 0) secondsLeft = 0;
  else if (terminal > 0) secondsLeft = (elapsedS * filesLeft) / terminal;
  else if (state.spec.predictedFinishAt) secondsLeft = Math.max(0, (Date.parse(state.spec.predictedFinishAt) - now.getTime()) / 1000);
  return { runId: state.spec.runId, filesLeft, secondsLeft };
}

const LIVE: readonly RunState['status'][] = ['running', 'stopping'];

/** One scrape's snapshot: every queue's counts and every live run among the latest `maxRuns`. */
export async function readDepth(deps: { queues: Queues; runs: RunStore }, opts: { maxRuns?: number; now?: Date } = {}): Promise<DepthSnapshot> {
  const snap = emptyDepth();
  await Promise.all(
    STAGES.map(async (stage) => {
      const q = deps.queues[stage] as unknown as Queue;
      snap.queues[stage] = queueDepth(await q.getJobCounts('wait', 'prioritized', 'waiting-children', 'active', 'delayed', 'failed'));
    }),
  );
  const ids = await deps.runs.listRuns(opts.maxRuns ?? 50);
  const states = await Promise.all(ids.map((id) => deps.runs.state(id)));
  const now = opts.now ?? new Date();
  for (const s of states) if (s && LIVE.includes(s.status)) snap.runs.push(runWorkLeft(s, now));
  return snap;
}
