/**
 * finalize: all chunk results of a file -> stitched on the source's timeline -> the task's outputs, then the
 * result JSON last (its presence means "done" to a later run's scanner) -> the file succeeds -> staging goes.
 * The decision is finalize-decide.ts's planFinalize; this file runs it over narrow ports (fakes:
 * test/fakes/finalize.ts).
 */
import path from 'node:path';
import type { Job } from 'bullmq';
import type { FinalizePayload } from '../jobs/catalog.ts';
import { renderFileOutputs } from './render.ts';
import { resultSecret } from '../app/result-secret.ts';
import { sha256Hex, signResult } from '../outputs/signature.ts';
import type { ChunkResult, FileState, RunSpec } from '../runs/types.ts';
import { outputKey } from '../storage/keys.ts';
import { withTempDir } from '../storage/temp.ts';
import type { Storage } from '../storage/types.ts';
import { TASK_SPECS } from '../tasks/catalog.ts';
import type { Logger } from '../util/logger.ts';
import { concatWavFiles } from '../media/wav-concat.ts';
import type { JobContext } from '../app/context.ts';
import { finishFile, isFileOpen, isSuperseded, stagedKey } from '../lifecycle/file-state.ts';
import type { StagedFile } from './prepare.ts';
import { planFinalize } from './finalize-decide.ts';

/** Everything finalize touches. */
export interface FinalizePorts {
  spec(runId: string): Promise<RunSpec>;
  runs: {
    /** true while the file is pending (and, when it is not, the run's report is made sure of) */
    isFileOpen(runId: string, fileId: string): Promise<boolean>;
    isSuperseded(runId: string, fileId: string, generation: number | undefined): Promise<boolean>;
    file(runId: string, fileId: string): Promise<FileState | undefined>;
    finishFile(runId: string, fileId: string, patch: Partial<FileState> & Pick<FileState, 'status'>): Promise<void>;
  };
  storage(location: string): Pick<Storage, 'getText' | 'putText' | 'putJson' | 'download' | 'upload'>;
  /** speak: the chunks' WAVs joined into one (media/wav-concat.ts) */
  concatWav(parts: readonly string[], out: string): Promise<unknown>;
  /** the deployment's result secret, which signs the result (outputs/signature.ts) */
  resultSecret(): Promise<string>;
  tmpDir?: string;
  log: Logger;
}

export function finalizePorts(ctx: JobContext): FinalizePorts {
  return {
    spec: (runId) => ctx.spec(runId),
    runs: {
      isFileOpen: (runId, fileId) => isFileOpen(ctx, runId, fileId),
      isSuperseded: (runId, fileId, generation) => isSuperseded(ctx, runId, fileId, generation),
      file: (runId, fileId) => ctx.runs.file(runId, fileId),
      finishFile: (runId, fileId, patch) => finishFile(ctx, runId, fileId, patch),
    },
    storage: (location) => ctx.storage(location),
    concatWav: concatWavFiles,
    resultSecret: () => resultSecret(ctx),
    tmpDir: ctx.cfg.tmpDir,
    log: ctx.log,
  };
}

export async function finalize(job: Job<FinalizePayload>, ctx: JobContext): Promise<{ outputs: string[] } | { skipped: string }> {
  return runFinalize(job.data, finalizePorts(ctx));
}

export async function runFinalize(d: FinalizePayload, p: FinalizePorts): Promise<{ outputs: string[] } | { skipped: string }> {
  const { runId, fileId, key } = d;
  const spec = await p.spec(runId);
  if (!(await p.runs.isFileOpen(runId, fileId))) return { skipped: 'file already finished' };
  if (await p.runs.isSuperseded(runId, fileId, d.generation)) return { skipped: 'file re-planned' };
  const dst = p.storage(spec.destination);
  const file = await p.runs.file(runId, fileId);
  // prepared.json carries each chunk's measured speech (subtitle cues); the duration comes with the payload
  // (prepared.json's only for a job queued by an older version).
  const prepared = await readJson<StagedFile>(dst, stagedKey(runId, fileId, d.generation, 0, 'prepared.json'));
  const durationS = d.durationS ?? prepared?.durationS;
  const found: ChunkResult[] = [];
  for (let i = 0; i < d.chunks; i++) {
    const r = await readJson<ChunkResult>(dst, stagedKey(runId, fileId, d.generation, i, 'result.json'));
    if (r) found.push(r);
  }
  const plan = planFinalize({ key, expected: d.chunks, found, durationS });
  const { chunks, usage, cost } = plan;
  const ts = TASK_SPECS[spec.task];

  const rendered = renderFileOutputs({
    spec,
    file: file!,
    durationS: plan.durationS,
    chunks,
    usage,
    cost,
    overlapS: spec.overlapSeconds ?? ts.policy.overlapS,
    speech: new Map((prepared?.chunks ?? []).flatMap((c) => (c.speech ? [[c.index, c.speech] as const] : []))),
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
        await p.concatWav(parts, out);
        await dst.upload(out, outputKey(key, 'wav'), 'audio/wav');
        written.push(outputKey(key, 'wav'));
      },
      { base: p.tmpDir },
    );
  }
  // Last: the result JSON, signed with the digests of the text outputs just written (outputs/signature.ts): the
  // next run's scanner skips the object only on a result this deployment wrote, whose outputs are unchanged.
  // A reader (and that scanner) never sees a result whose outputs are missing.
  const base = key.slice(key.lastIndexOf('/') + 1);
  const digests = Object.fromEntries(Object.entries(rendered.files).map(([ext, body]) => [`${base}.${ext}`, sha256Hex(body.text)]));
  await dst.putJson(outputKey(key, 'json'), signResult(rendered.result, digests, await p.resultSecret()));
  written.push(outputKey(key, 'json'));

  await p.runs.finishFile(runId, fileId, {
    status: 'succeeded',
    durationS: plan.durationS,
    chunks: chunks.length,
    requests: plan.requests,
    usage,
    costMicros: cost.amountMicros,
    currency: cost.currency,
    priced: cost.priced,
    ...(rendered.flagged && { flagged: rendered.flagged }),
  });
  return { outputs: written };
}

async function readJson<T>(dst: Pick<Storage, 'getText'>, key: string): Promise<T | undefined> {
  const raw = await dst.getText(key);
  return raw ? (JSON.parse(raw) as T) : undefined;
}
