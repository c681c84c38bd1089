/**
 * tokens: 10 hours of generated speech (espeak-ng, 20 files of 30 min, mp3) through the captioner.
 * References: media seconds x 12.5 tokens/s (what the audio is worth), and the plan's number of chunks (one
 * request each is the minimum). Targets: billed audio tokens <= 1.01x the reference (chunking adds only codec
 * framing, never repeated audio); requests == planned chunks (no retry, no duplicate, no re-plan spent a request).
 * The policy's nominal count (ceil(duration / 30 s) per file) is reported beside it: cuts move +-5 s into
 * silence, so a plan may hold a chunk or two more than the nominal count, never fewer than duration / 35 s.
 * --quick: 1 hour (4 files of 15 min).
 */
import path from 'node:path';
import { findModel } from '../../src/models/catalog.ts';
import { TASK_SPECS } from '../../src/tasks/catalog.ts';
import { withHarness } from '../lib/harness.ts';
import { makeSpeech } from '../lib/media.ts';
import { timedRun } from '../lib/pipeline.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const files = opts.quick ? 4 : 20;
  const seconds = opts.quick ? 900 : 1800;
  const model = findModel('qwen3-omni-30b-a3b-captioner')!;
  const policy = TASK_SPECS.caption.policy;
  return withHarness({ name: 'tokens', emulator: { latencyMs: 0 } }, async (h) => {
    const src = path.join(h.tmp, 'in');
    for (let i = 0; i < files; i++) await makeSpeech(path.join(src, `talk-${String(i).padStart(2, '0')}.mp3`), seconds, 1000 + i);
    h.spawnWorker(['--infer-concurrency', '16']);
    const run = await timedRun(h, { source: src, destination: path.join(h.tmp, 'out'), task: 'caption' }, { files, timeoutMs: 1_800_000, pollMs: 500 });
    const stats = h.emulator.stats();
    const billed = stats.billed[model.id]?.input.audio ?? 0;
    const mediaS = files * seconds;
    const reference = mediaS * model.tokens.audioTokensPerSecond;
    let planned = 0;
    for await (const [, f] of h.ctx.runs.files(run.runId)) planned += f.chunks ?? 0;
    const nominal = files * Math.ceil(seconds / policy.targetS);
    const floor = files * Math.ceil(seconds / (policy.targetS + policy.searchWindowS));
    return result(
      'tokens',
      'billed_audio_tokens_over_media_seconds_x_12_5',
      [
        check('billed_over_reference', billed / reference, '<=', 1.01),
        check('requests_over_planned_chunks', stats.requests / Math.max(1, planned), '==', 1),
        check('files_succeeded', run.state.counts.succeeded, '==', files),
      ],
      {
        files,
        mediaHours: round(mediaS / 3600, 2),
        referenceTokens: reference,
        billedAudioTokens: billed,
        requests: stats.requests,
        plannedChunks: planned,
        nominalChunks: nominal,
        floorChunks: floor,
        tokensPerChunkOverhead: round((billed - reference) / Math.max(1, planned), 2),
        byStatus: stats.byStatus,
        wallS: round(run.wallS, 1),
        failures: run.failures,
      },
      opts.quick,
    );
  });
}
