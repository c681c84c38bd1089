/** `omnibatch retry <runId>`: only the failed files, in the same run. */
import type { Command } from 'commander';
import { jobIds } from '../jobs/catalog.ts';
import { withContext } from './common.ts';

export function register(program: Command): void {
  program.command('retry')
    .description('process the failed files of a run again (same run, same report)')
    .argument('<runId>')
    .action(async (runId: string, _f: unknown, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        const { fileIds, generation } = await ctx.runs.reopenFailed(runId);
        const jobs = [];
        for (const fileId of fileIds) {
          const f = await ctx.runs.file(runId, fileId);
          if (!f) continue;
          jobs.push({ name: 'prepare' as const, data: { runId, fileId, key: f.key, etag: f.etag, size: f.size, generation }, opts: { jobId: jobIds.prepare(runId, fileId, generation) } });
        }
        if (jobs.length) await ctx.queues.prepare.addBulk(jobs);
        process.stdout.write(`${jobs.length} failed file(s) queued again in run ${runId}\n`);
      });
    });
}
