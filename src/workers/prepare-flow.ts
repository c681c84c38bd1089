/** What a prepared file hands on, as data: its staged chunks, and the flow of one finalize parent with an infer child per chunk. */
import type { FlowJob } from 'bullmq';
import { type FinalizePayload, type InferPayload, jobIds, type PreparePayload } from '../jobs/catalog.ts';
import { QUEUE_POLICY } from '../jobs/policy.ts';
import { queueName } from '../jobs/queues.ts';

/** prepared.json in staging: what finalize reads back (a subtitle task's speech; the duration of a job queued by an older version). */
export interface StagedFile {
  durationS: number;
  chunks: {
    index: number;
    startS: number;
    endS: number;
    key: string;
    format: string;
    kind: 'audio' | 'video';
    /** tasks with subtitles: where the chunk has speech, on the source's timeline (media/speech.ts) */
    speech?: [number, number][];
  }[];
}

/** Ids derive from (run, file, chunk, generation): a redone prepare adds the same jobs, which BullMQ dedupes. */
export function inferFlow(d: PreparePayload, staged: StagedFile, video?: { width: number; height: number }, via?: 'batch'): FlowJob {
  const { runId, fileId, key } = d;
  const generation = d.generation ?? 0;
  const shrink = d.shrink ?? 0;
  // --via batch: each chunk's job is a Batch line (same payload), on its own queue: no RPM limiter or request slots
  const stage = via === 'batch' ? ('batch-line' as const) : ('infer' as const);
  const jobId = via === 'batch' ? jobIds.batchLine : jobIds.infer;
  const children = staged.chunks.map((c) => ({
    name: stage,
    queueName: queueName(stage),
    data: {
      runId,
      fileId,
      key,
      chunk: c.index,
      chunks: staged.chunks.length,
      startS: c.startS,
      endS: c.endS,
      stagingKey: c.key,
      format: c.format,
      kind: c.kind,
      generation,
      shrink,
      ...(video && { video: { width: video.width, height: video.height } }),
    } satisfies InferPayload,
    opts: { ...QUEUE_POLICY[stage].job, jobId: jobId(runId, fileId, c.index, generation), failParentOnFailure: true },
  }));
  return {
    name: 'finalize',
    queueName: queueName('finalize'),
    data: { runId, fileId, key, chunks: staged.chunks.length, generation, durationS: staged.durationS } satisfies FinalizePayload,
    opts: { ...QUEUE_POLICY.finalize.job, jobId: jobIds.finalize(runId, fileId, generation) },
    children,
  };
}
