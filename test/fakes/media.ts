/**
 * The media adapters prepare uses (src/workers/prepare-ports.ts PrepareMediaPort) without ffmpeg: the header
 * and the probe are what the test says, and the chunks carry out the decision the handler passes (made by the
 * real media/prepare-plan.ts planPrepare, as media/prepare.ts does when given none): the source itself, or the
 * real planner's chunks (media/plan.ts) without silences, each one a few bytes on disk.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { base64Chars } from '../../src/media/limits.ts';
import { planChunks } from '../../src/media/plan.ts';
import { type PreparePlan, planPrepare } from '../../src/media/prepare-plan.ts';
import type { CutChunk, MediaInfo, Silence } from '../../src/media/types.ts';
import type { PrepareMediaPort } from '../../src/workers/prepare-ports.ts';

/** What each call was given, in order. */
export interface MediaCalls {
  sniff: number;
  probe: number;
  chunks: {
    info?: MediaInfo;
    /** the decision the handler passed (undefined: none, the executor makes it) */
    decision?: PreparePlan['kind'];
    targetS: number;
    maxChunks?: number;
    base64MaxChars?: number;
    silencesAlways?: boolean;
  }[];
}

export class FakeMedia implements PrepareMediaPort {
  readonly calls: MediaCalls = { sniff: 0, probe: 0, chunks: [] };
  /** the header sniff.ts would read (undefined: a format it does not know) */
  sniffed?: MediaInfo;
  /** ffprobe's answer, or the error it fails with */
  probed?: MediaInfo | Error;
  /** the encode runs until its signal aborts (a long ffmpeg pass that the run's stop kills) */
  hang = false;
  /** the silence map the encode pass (or silencedetect) would measure */
  silences: Silence[] = [];

  sniff: PrepareMediaPort['sniff'] = async () => {
    this.calls.sniff++;
    return this.sniffed;
  };

  probe: PrepareMediaPort['probe'] = async () => {
    this.calls.probe++;
    if (!this.probed) throw new Error('FakeMedia: probe called without a probed answer');
    if (this.probed instanceof Error) throw this.probed;
    return this.probed;
  };

  chunks: PrepareMediaPort['chunks'] = async (file, model, policy, opts) => {
    this.calls.chunks.push({
      info: opts.info,
      decision: opts.decision?.kind,
      targetS: policy.targetS,
      maxChunks: policy.maxChunks,
      base64MaxChars: policy.base64MaxChars,
      silencesAlways: opts.silencesAlways,
    });
    if (this.hang) await aborted(opts.signal);
    const info = opts.info ?? (await this.probe(file, opts));
    await mkdir(opts.outDir, { recursive: true });
    const decision = opts.decision ?? planPrepare(info, model, policy);
    if (decision.kind === 'as-is') {
      const { format } = decision.plan.encode;
      const out = path.join(opts.outDir, `chunk-0000.${format}`);
      await copyFile(file, out);
      return { info, plan: decision.plan, chunks: [cut(0, out, 0, info.durationS, 0, info.sizeBytes, format)], silences: this.silences };
    }
    const plan = planChunks(info, model, policy);
    const chunks: CutChunk[] = [];
    for (const c of plan.chunks) {
      const out = path.join(opts.outDir, `chunk-${String(c.index).padStart(4, '0')}.${plan.encode.format}`);
      await writeFile(out, `${plan.encode.format} ${c.startS}-${c.endS}`);
      chunks.push(cut(c.index, out, c.startS, c.endS, c.overlapS, 100, plan.encode.format));
    }
    return { info, plan, chunks, silences: this.silences };
  };
}

function cut(index: number, file: string, startS: number, endS: number, overlapS: number, bytes: number, format: string): CutChunk {
  return { index, file, startS, endS, durationS: endS - startS, overlapS, bytes, base64Chars: base64Chars(bytes), format };
}

function aborted(signal?: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return reject(new Error('FakeMedia: hang without a signal would never end'));
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
