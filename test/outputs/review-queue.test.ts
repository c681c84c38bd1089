import { describe, expect, it } from 'vitest';
import type { FileVerdict } from '../../src/outputs/moderation.ts';
import {
  compareForReview,
  emptyReviewCounts,
  flaggedCsvHeader,
  flaggedCsvRow,
  foldReview,
  moderationBrief,
  moderationLine,
  type QueueFile,
  reviewDoc,
  reviewLine,
  SPANS_KEPT,
} from '../../src/outputs/review-queue.ts';

const verdict = (over: Partial<FileVerdict> = {}): FileVerdict => ({
  schema: 'omnibatch.moderation/v1',
  status: 'reviewed',
  flagged: true,
  needs_review: false,
  categories: [
    { name: 'violence', severity: 'high' },
    { name: 'hate', severity: 'low' },
  ],
  segments: [
    { start_s: 12.5, end_s: 14, category: 'violence', evidence: 'I will hurt you', chunk: 0 },
    { start_s: 40, end_s: 41, category: 'spam', evidence: 'x'.repeat(1000), chunk: 1 },
  ],
  summary: 'threats',
  chunks: [],
  ...over,
});

const file = (name: string, over: Partial<QueueFile> = {}): QueueFile => ({
  fileId: name,
  uri: `s3://b/in/${name}`,
  key: `in/${name}`,
  status: 'succeeded',
  ...over,
});

describe('review queue', () => {
  it('keeps a verdict in brief: verdict, categories, highest severity, spans with their severity and the model words (cut)', () => {
    const b = moderationBrief(verdict());
    expect(b).toMatchObject({ verdict: 'flagged', categories: ['violence', 'hate'], max_severity: 'high', needs_review: false });
    expect(b.spans[0]).toEqual({ start_s: 12.5, end_s: 14, category: 'violence', severity: 'high', evidence: 'I will hurt you' });
    // a category named only by a span counts as low; evidence is cut for the run's state
    expect(b.spans[1]).toMatchObject({ category: 'spam', severity: 'low' });
    expect(b.spans[1].evidence.length).toBe(300);
    expect(moderationBrief(verdict({ flagged: false, categories: [], segments: [] }))).toMatchObject({ verdict: 'clear', max_severity: null });
    expect(moderationBrief(verdict({ status: 'provider_blocked' })).verdict).toBe('provider_blocked');
    const many = verdict({
      segments: Array.from({ length: SPANS_KEPT + 7 }, (_, i) => ({ start_s: i, end_s: i + 1, category: 'violence', evidence: '', chunk: 0 })),
    });
    expect(moderationBrief(many)).toMatchObject({ more_spans: 7 });
    expect(moderationBrief(many).spans).toHaveLength(SPANS_KEPT);
  });

  it('puts undecided before decided, what needs a look before clear, the worst first', () => {
    const high = file('high.mp4', { moderation: moderationBrief(verdict()) });
    const low = file('low.mp4', { moderation: moderationBrief(verdict({ categories: [{ name: 'hate', severity: 'low' }] })) });
    const review = file('review.mp4', { moderation: { ...moderationBrief(verdict({ flagged: false, categories: [], segments: [] })), needs_review: true } });
    const clear = file('clear.mp4', { moderation: moderationBrief(verdict({ flagged: false, categories: [], segments: [] })) });
    const failed = file('failed.mp4', { status: 'failed' });
    const decided = file('decided.mp4', { moderation: moderationBrief(verdict()), review: { decision: 'clear', note: '', decided_at: 'x', reviewer: null } });
    const sorted = [clear, failed, decided, review, low, high].sort(compareForReview).map((f) => f.fileId);
    expect(sorted).toEqual(['high.mp4', 'low.mp4', 'review.mp4', 'clear.mp4', 'failed.mp4', 'decided.mp4']);
  });

  it('writes one jsonl line per file (a verdict or why none) and a CSV row per file to look at', () => {
    const flagged = file('a.mp4', { uri: 'https://h/a.mp4?X-Amz-Signature=secret', moderation: moderationBrief(verdict()) });
    const line = JSON.parse(moderationLine(flagged, 'in/a.mp4.json'));
    expect(line).toMatchObject({ verdict: 'flagged', max_severity: 'high', needs_review: false, result_key: 'in/a.mp4.json', review: null });
    expect(line.uri).not.toContain('secret');
    expect(line.spans).toHaveLength(2);
    expect(JSON.parse(moderationLine(file('b.mp3', { status: 'failed' }), 'in/b.mp3.json'))).toMatchObject({
      verdict: null,
      result_key: null,
      status: 'failed',
    });
    expect(flaggedCsvHeader()).toBe('uri,verdict,max_severity,categories,needs_review,first_span_s,spans,result_key,review\n');
    expect(flaggedCsvRow(flagged, 'in/a.mp4.json')).toBe('https://h/a.mp4?[redacted],flagged,high,violence;hate,false,12.5,2,in/a.mp4.json,\n');
    expect(flaggedCsvRow(file('c', { moderation: moderationBrief(verdict({ flagged: false, categories: [], segments: [] })) }), 'k')).toBe('');
  });

  it('counts verdicts, severities, needs_review and decisions; a decision document names what it decided', () => {
    const c = emptyReviewCounts();
    foldReview(c, { moderation: moderationBrief(verdict()), review: { decision: 'confirm', note: '', decided_at: 'x', reviewer: null } });
    foldReview(c, { moderation: { ...moderationBrief(verdict({ flagged: false, categories: [], segments: [] })), needs_review: true } });
    foldReview(c, { moderation: moderationBrief(verdict({ flagged: false, categories: [], segments: [] })) });
    foldReview(c, {});
    expect(c).toEqual({
      by_verdict: { flagged: 1, clear: 2, provider_blocked: 0 },
      by_severity: { high: 1, medium: 0, low: 0, none: 0 },
      needs_review: 1,
      to_review: 2,
      decisions: { confirmed: 1, cleared: 0, pending: 1 },
    });
    expect(reviewLine(c)).toBe('1 flagged (1 high), 2 clear, 1 need review, 1 confirmed, 0 cleared, 1 to decide');
    const doc = reviewDoc({ decision: 'clear', note: 'satire', runId: 'r', uri: 's3://b/a', resultKey: 'a.json', verdict: 'flagged', at: new Date(0) });
    expect(doc).toEqual({
      schema: 'omnibatch.review/v1',
      run_id: 'r',
      uri: 's3://b/a',
      result_key: 'a.json',
      decision: 'clear',
      note: 'satire',
      reviewer: null,
      decided_at: '1970-01-01T00:00:00.000Z',
      verdict: 'flagged',
    });
  });
});
