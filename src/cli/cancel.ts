/** `omnibatch cancel <runId>`: no new requests; pending files end as not run; the report is written. */
import type { Command } from 'commander';
import { finishNotRun } from '../lifecycle/file-state.ts';
import { cancelRunBatches } from '../lifecycle/batches.ts';
import { withContext, runCommand } from './common.ts';

export function register(program: Command): void {
  runCommand(program, 'cancel', 'stop a run: pending files end as not run (in-flight requests finish)').action(
    async (runId: string, _f: unknown, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        await ctx.runs.stop(runId, 'cancelled', 'cancelled by the user');
        let n = 0;
        for await (const [fileId, f] of ctx.runs.files(runId)) {
          if (f.status !== 'pending') continue;
          await finishNotRun(ctx, runId, fileId, 'cancelled');
          n++;
        }
        // the run's batches at the provider too: nothing more is answered (nor billed) after the user said stop
        const batches = await cancelRunBatches(ctx, runId);
        process.stdout.write(
          `run ${runId} cancelled: ${n} pending file(s) marked not run${batches.length ? `; batches cancelled: ${batches.join(', ')}` : ''}\n`,
        );
      });
    },
  );
}
