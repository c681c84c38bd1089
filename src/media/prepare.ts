/**
 * The adapter the pipeline calls: probe -> silences -> plan -> cut -> measure -> re-plan what is over a limit.
 *
 * Audio (every audio task, and video sources whose task or model wants sound only): the encode pass also runs
 * silencedetect on the samples it encodes, so the source is decoded ONCE for both; the plan is then made on
 * the encoded file's real length and silences, and cut from it by stream copy. The encoding does not depend
 * on where the cuts fall (only on the longest chunk the limits allow), which is what lets it come first.
 *
 * Video: silencedetect reads the audio track alone (cheap next to a video encode), then the plan, then one
 * encode with keyframes forced at every cut, then the copy split.
 */
import { copyFile, link, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ModelSpec } from '../models/catalog.ts';
import { withTempDir } from '../storage/temp.ts';
import type { Logger } from '../util/logger.ts';
import { deliver, encodeWhole, enforceLimits, splitEncoded } from './cut.ts';
import { base64Chars, DEFAULT_FILE_LIMITS, type FileLimits } from './limits.ts';
import { decideDecoded } from './measured.ts';
import { type PlanPolicy, planChunks } from './plan.ts';
import { type PreparePlan, planPrepare } from './prepare-plan.ts';
import { probeMedia } from './probe.ts';
import { detectSilences } from './silence.ts';
import type { CutChunk, EncodeSpec, MediaInfo, Plan, Silence } from './types.ts';

export interface PrepareOptions {
  outDir: string;
  log?: Logger;
  signal?: AbortSignal;
  /** a probe already made (the pipeline probes first to pick the policy) */
  info?: MediaInfo;
  /** the decision already made on `info` (workers/prepare-decide.ts): carried out as given, not made again */
  decision?: PreparePlan;
  /** base of the per-call temp directory */
  tmpDir?: string;
  noiseDb?: number;
  minSilenceS?: number;
  /** the decoders' frame-size cap on every pass over the source (OMNIBATCH_MAX_PIXELS) */
  maxPixels?: number;
  /** the per-file limits, checked again on the decoded length (default DEFAULT_FILE_LIMITS) */
  limits?: FileLimits;
  /** measure silences even for a file sent as it is (subtitles are laid over the speech between them) */
  silencesAlways?: boolean;
}

/** What prepareChunks hands back: the silences are the map the cuts were chosen in (empty when none was measured). */
export interface PreparedChunks {
  info: MediaInfo;
  plan: Plan;
  chunks: CutChunk[];
  silences: Silence[];
}

/** The source itself as chunk 0 (a hard link when the filesystem allows: no bytes copied). */
async function deliverAsIs(file: string, info: MediaInfo, format: string, outDir: string): Promise<CutChunk> {
  await mkdir(outDir, { recursive: true });
  const out = path.join(outDir, `chunk-0000.${format}`);
  await link(file, out).catch(() => copyFile(file, out));
  return {
    index: 0,
    file: out,
    startS: 0,
    durationS: info.durationS,
    endS: info.durationS,
    overlapS: 0,
    bytes: info.sizeBytes,
    base64Chars: base64Chars(info.sizeBytes),
    format,
  };
}

const sameEncode = (a: EncodeSpec, b: EncodeSpec): boolean => JSON.stringify(a) === JSON.stringify(b);

export async function prepareChunks(file: string, model: ModelSpec, policy: PlanPolicy, opts: PrepareOptions): Promise<PreparedChunks> {
  const { log, signal } = opts;
  const probed = opts.info ?? (await probeMedia(file, { log, signal }));
  // A file the model takes as it is (one chunk, a format it reads, within every limit) skips ffmpeg entirely.
  const decision = opts.decision ?? planPrepare(probed, model, policy);
  const detect = { noiseDb: opts.noiseDb, minSilenceS: opts.minSilenceS };
  const sourceSilences = async (): Promise<Silence[]> =>
    probed.audio.length
      ? detectSilences(file, {
          ...detect,
          log,
          signal,
          streamIndex: probed.audio[0].index,
          durationS: probed.durationS,
          format: probed.container,
          maxPixels: opts.maxPixels,
        })
      : [];
  if (decision.kind === 'as-is') {
    const silences = opts.silencesAlways ? await sourceSilences() : [];
    return { info: probed, plan: decision.plan, chunks: [await deliverAsIs(file, probed, decision.plan.encode.format, opts.outDir)], silences };
  }
  return withTempDir(
    'prepare',
    async (dir) => {
      // Every later pass over the source reads it with the demuxer the probe named (allow-list.ts), within a deadline.
      const ctx = {
        log,
        signal,
        model,
        tmpDir: opts.tmpDir,
        inputFormat: probed.container,
        sourceS: probed.durationS,
        maxPixels: opts.maxPixels,
        sourceVideo: probed.video,
      };
      if (decision.mode === 'audio') {
        // The encoding needs only the longest allowed chunk, known before any silence is: plan once without them.
        const first = planChunks(probed, model, policy);
        const maxS = opts.limits && opts.limits.maxMediaSeconds + 1;
        let enc = await encodeWhole(file, first.encode, dir, { ...ctx, detectSilence: detect, ...(maxS !== undefined && { maxS }) });
        // Plan, limit and bill on what was really decoded (measured.ts): the claim may be anything.
        const verdict = decideDecoded({
          probed,
          timelineS: Math.max(0, enc.timelineS - enc.delayS),
          ...(enc.samplesS !== undefined && { samplesS: Math.max(0, enc.samplesS - enc.delayS) }),
          ...(maxS !== undefined && { boundS: maxS }),
          limits: opts.limits ?? DEFAULT_FILE_LIMITS,
        });
        if (verdict.kind === 'refuse') throw verdict.error;
        const info: MediaInfo = verdict.changed ? { ...probed, durationS: verdict.durationS, durationSource: 'measured' } : probed;
        const plan = planChunks(info, model, policy, enc.silences);
        if (!sameEncode(plan.encode, enc.encode)) enc = await encodeWhole(file, plan.encode, dir, ctx);
        const pieces = await splitEncoded(enc, plan.chunks, dir, ctx);
        const fitted = await enforceLimits(file, enc, plan, pieces, dir, { ...ctx, silences: enc.silences });
        const chunks = await deliver(fitted, plan.encode.format, opts.outDir);
        log?.debug({ chunks: chunks.length, reason: plan.reason }, 'prepared');
        return { info, plan, chunks, silences: enc.silences ?? [] };
      }
      const silences = await sourceSilences();
      const plan = planChunks(probed, model, policy, silences);
      const enc = await encodeWhole(file, plan.encode, dir, { ...ctx, keyframesS: plan.chunks.flatMap((c) => [c.startS, c.endS]) });
      const pieces = await splitEncoded(enc, plan.chunks, dir, ctx);
      const fitted = await enforceLimits(file, enc, plan, pieces, dir, { ...ctx, silences });
      return { info: probed, plan, chunks: await deliver(fitted, plan.encode.format, opts.outDir), silences };
    },
    { base: opts.tmpDir },
  );
}
