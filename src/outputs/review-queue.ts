/**
 * The moderation review queue of a run, pure: each file's verdict in brief (kept with the file's state, so the
 * run's `moderation.jsonl` and `flagged.csv` need no read of 10,000 `.moderation.json` files), the order a
 * reviewer works in (flagged and needs-review first, worst first), the counts the report gives, and a
 * reviewer's decision (`<key>.review.json`, next to the result).
 */
import { z } from 'zod';
import { redactUrls } from '../util/redact.ts';
import { csvField } from './csv.ts';
import { type FileVerdict, SEVERITIES, type Severity } from './moderation.ts';

export const REVIEW_SCHEMA = 'omnibatch.review/v1';
/** A span's evidence as kept in the run's state and its jsonl: the model's words, cut (the whole is in the .moderation.json). */
export const EVIDENCE_CHARS = 300;
/** Spans kept per file in the run's state: the worst file of a run must not bloat Redis; the .moderation.json has all. */
export const SPANS_KEPT = 50;

export type VerdictName = 'flagged' | 'clear' | 'provider_blocked';

export interface ReviewSpan {
  start_s: number;
  end_s: number;
  category: string;
  severity: Severity;
  evidence: string;
}

/** One file's verdict in brief: what the queue, the jsonl and the counts need. */
export interface ModerationBrief {
  verdict: VerdictName;
  categories: string[];
  max_severity: Severity | null;
  needs_review: boolean;
  spans: ReviewSpan[];
  /** spans beyond SPANS_KEPT (then read the .moderation.json) */
  more_spans?: number;
}

const rank = (s: Severity | null | undefined): number => (s ? SEVERITIES.indexOf(s) : -1);

export function moderationBrief(v: FileVerdict): ModerationBrief {
  const severityOf = new Map(v.categories.map((c) => [c.name, c.severity]));
  const max = v.categories.reduce<Severity | null>((m, c) => (rank(c.severity) > rank(m) ? c.severity : m), null);
  const spans = v.segments.map((s) => ({
    start_s: s.start_s,
    end_s: s.end_s,
    category: s.category,
    severity: severityOf.get(s.category) ?? 'low',
    evidence: s.evidence.slice(0, EVIDENCE_CHARS),
  }));
  return {
    verdict: v.status === 'provider_blocked' ? 'provider_blocked' : v.flagged ? 'flagged' : 'clear',
    categories: v.categories.map((c) => c.name),
    max_severity: max,
    needs_review: v.needs_review,
    spans: spans.slice(0, SPANS_KEPT),
    ...(spans.length > SPANS_KEPT && { more_spans: spans.length - SPANS_KEPT }),
  };
}

// ---- decisions ----------------------------------------------------------------------------------------

export const DECISIONS = ['confirm', 'clear'] as const;
export type Decision = (typeof DECISIONS)[number];

export const decisionInputSchema = z.object({
  decision: z.enum(DECISIONS),
  note: z.string().max(2000).default(''),
});
export type DecisionInput = z.infer<typeof decisionInputSchema>;

export interface ReviewDoc {
  schema: typeof REVIEW_SCHEMA;
  run_id: string;
  uri: string;
  /** the result the decision is about, relative to the run's destination */
  result_key: string;
  decision: Decision;
  note: string;
  /** who decided, when the dashboard knows (a basic-auth user name) */
  reviewer: string | null;
  decided_at: string;
  /** the verdict the reviewer saw */
  verdict: VerdictName;
}

export function reviewDoc(
  input: DecisionInput & { runId: string; uri: string; resultKey: string; reviewer?: string; verdict: VerdictName; at: Date },
): ReviewDoc {
  return {
    schema: REVIEW_SCHEMA,
    run_id: input.runId,
    uri: redactUrls(input.uri),
    result_key: input.resultKey,
    decision: input.decision,
    note: input.note,
    reviewer: input.reviewer ?? null,
    decided_at: input.at.toISOString(),
    verdict: input.verdict,
  };
}

// ---- the queue ------------------------------------------------------------------------------------------

export interface QueueFile {
  fileId: string;
  uri: string;
  key: string;
  status: string;
  moderation?: ModerationBrief;
  review?: Pick<ReviewDoc, 'decision' | 'note' | 'decided_at' | 'reviewer'>;
}

/**
 * The order a reviewer works in: undecided before decided, flagged or needs-review before clear, worst
 * severity first, then the most spans, then by URI (stable across polls).
 */
export function compareForReview(a: QueueFile, b: QueueFile): number {
  const open = (f: QueueFile) => (f.review ? 1 : 0);
  const attention = (f: QueueFile) => (f.moderation && (f.moderation.verdict !== 'clear' || f.moderation.needs_review) ? 0 : f.moderation ? 1 : 2);
  return (
    open(a) - open(b) ||
    attention(a) - attention(b) ||
    rank(b.moderation?.max_severity) - rank(a.moderation?.max_severity) ||
    (b.moderation?.spans.length ?? 0) - (a.moderation?.spans.length ?? 0) ||
    (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0)
  );
}

/** Worth a person's look: flagged, refused by the provider, or marked for review. */
export const needsAttention = (m: ModerationBrief | undefined): boolean => Boolean(m && (m.verdict !== 'clear' || m.needs_review));

// ---- run-level files ------------------------------------------------------------------------------------

/** One line of `moderation.jsonl`: every file of the run, a verdict or why there is none. */
export function moderationLine(f: QueueFile, resultKey: string): string {
  const m = f.moderation;
  return `${JSON.stringify({
    uri: redactUrls(f.uri),
    status: f.status,
    verdict: m?.verdict ?? null,
    categories: m?.categories ?? [],
    max_severity: m?.max_severity ?? null,
    needs_review: m?.needs_review ?? false,
    spans: m?.spans ?? [],
    ...(m?.more_spans && { more_spans: m.more_spans }),
    result_key: m ? resultKey : null,
    review: f.review ? { decision: f.review.decision, note: f.review.note, decided_at: f.review.decided_at } : null,
  })}\n`;
}

export const FLAGGED_CSV_COLUMNS = ['uri', 'verdict', 'max_severity', 'categories', 'needs_review', 'first_span_s', 'spans', 'result_key', 'review'] as const;

export function flaggedCsvHeader(): string {
  return `${FLAGGED_CSV_COLUMNS.join(',')}\n`;
}

/** A row for a file that needs a look (see needsAttention); '' for any other. */
export function flaggedCsvRow(f: QueueFile, resultKey: string): string {
  const m = f.moderation;
  if (!m || !needsAttention(m)) return '';
  const fields = [
    redactUrls(f.uri),
    m.verdict,
    m.max_severity ?? '',
    m.categories.join(';'),
    m.needs_review,
    m.spans.length ? m.spans[0].start_s : '',
    m.spans.length + (m.more_spans ?? 0),
    resultKey,
    f.review?.decision ?? '',
  ];
  return `${fields.map(csvField).join(',')}\n`;
}

// ---- counts ---------------------------------------------------------------------------------------------

export interface ReviewCounts {
  by_verdict: Record<VerdictName, number>;
  /** flagged files by their highest severity ('none': flagged without any category) */
  by_severity: Record<Severity | 'none', number>;
  needs_review: number;
  /** files a person should look at, and what the reviewers decided */
  to_review: number;
  decisions: { confirmed: number; cleared: number; pending: number };
}

export function emptyReviewCounts(): ReviewCounts {
  return {
    by_verdict: { flagged: 0, clear: 0, provider_blocked: 0 },
    by_severity: { high: 0, medium: 0, low: 0, none: 0 },
    needs_review: 0,
    to_review: 0,
    decisions: { confirmed: 0, cleared: 0, pending: 0 },
  };
}

/** Folds one file in (mutates the accumulator: a run of 100,000 files folds without copies). */
export function foldReview(acc: ReviewCounts, f: Pick<QueueFile, 'moderation' | 'review'>): ReviewCounts {
  const m = f.moderation;
  if (!m) return acc;
  acc.by_verdict[m.verdict]++;
  if (m.verdict !== 'clear') acc.by_severity[m.max_severity ?? 'none']++;
  if (m.needs_review) acc.needs_review++;
  if (needsAttention(m)) {
    acc.to_review++;
    if (!f.review) acc.decisions.pending++;
  }
  if (f.review?.decision === 'confirm') acc.decisions.confirmed++;
  if (f.review?.decision === 'clear') acc.decisions.cleared++;
  return acc;
}

/** A line for a terminal: "12 flagged (3 high), 4 need review, 2 confirmed, 1 cleared, 9 to decide". */
export function reviewLine(c: ReviewCounts): string {
  const sev = SEVERITIES.slice()
    .reverse()
    .filter((s) => c.by_severity[s] > 0)
    .map((s) => `${c.by_severity[s]} ${s}`);
  return [
    `${c.by_verdict.flagged} flagged${sev.length ? ` (${sev.join(', ')})` : ''}`,
    ...(c.by_verdict.provider_blocked ? [`${c.by_verdict.provider_blocked} refused by the provider`] : []),
    `${c.by_verdict.clear} clear`,
    `${c.needs_review} need review`,
    `${c.decisions.confirmed} confirmed`,
    `${c.decisions.cleared} cleared`,
    `${c.decisions.pending} to decide`,
  ].join(', ');
}
