/** `omnibatch chunk <file> --task T --out-dir D [...]`: cut and compress a file into request-sized chunks; D/chunks.json lists them. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { describePlan } from '../media/plan.ts';
import { taskPolicy } from '../media/policy.ts';
import { prepareChunks } from '../media/prepare.ts';
import { configFrom, loggerFor } from './common.ts';
import { type MediaFlags, mediaOptions, resolveMedia } from './plan.ts';

export function register(program: Command): void {
  mediaOptions(program.command('chunk').description('cut and compress a file into chunks that fit the model; writes <out-dir>/chunks.json').argument('<file>'))
    .requiredOption('--out-dir <dir>', 'where the chunk files and chunks.json go')
    .action(async (file: string, f: MediaFlags & { outDir: string }, cmd: Command) => {
      const cfg = configFrom(cmd);
      const log = loggerFor(cfg);
      const { model, task, overrides } = resolveMedia(f, cfg);
      const outDir = path.resolve(f.outDir);
      const { info, plan, chunks } = await prepareChunks(file, model, taskPolicy(task, model, overrides), {
        outDir,
        log,
        tmpDir: cfg.tmpDir,
        maxPixels: cfg.maxPixels,
      });
      const listed = chunks.map((c) => ({ ...c, file: path.basename(c.file) }));
      const { chunks: planned, ...planRest } = plan;
      await writeFile(
        path.join(outDir, 'chunks.json'),
        `${JSON.stringify({ source: file, task, model: model.id, info, plan: { ...planRest, planned }, chunks: listed }, null, 2)}\n`,
      );
      process.stdout.write(`${describePlan(plan)}\n${chunks.length} chunk(s) written to ${outDir} (chunks.json)\n`);
    });
}
