/**
 * The result document `<key>.json` (docs/architecture.md "Outputs"): what was processed, how, what came out and
 * what it cost, chunk by chunk. The scanner re-reads it to decide whether a new run may skip the object.
 */
import { z } from 'zod';
import { addCost, type Cost, ZERO_COST } from '../cost/price.ts';
import type { Region } from '../models/catalog.ts';
import { addUsage, emptyUsage, PROTOCOLS, type Protocol, type Usage } from '../models/types.ts';
import { TASKS, type Task } from '../tasks/catalog.ts';
import { OmniError } from '../util/errors.ts';
import { costJson, costJsonSchema, usageJson, usageJsonSchema } from './amounts.ts';
import { checkSignature, SIGNATURE_ALG } from './signature.ts';

export const RESULT_SCHEMA = 'omnibatch.result/v1';

export interface ResultChunk {
  index: number;
  /** measured cut points on the source's timeline */
  startS: number;
  endS: number;
  text: string;
  usage: Usage;
  cost: Cost;
  /** requests made for this chunk, the successful one included */
  attempts: number;
  /** the provider refused the content (DataInspectionFailed) */
  providerBlocked?: boolean;
}

export interface ResultInput {
  source: { uri: string; key: string; etag: string; size: number; durationS: number; versionId?: string };
  task: Task;
  /** the model name as requested and sent (an alias or snapshot stays as given) */
  model: string;
  /** the catalogue id that name resolved to when the run was created (RunSpec.modelEntry), when known */
  modelId?: string;
  protocol: Protocol;
  region: Region;
  fingerprint: string;
  chunks: readonly ResultChunk[];
  /** the spoken language: given with --language, or named by the model when asked (--language auto) */
  language?: string;
  languageSource?: 'given' | 'detected';
  /** --translate-to: the text is in this language */
  translatedTo?: string;
  /** the stitched text (for moderation: the verdict's summary) */
  text: string;
  /** names of the other files written for this source (`b.mp3.txt`, `b.mp3.srt`, ...) */
  outputs: readonly string[];
  createdAt: Date | string;
}

const seconds = z.number().finite().nonnegative();

const chunkSchema = z
  .object({
    index: z.number().int().nonnegative(),
    start_s: seconds,
    end_s: seconds,
    text: z.string(),
    usage: usageJsonSchema,
    cost: costJsonSchema,
    attempts: z.number().int().nonnegative(),
    provider_blocked: z.boolean().optional(),
  })
  .refine((c) => c.end_s >= c.start_s, { message: 'chunk ends before it starts' });

export const resultDocSchema = z.object({
  schema: z.literal(RESULT_SCHEMA),
  source: z.object({
    uri: z.string().min(1),
    key: z.string().min(1),
    etag: z.string(),
    version_id: z.string().optional(),
    size: z.number().int().nonnegative(),
    duration_s: seconds,
  }),
  task: z.enum(TASKS),
  model: z.string().min(1),
  /** the catalogue entry whose limits and prices applied (absent in older results) */
  model_id: z.string().min(1).optional(),
  protocol: z.enum(PROTOCOLS as [Protocol, ...Protocol[]]),
  region: z.enum(['intl', 'cn']),
  fingerprint: z.string().min(1),
  chunks: z.array(chunkSchema).min(1),
  language: z.string().min(1).optional(),
  language_source: z.enum(['given', 'detected']).optional(),
  translated_to: z.string().min(1).optional(),
  text: z.string(),
  usage: usageJsonSchema,
  cost: costJsonSchema,
  outputs: z.array(z.string()),
  created_at: z.string().min(1),
  /** this deployment's HMAC over the document and its text outputs' digests (signature.ts) */
  signature: z.object({ alg: z.literal(SIGNATURE_ALG), digests: z.record(z.string(), z.string()), mac: z.string() }).optional(),
});
export type ResultDoc = z.infer<typeof resultDocSchema>;

/** Sums cost over chunks; one file is priced in one currency, anything else is a bug upstream. */
export function sumCosts(costs: readonly Cost[]): Cost {
  let total: Cost = ZERO_COST;
  for (const c of costs) {
    if (total.currency && c.currency && total.currency !== c.currency) {
      throw new OmniError('cost_currency_mismatch', `cannot add ${c.currency} to ${total.currency}`);
    }
    total = addCost(total, c);
  }
  return total;
}

export function buildResult(input: ResultInput): ResultDoc {
  const chunks = [...input.chunks].sort((a, b) => a.index - b.index);
  const usage = chunks.reduce((u, c) => addUsage(u, c.usage), emptyUsage());
  const cost = sumCosts(chunks.map((c) => c.cost));
  const { source } = input;
  return {
    schema: RESULT_SCHEMA,
    source: {
      uri: source.uri,
      key: source.key,
      etag: source.etag,
      ...(source.versionId !== undefined && { version_id: source.versionId }),
      size: source.size,
      duration_s: source.durationS,
    },
    task: input.task,
    model: input.model,
    ...(input.modelId && { model_id: input.modelId }),
    protocol: input.protocol,
    region: input.region,
    fingerprint: input.fingerprint,
    chunks: chunks.map((c) => ({
      index: c.index,
      // A chunk's last mp3 frame (or a cut landing on it) can reach past the source: never past its length.
      start_s: Math.min(c.startS, source.durationS),
      end_s: Math.min(c.endS, source.durationS),
      text: c.text,
      usage: usageJson(c.usage),
      cost: costJson(c.cost),
      attempts: c.attempts,
      ...(c.providerBlocked && { provider_blocked: true }),
    })),
    ...(input.language && { language: input.language, ...(input.languageSource && { language_source: input.languageSource }) }),
    ...(input.translatedTo && { translated_to: input.translatedTo }),
    text: input.text,
    usage: usageJson(usage),
    cost: costJson(cost),
    outputs: [...input.outputs],
    created_at: typeof input.createdAt === 'string' ? input.createdAt : input.createdAt.toISOString(),
  };
}

export type Validation = { ok: true; doc: ResultDoc } | { ok: false; reason: string };

/** Parses (when given text or bytes) and validates a result document. */
export function validateResultDoc(json: unknown): Validation {
  let value = json;
  if (typeof json === 'string' || json instanceof Uint8Array) {
    const text = typeof json === 'string' ? json : Buffer.from(json).toString('utf8');
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { ok: false, reason: `not JSON: ${(err as Error).message}` };
    }
  }
  const parsed = resultDocSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${issue.path.join('.') || '(root)'}: ${issue.message}` };
  }
  return { ok: true, doc: parsed.data };
}

export type ReuseDecision =
  | { reusable: true; doc: ResultDoc }
  | { reusable: false; reason: 'malformed' | 'empty' | 'etag_changed' | 'fingerprint_changed' | 'unsigned' | 'forged'; detail: string };

/** S3 sends ETags quoted and some listings do not; a weak validator prefix is not part of the value either. */
export function normalizeEtag(etag: string): string {
  return etag
    .trim()
    .replace(/^W\//u, '')
    .replace(/^"(.*)"$/u, '$1');
}

/**
 * Whether an existing result can stand for this object under this task: well-formed, with text, for the
 * same bytes (ETag) and the same task fingerprint. An empty text is never reused: it is what a cut-short
 * or failed write looks like, and redoing it is cheaper than keeping a hole.
 */
export function checkReusable(json: unknown, etag: string, fingerprint: string, secret?: string): ReuseDecision {
  const v = validateResultDoc(json);
  if (!v.ok) return { reusable: false, reason: 'malformed', detail: v.reason };
  const doc = v.doc;
  // Only a result this deployment signed stands for the object (signature.ts); its outputs' digests are the caller's.
  if (secret !== undefined) {
    const sig = checkSignature(json as Record<string, unknown>, secret);
    if (!sig.ok) return { reusable: false, reason: sig.reason, detail: sig.detail };
  }
  if (!doc.text.trim()) return { reusable: false, reason: 'empty', detail: 'the result has no text' };
  if (normalizeEtag(doc.source.etag) !== normalizeEtag(etag)) {
    return { reusable: false, reason: 'etag_changed', detail: `result is for ETag ${doc.source.etag}, object has ${etag}` };
  }
  if (doc.fingerprint !== fingerprint) {
    return { reusable: false, reason: 'fingerprint_changed', detail: `result fingerprint ${doc.fingerprint}, run has ${fingerprint}` };
  }
  return { reusable: true, doc };
}

export function isReusableResult(json: unknown, etag: string, fingerprint: string, secret?: string): boolean {
  return checkReusable(json, etag, fingerprint, secret).reusable;
}
