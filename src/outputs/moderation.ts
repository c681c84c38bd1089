/**
 * Moderation verdicts: parse the model's answer (a JSON object, possibly fenced or wrapped in prose),
 * validate it, and merge the per-chunk verdicts into one file verdict on the source's timeline. The
 * model answers with times relative to its chunk; the file verdict's times are the source's.
 */
import { z } from 'zod';
import { MODERATION_PROMPT } from '../tasks/catalog.ts';
import { OmniError } from '../util/errors.ts';

export const MODERATION_SCHEMA = 'omnibatch.moderation/v1';
export const SEVERITIES = ['low', 'medium', 'high'] as const;
export type Severity = (typeof SEVERITIES)[number];
/** The category a provider refusal (DataInspectionFailed) is recorded under. */
export const PROVIDER_BLOCKED = 'provider_blocked';

const lower = (v: unknown): unknown => (typeof v === 'string' ? v.trim().toLowerCase() : v);
const categoryName = z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase().replace(/[\s-]+/gu, '_') : v), z.string().min(1));

export const verdictSchema = z.object({
  flagged: z.boolean(),
  categories: z.array(z.object({ name: categoryName, severity: z.preprocess(lower, z.enum(SEVERITIES)) })).default([]),
  segments: z.array(z.object({
    start_s: z.number().finite(),
    end_s: z.number().finite(),
    category: categoryName,
    evidence: z.string().default(''),
  })).default([]),
  summary: z.string().default(''),
});
export type Verdict = z.infer<typeof verdictSchema>;

export type VerdictErrorCode = 'verdict_no_json' | 'verdict_invalid_json' | 'verdict_schema';
export type VerdictParse = { ok: true; verdict: Verdict } | { ok: false; code: VerdictErrorCode; message: string };

/** Candidate JSON texts: fenced blocks first, then every balanced {...} in the text, outermost first. */
function candidates(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/```(?:json|JSON)?\s*\n?([\s\S]*?)```/gu)) out.push(m[1].trim());
  for (let i = text.indexOf('{'); i >= 0; i = text.indexOf('{', i + 1)) {
    const end = balancedEnd(text, i);
    if (end > i) out.push(text.slice(i, end + 1));
  }
  return out;
}

/** The index of the "}" closing the "{" at `start`, skipping braces inside strings; -1 if unbalanced. */
function balancedEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return i;
  }
  return -1;
}

export function parseVerdict(text: string): VerdictParse {
  let schemaError: string | undefined;
  let sawJsonLike = false;
  for (const candidate of candidates(text)) {
    let value: unknown;
    try {
      value = JSON.parse(candidate);
    } catch {
      // Models sometimes leave a trailing comma; one lenient retry, nothing cleverer.
      try { value = JSON.parse(candidate.replace(/,\s*([}\]])/gu, '$1')); } catch { sawJsonLike = true; continue; }
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) { sawJsonLike = true; continue; }
    const parsed = verdictSchema.safeParse(value);
    if (parsed.success) return { ok: true, verdict: parsed.data };
    const issue = parsed.error.issues[0];
    schemaError ??= `${issue.path.join('.') || '(root)'}: ${issue.message}`;
  }
  if (schemaError) return { ok: false, code: 'verdict_schema', message: `the verdict does not match the schema (${schemaError})` };
  if (sawJsonLike || text.includes('{')) return { ok: false, code: 'verdict_invalid_json', message: 'the answer contains no valid JSON object' };
  return { ok: false, code: 'verdict_no_json', message: 'the answer contains no JSON object' };
}

/** The prompt of the one repair retry: the same question, with what was wrong with the first answer. */
export function verdictRepairPrompt(failure: { message: string }): string {
  return `${MODERATION_PROMPT}\nYour previous answer could not be used: ${failure.message}. Reply with the JSON object only: no prose, no code fences.`;
}

/** The error to fail the chunk with when the repair retry did not help either. */
export function verdictError(failure: { code: VerdictErrorCode; message: string }): OmniError {
  return new OmniError(failure.code, failure.message, { retryable: false });
}

/** A refusal by the provider's content inspection is itself a verdict: flagged, for the whole chunk. */
export function providerBlockedVerdict(chunkDurationS: number, message = 'the provider refused to process this content'): Verdict {
  return {
    flagged: true,
    categories: [{ name: PROVIDER_BLOCKED, severity: 'high' }],
    segments: [{ start_s: 0, end_s: chunkDurationS, category: PROVIDER_BLOCKED, evidence: message }],
    summary: `Refused by the provider's content inspection: ${message}`,
  };
}

export interface ChunkVerdict {
  index: number;
  /** the chunk's measured range on the source's timeline */
  startS: number;
  endS: number;
  verdict: Verdict;
  providerBlocked?: boolean;
}

export interface FileVerdict {
  schema: typeof MODERATION_SCHEMA;
  /** `provider_blocked` when the provider refused at least one chunk */
  status: 'reviewed' | 'provider_blocked';
  flagged: boolean;
  categories: { name: string; severity: Severity }[];
  segments: { start_s: number; end_s: number; category: string; evidence: string; chunk: number }[];
  summary: string;
  chunks: { index: number; start_s: number; end_s: number; flagged: boolean; provider_blocked?: true; summary: string }[];
}

const rank = (s: Severity): number => SEVERITIES.indexOf(s);
const ms = (s: number): number => Math.round(s * 1000) / 1000;
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

function stamp(s: number): string {
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const mm = String(Math.floor((t % 3600) / 60)).padStart(2, '0');
  const ss = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * One verdict for the file: segments shifted by their chunk's start and clamped inside the chunk and the
 * duration, the highest severity per category (a category named only by a segment counts as low),
 * flagged when any chunk is.
 */
export function mergeVerdicts(chunks: readonly ChunkVerdict[], opts: { durationS: number }): FileVerdict {
  const ordered = [...chunks].sort((a, b) => a.startS - b.startS || a.index - b.index);
  const severity = new Map<string, Severity>();
  const raise = (name: string, s: Severity): void => {
    const had = severity.get(name);
    if (had === undefined || rank(s) > rank(had)) severity.set(name, s);
  };
  const segments: FileVerdict['segments'] = [];
  for (const c of ordered) {
    for (const cat of c.verdict.categories) raise(cat.name, cat.severity);
    const lo = clamp(c.startS, 0, opts.durationS);
    const hi = clamp(c.endS, lo, opts.durationS);
    for (const seg of c.verdict.segments) {
      if (!severity.has(seg.category)) raise(seg.category, 'low');
      const a = Math.min(seg.start_s, seg.end_s);
      const b = Math.max(seg.start_s, seg.end_s);
      segments.push({ start_s: ms(clamp(c.startS + a, lo, hi)), end_s: ms(clamp(c.startS + b, lo, hi)), category: seg.category, evidence: seg.evidence, chunk: c.index });
    }
  }
  segments.sort((x, y) => x.start_s - y.start_s || x.end_s - y.end_s);
  const flaggedChunks = ordered.filter((c) => c.verdict.flagged);
  const summaries = flaggedChunks.length > 0
    ? flaggedChunks.map((c) => (ordered.length > 1 ? `[${stamp(c.startS)}-${stamp(c.endS)}] ${c.verdict.summary}` : c.verdict.summary))
    : [...new Set(ordered.map((c) => c.verdict.summary.trim()))];
  return {
    schema: MODERATION_SCHEMA,
    status: ordered.some((c) => c.providerBlocked) ? 'provider_blocked' : 'reviewed',
    flagged: flaggedChunks.length > 0,
    categories: [...severity].map(([name, s]) => ({ name, severity: s }))
      .sort((x, y) => rank(y.severity) - rank(x.severity) || x.name.localeCompare(y.name)),
    segments,
    summary: summaries.map((s) => s.trim()).filter(Boolean).join(' '),
    chunks: ordered.map((c) => ({
      index: c.index,
      start_s: c.startS,
      end_s: c.endS,
      flagged: c.verdict.flagged,
      ...(c.providerBlocked && { provider_blocked: true as const }),
      summary: c.verdict.summary,
    })),
  };
}

/** Categories to count in the run report: those of a flagged file, none otherwise. */
export function flaggedCategories(v: FileVerdict): string[] {
  return v.flagged ? v.categories.map((c) => c.name) : [];
}

export function renderModerationJson(v: FileVerdict): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}
