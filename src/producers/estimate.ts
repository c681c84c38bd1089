/**
 * `estimate`: probe every object of a source without downloading it (ffprobe reads a presigned URL, or
 * the local file), plan each one as the run would (pure planner), and price the plan. Nothing is sent.
 */
import { fileURLToPath } from 'node:url';
import { estimateRun, type Estimate, type EstimateFile } from '../cost/estimate.ts';
import type { PricingOverride } from '../cost/price.ts';
import { planChunks } from '../media/plan.ts';
import { probeMedia } from '../media/probe.ts';
import { findModel } from '../models/catalog.ts';
import type { RunSpec } from '../runs/types.ts';
import type { Storage } from '../storage/types.ts';
import { describeError } from '../util/errors.ts';
import type { Logger } from '../util/logger.ts';
import { chunkPolicy } from '../workers/prepare.ts';
import { compileFilter } from './filter.ts';

export interface SourceEstimate {
  estimate: Estimate;
  /** every probed file, as planned: the deadline planner re-plans them at other chunk lengths */
  files: EstimateFile[];
  failures: { uri: string; code: string; message: string }[];
}

export async function estimateSource(src: Storage, spec: RunSpec, opts: {
  log: Logger; pricing?: PricingOverride; concurrency: number; rpm?: number; tpm?: number; base64MaxChars?: number; probeConcurrency?: number;
}): Promise<SourceEstimate> {
  const model = findModel(spec.model)!;
  const take = compileFilter(spec);
  const files: EstimateFile[] = [];
  const failures: SourceEstimate['failures'] = [];
  const pending = new Set<Promise<void>>();
  const one = async (key: string) => {
    try {
      const url = await src.presignGet(key, 900);
      const info = await probeMedia(url.startsWith('file://') ? fileURLToPath(url) : url, { log: opts.log });
      const plan = planChunks(info, model, chunkPolicy(spec, opts.base64MaxChars));
      const video = plan.encode.kind === 'video' ? info.video.find((v) => !v.attachedPic) : undefined;
      files.push({ uri: src.uri + key, durationS: info.durationS, chunkSeconds: plan.chunks.map((c) => c.endS - c.startS),
        hasAudio: info.audio.length > 0, ...(video && { video: { width: video.width, height: video.height } }) });
    } catch (err) {
      const e = describeError(err);
      failures.push({ uri: src.uri + key, code: e.code, message: e.message });
    }
  };
  let n = 0;
  for await (const obj of src.list('')) {
    if (!take(obj.key)) continue;
    if (spec.maxFiles !== undefined && n >= spec.maxFiles) break;
    n++;
    const p = one(obj.key).finally(() => pending.delete(p));
    pending.add(p);
    if (pending.size >= (opts.probeConcurrency ?? 4)) await Promise.race(pending);
  }
  await Promise.all(pending);
  const estimate = estimateRun(files, { model: spec.model, region: spec.region, task: spec.task, prompt: spec.prompt, pricing: opts.pricing,
    concurrency: opts.concurrency, rpm: opts.rpm, tpm: opts.tpm });
  return { estimate, files, failures };
}
