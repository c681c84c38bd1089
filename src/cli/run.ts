/** `omnibatch run <source> --out <destination> --task T ...`: create a run; with --wait, see it to the end. */

import type { Command } from 'commander';
import { outputScale as outputScaleOf, readCalibration } from '../cost/calibration.ts';
import { viaLines } from '../cost/via-choice.ts';
import { STAGES } from '../jobs/catalog.ts';
import { assertReadable } from '../producers/objects.ts';
import { assertWritable, createRun } from '../producers/run.ts';
import { runKey } from '../storage/keys.ts';
import type { Task } from '../tasks/catalog.ts';
import { OmniError } from '../util/errors.ts';
import { printable } from '../util/printable.ts';
import { printJson, withContext } from './common.ts';
import {
  addRateOptions,
  addRunRequestOptions,
  deadlineLines,
  planDeadline,
  type RateFlags,
  type RunRequestFlags,
  rateConfig,
  runRequestFrom,
} from './run-options.ts';
import { awaitRunEndNotify, liveWorkers, stopLine, waitExitCode, waitForRun } from './wait.ts';
import { noWorkerHint, workersAlive, workersForWait } from './workers-alive.ts';

interface RunFlags extends RunRequestFlags, RateFlags {
  wait?: boolean;
  json?: boolean;
  workerGrace: number;
}

/** How long `run --wait` waits for the end-of-run webhook its own workers deliver before they stop. */
const NOTIFY_WAIT_MS = 120_000;

export function register(program: Command): void {
  addRateOptions(
    addRunRequestOptions(
      program
        .command('run')
        .description('process every media object under <source>; results, report and cost ledger go to --out')
        .argument('<source>', 's3://bucket/prefix/ or a local directory'),
    ),
    'embedded workers',
  )
    .option('--wait', 'stay until the run ends (runs workers in this process when none is running)')
    .option('--json', 'print one JSON object')
    .option('--worker-grace <s>', '--wait with outside workers: give up (exit 1, no_worker) when none has run for this long', Number, 60)
    .action(async (source: string, f: RunFlags, cmd: Command) => {
      const code = await withContext(cmd, rateConfig(f), async (ctx) => {
        // Exit 1 "could not start": say why now, not as a failed run later.
        await assertReadable(ctx.storage(source), source, f.manifest);
        await assertWritable(ctx.storage(f.out), f.out);
        if (f.wait && !ctx.cfg.apiKey) {
          const running = await ctx.queues.infer.getWorkersCount();
          if (running === 0)
            throw new OmniError('config_invalid', 'OMNI_API_KEY (or DASHSCOPE_API_KEY) is not set: the workers this command would start cannot call the model');
        }
        let request = runRequestFrom(source, f);
        if (f.deadline !== undefined) {
          // Planned (and refused when unreachable) before the run exists: nothing is enqueued or sent until then.
          const outputScale = async (model: string, task: Task) =>
            outputScaleOf(await readCalibration(ctx.redis, ctx.keyPrefix, model, task).catch(() => undefined));
          const planned = await planDeadline(
            { cfg: ctx.cfg, log: ctx.log, source: ctx.storage(source), pricing: ctx.pricing, outputScale },
            request,
            f.deadline,
          );
          request = planned.request;
          process.stderr.write(`${[...deadlineLines(planned.plan), ...viaLines(planned.via)].join('\n')}\n`);
          // A file the plan could not take (refused, or a claim its bytes cannot hold) never refuses the run: it
          // is left out of the plan, named here, and fails alone in the run with the same code.
          if (planned.failures.length)
            process.stderr.write(
              `${[`${planned.failures.length} object(s) left out of the deadline plan:`, ...planned.failures.slice(0, 20).map((x) => `  ${x.code}  ${x.uri}`)].join('\n')}\n`,
            );
        }
        const spec = await createRun(ctx, request);
        if (!f.wait) {
          const alive = await workersAlive(ctx, STAGES);
          if (f.json) printJson({ run_id: spec.runId, task: spec.task, model: spec.model, source, destination: f.out, workers_alive: alive });
          else process.stdout.write(`${spec.runId}\n`);
          if (alive === 0) process.stderr.write(`${noWorkerHint(`run ${spec.runId} stays queued`, 'run')}\n`);
          return 0;
        }
        if (!f.json) process.stdout.write(`${spec.runId}\n`);
        const embedded = await workersForWait(ctx, ['prepare', 'infer'], { inferConcurrency: f.inferConcurrency, rpm: f.rpm });
        try {
          const workers = embedded
            ? undefined
            : { count: () => liveWorkers(ctx), warnAfterMs: Math.min(10_000, f.workerGrace * 500), giveUpAfterMs: f.workerGrace * 1000 };
          const state = await waitForRun(ctx, spec.runId, { quiet: f.json, workers });
          // Its own workers deliver the end-of-run webhook: they stop only once it is delivered (or given up).
          if (embedded && spec.notifyUrl) {
            const sent = await awaitRunEndNotify(ctx, spec.runId, state.generation, NOTIFY_WAIT_MS);
            if (sent !== 'delivered') process.stderr.write(`webhook: ${sent}\n`);
          }
          const report = await ctx.storage(spec.destination).getText(runKey(spec.runId, 'report.json'));
          if (f.json) printJson({ run_id: spec.runId, ...(report ? { report: JSON.parse(report) } : { status: state.status }) });
          else
            process.stdout.write(
              `${state.status}: results in ${spec.destination}, report in ${ctx.storage(spec.destination).uri}${runKey(spec.runId, 'report.json')}\n`,
            );
          const why = stopLine(state);
          if (why) process.stderr.write(`${printable(why)}\n`);
          return waitExitCode(state);
        } finally {
          await embedded?.close();
        }
      });
      process.exitCode = code;
    });
}
