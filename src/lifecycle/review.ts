/**
 * A moderation run's review queue as people work it: the files to look at (from the run's state, worst first),
 * one file's whole verdict (its `.moderation.json`), and a reviewer's decision, written next to the result as
 * `<key>.review.json` and kept in the run's state so the report counts it.
 */
import type { Context } from '../app/context.ts';
import type { FileVerdict } from '../outputs/moderation.ts';
import {
  compareForReview,
  type DecisionInput,
  emptyReviewCounts,
  foldReview,
  needsAttention,
  type QueueFile,
  type ReviewCounts,
  type ReviewDoc,
  reviewDoc,
} from '../outputs/review-queue.ts';
import type { FileState } from '../runs/types.ts';
import { outputKey } from '../storage/keys.ts';
import { OmniError } from '../util/errors.ts';

export type ReviewPorts = Pick<Context, 'runs' | 'storage'>;

export interface ReviewQueue {
  /** the files to look at, in review order (at most `limit`) */
  files: QueueFile[];
  /** every file counted, also those past `limit` */
  counts: ReviewCounts;
  total: number;
}

/** Every file worth a look (flagged, refused by the provider, or marked for review), or with `all`, every file with a verdict. */
export async function reviewQueue(ctx: ReviewPorts, runId: string, opts: { limit?: number; all?: boolean } = {}): Promise<ReviewQueue> {
  const reviews = await ctx.runs.reviews(runId);
  const counts = emptyReviewCounts();
  const files: QueueFile[] = [];
  for await (const [fileId, f] of ctx.runs.files(runId)) {
    const q: QueueFile = { fileId, uri: f.uri, key: f.key, status: f.status, moderation: f.moderation, review: reviews.get(fileId) };
    foldReview(counts, q);
    if (opts.all ? q.moderation : needsAttention(q.moderation)) files.push(q);
  }
  files.sort(compareForReview);
  return { files: opts.limit === undefined ? files : files.slice(0, opts.limit), counts, total: files.length };
}

/** A file of the run, or run_not_found / file_not_found. */
export async function runFile(ctx: ReviewPorts, runId: string, fileId: string): Promise<FileState> {
  const f = await ctx.runs.file(runId, fileId);
  if (!f) throw new OmniError('file_not_found', `run ${runId} has no file ${fileId}`);
  return f;
}

/** The file's whole verdict as finalize wrote it (every span with the model's words), or undefined. */
export async function fileVerdict(ctx: ReviewPorts, destination: string, key: string): Promise<FileVerdict | undefined> {
  const raw = await ctx.storage(destination).getText(outputKey(key, 'moderation.json'));
  return raw ? (JSON.parse(raw) as FileVerdict) : undefined;
}

/**
 * Records a reviewer's decision: `<key>.review.json` next to the result (the record that outlives the run's
 * state), then the run's state (what the report counts). A later decision replaces the earlier one.
 */
export async function recordDecision(
  ctx: ReviewPorts,
  runId: string,
  fileId: string,
  input: DecisionInput & { reviewer?: string; now?: Date },
): Promise<ReviewDoc> {
  const spec = await ctx.runs.spec(runId);
  if (!spec) throw new OmniError('run_not_found', `no run ${runId}`);
  const f = await runFile(ctx, runId, fileId);
  if (!f.moderation) throw new OmniError('review_no_verdict', `${f.uri} has no moderation verdict to review (status ${f.status})`);
  const doc = reviewDoc({
    ...input,
    runId,
    uri: f.uri,
    resultKey: outputKey(f.key, 'json'),
    verdict: f.moderation.verdict,
    at: input.now ?? new Date(),
  });
  await ctx.storage(spec.destination).putJson(outputKey(f.key, 'review.json'), doc);
  await ctx.runs.setReview(runId, fileId, { decision: doc.decision, note: doc.note, decided_at: doc.decided_at, reviewer: doc.reviewer });
  return doc;
}
