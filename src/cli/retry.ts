/** `omnibatch retry <runId>`: the failed and not-run files again, in the same run (a stopped run goes on too). */
import type { Command } from 'commander';
import type { Context } from '../app/context.ts';
import { jobIds, type PreparePayload, STAGES } from '../jobs/catalog.ts';
import { runCommand, withContext } from './common.ts';
import { waitWithWorkers } from './wait.ts';
import { noWorkerHint, workersAlive } from './workers-alive.ts';

/**
 * Reopens the run's failed and not-run files (and clears its stop reason) and enqueues each at a new generation
 * of the file (the one counter `retry` and re-planning share: fresh job ids, staging and ledger keys). Files
 * still pending from an interrupted earlier retry are enqueued again at their current generation (same job ids).
 */
export async function retryRun(ctx: Context, runId: string): Promise<{ reopened: number; requeued: number }> {
  const { reopened, pending } = await ctx.runs.reopen(runId);
  const jobs: { name: 'prepare'; data: PreparePayload; opts: { jobId: string } }[] = [];
  const add = async (fileId: string, generation: number) => {
    const f = await ctx.runs.file(runId, fileId);
    if (f)
      jobs.push({
        name: 'prepare',
        data: { runId, fileId, key: f.key, etag: f.etag, size: f.size, generation },
        opts: { jobId: jobIds.prepare(runId, fileId, generation) },
      });
  };
  for (const { fileId, generation } of reopened) await add(fileId, generation);
  for (const fileId of pending) await add(fileId, await ctx.runs.generation(runId, fileId));
  if (jobs.length) await ctx.queues.prepare.addBulk(jobs);
  return { reopened: reopened.length, requeued: pending.length };
}

export function register(program: Command): void {
  runCommand(program, 'retry', 'process the failed and not-run files of a run again (same run, same report; a stopped run goes on)')
    .option('--wait', 'stay until the run ends (runs workers in this process when none is running)')
    .action(async (runId: string, f: { wait?: boolean }, cmd: Command) => {
      const code = await withContext(cmd, {}, async (ctx) => {
        const { reopened, requeued } = await retryRun(ctx, runId);
        process.stdout.write(`${reopened} failed file(s) queued again in run ${runId}${requeued ? ` (and ${requeued} still pending)` : ''}\n`);
        if (!f.wait) {
          if ((reopened || requeued) && (await workersAlive(ctx, STAGES)) === 0) process.stderr.write(`${noWorkerHint('they stay queued', 'retry')}\n`);
          return 0;
        }
        return waitWithWorkers(ctx, runId, STAGES);
      });
      process.exitCode = code;
    });
}
