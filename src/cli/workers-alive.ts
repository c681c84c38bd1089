/**
 * Whether any worker is listening (BullMQ's Queue.getWorkers: the clients its workers registered in Redis), so
 * a command that enqueues work says so when nothing will pick it up, instead of leaving a run at `running 0/0`.
 * `--wait` commands start workers in their own process then (the way `run --wait` always has).
 */

import type { Context } from '../app/context.ts';
import type { Stage } from '../jobs/catalog.ts';
import { type RunningWorkers, startWorkers, type WorkerOptions } from '../workers/index.ts';

/** The stages a command's work goes through: a run needs them all; a cancel only the report. */
export async function workersAlive(ctx: Pick<Context, 'queues'>, stages: readonly Stage[]): Promise<number> {
  const counts = await Promise.all(stages.map(async (s) => (await ctx.queues[s].getWorkers()).length));
  return counts.reduce((a, b) => a + b, 0);
}

/** The hint printed when nothing is listening: what will not happen, and the two ways to make it happen. */
export function noWorkerHint(what: string, command: string): string {
  return `no worker is running: ${what} until one starts (omnibatch worker); omnibatch ${command} --wait processes it in this process`;
}

/** With no worker alive, workers in this process for the time of the wait (closed by the caller). */
export async function workersForWait(ctx: Context, stages: readonly Stage[], opts: WorkerOptions = {}): Promise<RunningWorkers | undefined> {
  if ((await workersAlive(ctx, stages)) > 0) return undefined;
  ctx.log.info('no worker running: processing in this process');
  return startWorkers(ctx, opts);
}
