/** `omnibatch cancel <runId> [--wait]`: no new requests; pending files end as not run; the report is written. */
import type { Command } from 'commander';
import { STAGES } from '../jobs/catalog.ts';
import { cancelRunBatches } from '../lifecycle/batches.ts';
import { finishNotRun } from '../lifecycle/file-state.ts';
import { runCommand, withContext } from './common.ts';
import { waitWithWorkers } from './wait.ts';
import { noWorkerHint, workersAlive } from './workers-alive.ts';

export function register(program: Command): void {
  runCommand(program, 'cancel', 'stop a run: pending files end as not run (in-flight requests finish)')
    .option('--wait', 'stay until the run has ended and its report is written (runs a report worker in this process when none is running)')
    .action(async (runId: string, f: { wait?: boolean }, cmd: Command) => {
      const code = await withContext(cmd, {}, async (ctx) => {
        await ctx.runs.stop(runId, 'cancelled', 'cancelled by the user');
        let n = 0;
        for await (const [fileId, file] of ctx.runs.files(runId)) {
          if (file.status !== 'pending') continue;
          await finishNotRun(ctx, runId, fileId, 'cancelled');
          n++;
        }
        // the run's batches at the provider too: nothing more is answered (nor billed) after the user said stop
        const batches = await cancelRunBatches(ctx, runId);
        process.stdout.write(
          `run ${runId} cancelled: ${n} pending file(s) marked not run${batches.length ? `; batches cancelled: ${batches.join(', ')}` : ''}\n`,
        );
        // The run ends when its report is written, by a worker: also the jobs still queued (a scan not yet run, a
        // prepare) must run to end their files as not run, so every stage is needed, not the report's alone.
        if (!f.wait) {
          if ((await workersAlive(ctx, STAGES)) === 0) process.stderr.write(`${noWorkerHint(`run ${runId} stays "stopping"`, 'cancel')}\n`);
          return 0;
        }
        return waitWithWorkers(ctx, runId, STAGES);
      });
      process.exitCode = code;
    });
}
