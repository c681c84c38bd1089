/**
 * The dashboard's per-file rows and review queue, pure: a file's state, chunks done of planned, retries, cost,
 * failure code and a link to each of its outputs (served by the dashboard itself), and, for moderation, its
 * verdict in brief and the reviewer's decision.
 */
import type { ModerationBrief } from '../outputs/review-queue.ts';
import type { FileReview, FileState } from '../runs/types.ts';
import { TASK_SPECS, type Task } from '../tasks/catalog.ts';
import { costText } from './view.ts';

export interface FileRowView {
  fileId: string;
  uri: string;
  status: FileState['status'];
  code: string | null;
  message: string | null;
  chunks: { done: number | null; planned: number | null };
  retries: number | null;
  cost: { micros: number | null; text: string };
  durationS: number | null;
  outputs: { name: string; href: string }[];
  /** the source, played through the dashboard (moderation review) */
  media: string;
  moderation: ModerationBrief | null;
  review: FileReview | null;
}

export const fileHref = (runId: string, fileId: string): string => `api/runs/${encodeURIComponent(runId)}/files/${encodeURIComponent(fileId)}`;

/** The outputs a finished file has, by name after its key ('json' is the result, written last). */
export function outputNames(task: Task, reviewed: boolean): string[] {
  return [...TASK_SPECS[task].outputs, 'json', ...(reviewed ? ['review.json'] : [])];
}

export function fileRowView(
  runId: string,
  task: Task,
  fileId: string,
  f: FileState,
  facts: { planned?: number; chunksDone?: number; review?: FileReview },
): FileRowView {
  const finished = f.status !== 'pending';
  const href = fileHref(runId, fileId);
  const outputs = f.status === 'succeeded' ? outputNames(task, Boolean(facts.review)).map((name) => ({ name, href: `${href}/outputs/${name}` })) : [];
  const planned = facts.planned ?? (f.status === 'succeeded' ? (f.chunks ?? null) : null);
  const done = f.status === 'succeeded' ? (f.chunks ?? planned) : (facts.chunksDone ?? null);
  return {
    fileId,
    uri: f.uri,
    status: f.status,
    code: f.code ?? null,
    message: f.message ? f.message.slice(0, 300) : null,
    chunks: { done, planned },
    retries: finished && f.requests !== undefined ? Math.max(0, f.requests - (f.chunks ?? f.requests)) : null,
    cost: {
      micros: f.costMicros ?? null,
      text: f.costMicros === undefined && f.priced === undefined ? (finished ? '-' : '…') : costText(f.costMicros ?? 0, f.currency ?? null, f.priced ?? true),
    },
    durationS: f.durationS ?? null,
    outputs,
    media: `${href}/media`,
    moderation: f.moderation ?? null,
    review: facts.review ?? null,
  };
}

/** The list's order: what needs a look first (failed, then pending), then by URI. */
export function compareRows(a: FileRowView, b: FileRowView): number {
  const order = (r: FileRowView) => (r.status === 'failed' ? 0 : r.status === 'pending' ? 1 : r.status === 'not_run' ? 2 : 3);
  return order(a) - order(b) || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0);
}
