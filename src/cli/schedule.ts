/** `omnibatch schedule add|list|remove`: cron-driven runs that process only new or changed objects. */
import type { Command } from 'commander';
import { buildRunSpec, newRunId } from '../producers/run.ts';
import { addSchedule, listSchedules, removeSchedule } from '../producers/schedules.ts';
import { printJson, withContext } from './common.ts';
import { addRunRequestOptions, runRequestFrom, type RunRequestFlags } from './run-options.ts';

export function register(program: Command): void {
  const schedule = program.command('schedule').description('recurring runs (BullMQ job schedulers)');
  addRunRequestOptions(schedule.command('add')
    .argument('<name>')
    .argument('<source>')
    .requiredOption('--cron <expr>', 'cron pattern, e.g. "0 2 * * *"')
    .option('--tz <zone>', 'time zone, e.g. Europe/Berlin'))
    .action(async (name: string, source: string, f: RunRequestFlags & { cron: string; tz?: string }, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        const request = runRequestFrom(source, f);
        buildRunSpec(request, ctx.cfg, newRunId()); // validate now, not at 2 a.m.
        await addSchedule(ctx, { name, cron: f.cron, ...(f.tz && { tz: f.tz }), request });
        process.stdout.write(`schedule ${name} added (${f.cron}${f.tz ? ` ${f.tz}` : ''})\n`);
      });
    });
  schedule.command('list')
    .option('--json')
    .action(async (f: { json?: boolean }, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        const all = await listSchedules(ctx);
        if (f.json) return printJson(all);
        for (const s of all) {
          process.stdout.write(`${s.name}  ${s.cron}${s.tz ? ` (${s.tz})` : ''}  ${s.request.task}  ${s.request.source} -> ${s.request.destination}  next: ${s.next ? new Date(s.next).toISOString() : '-'}\n`);
        }
      });
    });
  schedule.command('remove')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        const removed = await removeSchedule(ctx, name);
        process.stdout.write(removed ? `schedule ${name} removed\n` : `no schedule ${name}\n`);
        if (!removed) process.exitCode = 1;
      });
    });
}
