/**
 * finalize: all chunk results of a file -> stitched on the source's timeline -> the task's outputs, then the
 * result JSON last (its presence means "done" to a later run's scanner) -> the file succeeds -> staging goes.
 */
import path from 'node:path';
import type { Job } from 'bullmq';
import { addCost, ZERO_COST } from '../cost/price.ts';
import type { FinalizePayload } from '../jobs/catalog.ts';
import { addUsage, emptyUsage } from '../models/types.ts';
import { renderFileOutputs } from './render.ts';
import { resultSecret } from '../app/result-secret.ts';
import { sha256Hex, signResult } from '../outputs/signature.ts';
import type { ChunkResult } from '../runs/types.ts';
import { outputKey } from '../storage/keys.ts';
import { withTempDir } from '../storage/temp.ts';
import { TASK_SPECS } from '../tasks/catalog.ts';
import { OmniError } from '../util/errors.ts';
import { concatWavFiles } from '../media/wav-concat.ts';
import type { JobContext } from '../app/context.ts';
import { finishFile, isFileOpen, isSuperseded, stagedKey } from '../lifecycle/file-state.ts';
import type { StagedFile } from './prepare.ts';

export async function finalize(job: Job<FinalizePayload>, ctx: JobContext): Promise<{ outputs: string[] } | { skipped: string }> {
  const { runId, fileId, key } = job.data;
  const spec = await ctx.spec(runId);
  if (!(await isFileOpen(ctx, runId, fileId))) return { skipped: 'file already finished' };
  if (await isSuperseded(ctx, runId, fileId, job.data.generation)) return { skipped: 'file re-planned' };
  const dst = ctx.storage(spec.destination);
  const file = await ctx.runs.file(runId, fileId);
  const prepared = await readJson<StagedFile>(dst, stagedKey(runId, fileId, job.data.generation, 0, 'prepared.json'));
  const chunks: ChunkResult[] = [];
  for (let i = 0; i < job.data.chunks; i++) {
    const r = await readJson<ChunkResult>(dst, stagedKey(runId, fileId, job.data.generation, i, 'result.json'));
    if (r) chunks.push(r);
  }
  if (!prepared || chunks.length !== job.data.chunks) {
    // A parent runs only after all its children succeeded; a missing result means staging was lost.
    throw new OmniError('staging_missing', `staging for ${key} is incomplete (${chunks.length}/${job.data.chunks} chunk results)`);
  }
  chunks.sort((a, b) => a.index - b.index);
  const usage = chunks.reduce((u, c) => addUsage(u, c.usage), emptyUsage());
  const cost = chunks.reduce((a, c) => addCost(a, c.cost), ZERO_COST);
  const ts = TASK_SPECS[spec.task];

  const rendered = renderFileOutputs({
    spec,
    file: file!,
    durationS: prepared.durationS,
    chunks,
    usage,
    cost,
    overlapS: spec.overlapSeconds ?? ts.policy.overlapS,
    speech: new Map(prepared.chunks.flatMap((c) => (c.speech ? [[c.index, c.speech] as const] : []))),
  });
  const written: string[] = [];
  for (const body of Object.values(rendered.files)) {
    await dst.putText(body.key, body.text, body.contentType);
    written.push(body.key);
  }
  if (ts.wantsAudioOut) {
    await withTempDir(
      `fin-${fileId}`,
      async (dir) => {
        const parts: string[] = [];
        for (const c of chunks) {
          if (!c.audioKey) continue;
          const f = path.join(dir, `${c.index}.wav`);
          await dst.download(c.audioKey, f);
          parts.push(f);
        }
        const out = path.join(dir, 'all.wav');
        await concatWavFiles(parts, out);
        await dst.upload(out, outputKey(key, 'wav'), 'audio/wav');
        written.push(outputKey(key, 'wav'));
      },
      { base: ctx.cfg.tmpDir },
    );
  }
  // Last: the result JSON, signed with the digests of the text outputs just written (outputs/signature.ts): the
  // next run's scanner skips the object only on a result this deployment wrote, whose outputs are unchanged.
  // A reader (and that scanner) never sees a result whose outputs are missing.
  const base = key.slice(key.lastIndexOf('/') + 1);
  const digests = Object.fromEntries(Object.entries(rendered.files).map(([ext, body]) => [`${base}.${ext}`, sha256Hex(body.text)]));
  await dst.putJson(outputKey(key, 'json'), signResult(rendered.result, digests, await resultSecret(ctx)));
  written.push(outputKey(key, 'json'));

  await finishFile(ctx, runId, fileId, {
    status: 'succeeded',
    durationS: prepared.durationS,
    chunks: chunks.length,
    requests: chunks.reduce((n, c) => n + c.requests, 0),
    usage,
    costMicros: cost.amountMicros,
    currency: cost.currency,
    priced: cost.priced,
    ...(rendered.flagged && { flagged: rendered.flagged }),
  });
  return { outputs: written };
}

async function readJson<T>(dst: ReturnType<JobContext['storage']>, key: string): Promise<T | undefined> {
  const raw = await dst.getText(key);
  return raw ? (JSON.parse(raw) as T) : undefined;
}
