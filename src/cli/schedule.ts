/** `omnibatch schedule add|list|remove`: cron-driven runs that process only new or changed objects. */
import type { Command } from 'commander';
import { parseAmount } from '../cost/price.ts';
import { buildRunSpec, newRunId } from '../producers/run.ts';
import { addSchedule, listSchedules, removeSchedule } from '../producers/schedules.ts';
import { collect, int, num, printJson, withContext } from './common.ts';

export function register(program: Command): void {
  const schedule = program.command('schedule').description('recurring runs (BullMQ job schedulers)');
  schedule.command('add')
    .argument('<name>')
    .argument('<source>')
    .requiredOption('--cron <expr>', 'cron pattern, e.g. "0 2 * * *"')
    .option('--tz <zone>', 'time zone, e.g. Europe/Berlin')
    .requiredOption('--out <destination>')
    .requiredOption('--task <task>')
    .option('--model <model>')
    .option('--prompt <text>')
    .option('--voice <voice>')
    .option('--include <glob>', '', collect)
    .option('--exclude <glob>', '', collect)
    .option('--max-files <n>', '', int)
    .option('--budget <amount>', 'per firing')
    .option('--force', 'redo every object at every firing (not only new or changed ones)')
    .option('--manifest <file>', 'JSON lines or CSV of object URIs instead of a listing')
    .option('--chunk-seconds <s>', '', num)
    .option('--overlap-seconds <s>', '', num)
    .option('--notify-url <url>')
    .action(async (name: string, source: string, f: Record<string, string | string[] | number | boolean | undefined>, cmd: Command) => {
      await withContext(cmd, {}, async (ctx) => {
        const request = {
          source, destination: f.out as string, task: f.task as string, model: f.model as string | undefined, prompt: f.prompt as string | undefined,
          voice: f.voice as string | undefined, include: f.include as string[] | undefined, exclude: f.exclude as string[] | undefined,
          maxFiles: f.maxFiles as number | undefined, budgetMicros: f.budget !== undefined ? parseAmount(String(f.budget)) : undefined,
          notifyUrl: f.notifyUrl as string | undefined, force: f.force === true, manifest: f.manifest as string | undefined,
          chunkSeconds: f.chunkSeconds as number | undefined, overlapSeconds: f.overlapSeconds as number | undefined,
        };
        buildRunSpec(request, ctx.cfg, newRunId()); // validate now, not at 2 a.m.
        await addSchedule(ctx, { name, cron: String(f.cron), ...(f.tz && { tz: String(f.tz) }), request });
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
