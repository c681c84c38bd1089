/**
 * `omnibatch estimate <source> --task T [--model M] [--manifest F] [--deadline D] [--json]`: files, media hours, requests, cost
 * range and wall time, before anything is sent; with --deadline, at the chunk length the deadline planner picks.
 */

import type { Command } from 'commander';
import { loadPricing } from '../config/pricing.ts';
import { calibrationPrefix, readScaleOnce } from '../cost/calibration.ts';
import { type DeadlinePlan, parseDeadline, planForDeadline } from '../cost/deadline.ts';
import { estimateRun } from '../cost/estimate.ts';
import { batchSaving, formatMicros, type PricingOverride, resolvePrices, unpricedNote, unpricedUsage } from '../cost/price.ts';
import { viaForDeadline, viaLines } from '../cost/via-choice.ts';
import { type FileLimits, fileLimitsOf } from '../media/limits.ts';
import { windowSeconds } from '../models/batch-api.ts';
import type { Region } from '../models/catalog.ts';
import { emptyUsage } from '../models/types.ts';
import { estimateSource } from '../producers/estimate.ts';
import { assertReadable } from '../producers/objects.ts';
import { buildRunSpec, newRunId } from '../producers/run.ts';
import { openStorage, storageOptionsFromConfig } from '../storage/index.ts';
import { printable } from '../util/printable.ts';
import { CATALOG_HELP, collect, configFrom, int, loggerFor, num, printJson } from './common.ts';
import { formatDuration } from './progress.ts';
import { addRateOptions, batchAskOf, DEADLINE_HELP, deadlineLines, type RateFlags, rateConfig } from './run-options.ts';

export function register(program: Command): void {
  addRateOptions(
    program
      .command('estimate')
      .description('probe every object (at most --probe-mb of each is read) and price the plan: nothing is sent to the model')
      .argument('<source>')
      .requiredOption('--task <task>')
      .option('--model <model>')
      .option('--prompt <text>')
      .option('--include <glob>', '', collect)
      .option('--exclude <glob>', '', collect)
      .option('--max-files <n>', '', int)
      .option('--manifest <file>', 'price only the objects it lists, as `run --manifest` processes only them')
      .option('--chunk-seconds <s>', '', num),
    'the run priced',
  )
    .option('--deadline <time|duration>', DEADLINE_HELP)
    .option(
      '--via <way>',
      "realtime (default) or batch: also price the run through the provider's Batch API, and the saving; auto (with --deadline): say which the run would take, and why",
    )
    .option('--catalog <file>', CATALOG_HELP)
    .option(
      '--probe-mb <n>',
      'MiB read of one object at most (default 16, OMNIBATCH_ESTIMATE_PROBE_MB): smaller objects whole, larger by head and tail, priced from their header',
      int,
    )
    .option('--json', 'print one JSON object')
    .action(async (source: string, f: Record<string, unknown>, cmd: Command) => {
      const cfg = configFrom(cmd, { ...rateConfig(f as RateFlags), ...(f.probeMb !== undefined && { estimateProbeMb: f.probeMb as number }) });
      const log = loggerFor(cfg);
      const spec = buildRunSpec(
        {
          source,
          destination: source,
          task: String(f.task),
          model: f.model as string | undefined,
          prompt: f.prompt as string | undefined,
          include: f.include as string[] | undefined,
          exclude: f.exclude as string[] | undefined,
          maxFiles: f.maxFiles as number | undefined,
          chunkSeconds: f.chunkSeconds as number | undefined,
          manifest: f.manifest as string | undefined,
          // refused here (batch_unsupported; auto without --deadline) before anything is probed; auto is decided with the plan
          via: f.via === 'auto' && f.deadline !== undefined ? 'realtime' : (f.via as string | undefined),
        },
        cfg,
        newRunId(),
      );
      const now = new Date();
      // A malformed deadline is refused before anything is probed.
      const deadline = f.deadline !== undefined ? parseDeadline(String(f.deadline), now) : undefined;
      const src = openStorage(source, { ...storageOptionsFromConfig(cfg), log });
      await assertReadable(src, source, spec.manifest);
      const limits = fileLimitsOf(cfg);
      // What earlier runs of this model and task were billed for output, when Redis has it (cost/calibration.ts).
      const outputScale = await readScaleOnce(cfg.redisUrl, calibrationPrefix(cfg.queuePrefix), spec.model, spec.task);
      const pricing = loadPricing(cfg.pricingFile);
      const probed = await estimateSource(src, spec, {
        log,
        pricing,
        concurrency: cfg.inferConcurrency,
        rpm: cfg.rpm,
        tpm: cfg.tpm,
        base64MaxChars: cfg.base64MaxChars,
        limits,
        outputScale,
        probeBytes: cfg.estimateProbeMb * 1024 * 1024,
      });
      const { failures, bounded, skipped } = probed;
      const plan: DeadlinePlan | undefined =
        deadline &&
        planForDeadline(probed.files, {
          model: spec.model,
          region: spec.region,
          task: spec.task,
          prompt: spec.prompt,
          pricing,
          concurrency: cfg.inferConcurrency,
          rpm: cfg.rpm,
          tpm: cfg.tpm,
          deadline,
          now,
          ...(spec.chunkSeconds !== undefined && { shortestS: spec.chunkSeconds }),
          ...(outputScale !== undefined && { outputScale }),
        });
      const e = plan ? plan.estimate : probed.estimate;
      const via =
        plan &&
        viaForDeadline(
          { via: f.via as string | undefined, ask: batchAskOf(spec) },
          { deadlineS: (plan.deadline.getTime() - now.getTime()) / 1000, windowS: windowSeconds(cfg.batchWindow), realtimeWallS: e.wall.seconds },
        );
      const batch =
        (via?.via ?? spec.via) === 'batch'
          ? batchSaving(
              e.cost.expected,
              estimateRun(probed.files, {
                model: spec.model,
                region: spec.region,
                task: spec.task,
                prompt: spec.prompt,
                pricing,
                via: 'batch',
                ...(outputScale !== undefined && { outputScale }),
              }).cost.expected,
            )
          : undefined;
      if (f.json) {
        // A partly unpriced amount is still shown (a lower bound, as the report shows it); null only with no price at all.
        const money = (c: { amountMicros: number; currency: string | null; priced: boolean }) => ({
          amount: c.priced || c.currency !== null ? formatMicros(c.amountMicros) : null,
          amount_micros: c.amountMicros,
          currency: c.currency,
          priced: c.priced,
        });
        return printJson({
          source,
          ...(spec.manifest && { manifest: spec.manifest }),
          task: spec.task,
          model: spec.model,
          region: spec.region,
          files: e.files,
          media_seconds: e.mediaSeconds,
          requests: e.requests,
          input_tokens: e.input,
          output_tokens: e.output,
          cost: {
            low: money(e.cost.low),
            expected: money(e.cost.expected),
            high: money(e.cost.high),
            ...(!e.cost.expected.priced && { unpriced_note: estimateUnpricedNote(e.input, spec.model, spec.region, pricing) }),
          },
          wall_seconds: e.wall.seconds,
          wall_binding: e.wall.binding,
          limits: limitsJson(limits),
          ...(via?.choice && {
            via_choice: { via: via.choice.via, ...(via.batchFallback && { batch_fallback: via.batchFallback }), reason: via.choice.reason },
          }),
          ...(via?.warning && { via_warning: via.warning }),
          ...(batch && {
            via: 'batch',
            batch: { cost: money(batch.batch), realtime_cost: money(batch.realtime), saving: money(batch.saving), completion_window: cfg.batchWindow },
          }),
          failures,
          bounded,
          skipped,
          ...(plan && {
            deadline: {
              deadline: plan.deadline.toISOString(),
              chunk_seconds: plan.chunkSeconds,
              default_chunk_seconds: plan.shortestS,
              lengthened: plan.lengthened,
              predicted_finish: plan.predictedFinish.toISOString(),
              note: plan.note,
              tried: plan.tried.map((r) => ({ chunk_seconds: r.chunkSeconds, requests: r.requests, wall_seconds: r.wallSeconds, binding: r.binding })),
            },
          }),
        });
      }
      const c = e.cost;
      const cur = c.expected.currency ?? '';
      process.stdout.write(
        [
          `${e.files} files, ${(e.mediaSeconds / 3600).toFixed(2)} h of media, ${e.requests} requests (${spec.model}, ${spec.task}, ${spec.region})`,
          `input tokens: ${e.input.total} (audio ${e.input.audio}, video ${e.input.video}, text ${e.input.text}); output tokens: ${e.output.low}-${e.output.high}`,
          c.expected.priced || c.expected.currency !== null
            ? `cost: ${formatMicros(c.low.amountMicros)} - ${formatMicros(c.high.amountMicros)} ${cur} (expected ${formatMicros(c.expected.amountMicros)} ${cur})${c.expected.priced ? '' : ` (${estimateUnpricedNote(e.input, spec.model, spec.region, pricing)})`}`
            : 'cost: unpriced (no published price for this model/region)',
          `wall time: about ${formatDuration(e.wall.seconds)} at concurrency ${cfg.inferConcurrency}${cfg.rpm ? `, ${cfg.rpm} RPM` : ''}${cfg.tpm ? `, ${cfg.tpm} TPM` : ''} (bound by ${e.wall.binding})`,
          ...(batch
            ? [
                batch.batch.priced
                  ? `via batch: ${formatMicros(batch.batch.amountMicros)} ${cur} expected, against ${formatMicros(batch.realtime.amountMicros)} ${cur} in real time: a saving of ${formatMicros(batch.saving.amountMicros)} ${cur}`
                  : 'via batch: unpriced',
                `  answers come within the completion window (${cfg.batchWindow}), not at the wall time above`,
              ]
            : []),
          `per-file limits: ${describeLimits(limits)}`,
          ...(plan ? deadlineLines(plan) : []),
          ...(via ? viaLines(via) : []),
          ...(bounded.length
            ? [
                `${bounded.length} object(s) state no length, or more than their bytes hold: priced at an upper bound from their size:`,
                ...bounded.slice(0, 20).map((x) => `  ${Math.round(x.durationS)} s  ${printable(x.uri)}`),
              ]
            : []),
          ...(failures.length
            ? [`${failures.length} object(s) could not be probed or would be refused:`, ...failures.slice(0, 20).map((x) => `  ${x.code}  ${printable(x.uri)}`)]
            : []),
          ...(skipped.length
            ? [`${skipped.length} object(s) will not be read:`, ...skipped.slice(0, 20).map((x) => `  ${x.code}  ${printable(x.uri)}: ${printable(x.message)}`)]
            : []),
          '',
        ].join('\n'),
      );
    });
}

function limitsJson(l: FileLimits): Record<string, number> {
  return {
    max_download_bytes: l.maxDownloadBytes,
    max_media_seconds: l.maxMediaSeconds,
    max_pixels: l.maxPixels,
    max_chunks_per_file: l.maxChunksPerFile,
    max_seconds_per_byte: l.maxSecondsPerByte,
  };
}

/** The limits a run would apply, in one line: what the failures below were measured against. */
export function describeLimits(l: FileLimits): string {
  return [
    `${(l.maxDownloadBytes / 1024 ** 3).toFixed(l.maxDownloadBytes % 1024 ** 3 ? 2 : 0)} GiB`,
    `${formatDuration(l.maxMediaSeconds)} of media`,
    `${l.maxPixels} pixels a frame`,
    `${l.maxChunksPerFile} requests`,
    `at least ${(1 / l.maxSecondsPerByte).toFixed(0)} bytes per media second`,
  ].join(', ');
}

/** What an estimate's partly unpriced amount leaves out, by the input it counts (the same words as the report). */
export function estimateUnpricedNote(
  input: { text: number; audio: number; image: number; video: number },
  model: string,
  region: Region,
  pricing?: PricingOverride,
): string {
  const u = emptyUsage();
  u.input = { text: input.text, audio: input.audio, image: input.image, video: input.video };
  u.inputTotal = input.text + input.audio + input.image + input.video;
  return unpricedNote(unpricedUsage(u, resolvePrices(model, region, pricing))) || 'partly unpriced';
}
