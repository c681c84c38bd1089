/** `omnibatch schedule add|list|remove`: cron-driven runs that process only new or changed objects. */
import type { Command } from 'commander';
import { viaLines } from '../cost/via-choice.ts';
import { assertWritable, buildRunSpec, newRunId } from '../producers/run.ts';
import { addSchedule, listSchedules, removeSchedule } from '../producers/schedules.ts';
import { OmniError } from '../util/errors.ts';
import { printJson, withContext } from './common.ts';
import { addRunRequestOptions, deadlineLines, planDeadline, type RunRequestFlags, runRequestFrom } from './run-options.ts';

export function register(program: Command): void {
  const schedule = program.command('schedule').description('recurring runs (BullMQ job schedulers)');
  addRunRequestOptions(
    schedule
      .command('add')
      .argument('<name>')
      .argument('<source>')
      .requiredOption('--cron <expr>', 'cron pattern, e.g. "0 2 * * *"')
      .option('--tz <zone>', 'time zone, e.g. Europe/Berlin'),
  ).action(async (name: string, source: string, f: RunRequestFlags & { cron: string; tz?: string }, cmd: Command) => {
    await withContext(cmd, {}, async (ctx) => {
      // The destination check of `run`, at add time: an unwritable destination is learnt now, not at the first
      // firing (a firing's scan checks nothing first: its files, then its report, would fail at 2 a.m.).
      await assertWritable(ctx.storage(f.out), f.out);
      let request = runRequestFrom(source, f);
      if (f.deadline !== undefined) {
        // Each firing's deadline is relative to it: a fixed instant would be past after the first night.
        if (!/^(\d+(\.\d+)?[smhd])+$|^\d{1,2}:\d{2}$/i.test(f.deadline.trim())) {
          throw new OmniError('deadline_invalid', `schedule add --deadline takes a duration (8h) or a time of day (06:00), not ${JSON.stringify(f.deadline)}`);
        }
        // Planned on the source as it is now; the chunk length is fixed into the schedule, and each firing
        // records its predicted finish from the planned wall time.
        const planned = await planDeadline({ cfg: ctx.cfg, log: ctx.log, source: ctx.storage(source), pricing: ctx.pricing }, request, f.deadline);
        request = planned.request;
        process.stdout.write(`${[...deadlineLines(planned.plan), ...viaLines(planned.via)].join('\n')}\n`);
      }
      const spec = buildRunSpec(request, ctx.cfg, newRunId(), new Date(), undefined, ctx.pricing); // validate now, not at 2 a.m.
      // A catalog file's entry goes with the schedule: the worker that fires it may not have the file.
      if (spec.modelEntry?.origin?.kind === 'catalog') request = { ...request, modelEntry: spec.modelEntry };
      await addSchedule(ctx, { name, cron: f.cron, ...(f.tz && { tz: f.tz }), request });
      process.stdout.write(`schedule ${name} added (${f.cron}${f.tz ? ` ${f.tz}` : ''})\n`);
    });
  });
  schedule
    .command('list')
    .option('--json')
    .action(async (f: { json?: boolean }, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        const all = await listSchedules(ctx);
        if (f.json) return printJson(all);
        for (const s of all) {
          process.stdout.write(
            `${s.name}  ${s.cron}${s.tz ? ` (${s.tz})` : ''}  ${s.request.task}  ${s.request.source} -> ${s.request.destination}  next: ${s.next ? new Date(s.next).toISOString() : '-'}\n`,
          );
        }
      });
    });
  schedule
    .command('remove')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        const removed = await removeSchedule(ctx, name);
        process.stdout.write(removed ? `schedule ${name} removed\n` : `no schedule ${name}\n`);
        if (!removed) process.exitCode = 1;
      });
    });
}
