/**
 * The Batch (file input) contract as the provider documents it (docs/protocols.md "Batch (file input)"):
 * the limits, the statuses, which models each region serves, the completion window and the metadata
 * rules. Pure data and pure checks; every number is a default the emulator's options may override.
 */
import type { Region } from '../../models/catalog.ts';

const MB = 1024 * 1024;

export interface BatchLimits {
  /** requests per input file: "Up to 50,000 requests per file" */
  maxRequests: number;
  /** bytes per input file: "no larger than 500 MB" (OpenAI: 200 MB) */
  maxFileBytes: number;
  /** bytes per JSONL line: "Each JSON object up to 6 MB" */
  maxLineBytes: number;
  /** batch-test-model: "max 1 MB size and 100 lines" */
  testMaxFileBytes: number;
  testMaxRequests: number;
  /** completion_window: "Range: 24h to 336h (integers only)", units h and d */
  minWindowHours: number;
  maxWindowHours: number;
}

export const DEFAULT_BATCH_LIMITS: Readonly<BatchLimits> = Object.freeze({
  maxRequests: 50_000,
  maxFileBytes: 500 * MB,
  maxLineBytes: 6 * MB,
  testMaxFileBytes: 1 * MB,
  testMaxRequests: 100,
  minWindowHours: 24,
  maxWindowHours: 336,
});

export const BATCH_STATUSES = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
export const TERMINAL_STATUSES: readonly BatchStatus[] = ['completed', 'failed', 'expired', 'cancelled'];

/** The free test model: it skips inference and answers a fixed text (the page's "Getting started"). */
export const TEST_MODEL = 'batch-test-model';
export const TEST_ENDPOINT = '/v1/chat/ds-test';
export const CHAT_ENDPOINT = '/v1/chat/completions';
export const TEST_ANSWER = 'This is a test result.';
/** The usage of the page's two sample test lines (different prompts, the same counts): fixed. */
export const TEST_USAGE = { completion_tokens: 6, prompt_tokens: 20, total_tokens: 26 } as const;

/** Batch bills every successful line at this share of the real-time price ("50%", and seed 004:71). */
export const BATCH_PRICE_RATE = 0.5;

export interface BatchServed {
  /** the exact name a line's body.model must carry */
  name: string;
  /** Batch's own context ceiling (the page: 256K for the qwen3.5 omni models in Batch) */
  maxInputTokens?: number;
  source: string;
}

const PAGE = 'Alibaba Cloud Model Studio, "OpenAI compatible - Batch (file input)"';

/**
 * The models of our catalogue each region's Batch serves. Beijing: the stable qwen-omni-turbo (seed 004:71
 * "稳定版模型qwen-omni-turbo支持Batch调用") and qwen3.5-omni-plus (the current page, text output only,
 * 256K context). Singapore serves text models only (qwen-max, -plus, -flash, -turbo): no omni model.
 * The test model is served in both. Text-only models the emulator cannot answer are not listed.
 */
export const BATCH_SERVED: Readonly<Record<Region, readonly BatchServed[]>> = Object.freeze({
  cn: [
    { name: 'qwen-omni-turbo', source: '004_d822c83e2c1d0130.txt:71' },
    { name: 'qwen3.5-omni-plus', maxInputTokens: 256 * 1024, source: `${PAGE}, China (Beijing), Important` },
    { name: TEST_MODEL, source: `${PAGE}, Getting started` },
  ],
  intl: [{ name: TEST_MODEL, source: `${PAGE}, Getting started` }],
});

export function batchServed(region: Region, model: string): BatchServed | undefined {
  return BATCH_SERVED[region].find((s) => s.name === model);
}

export const REGION_NAMES: Readonly<Record<Region, string>> = { cn: 'China (Beijing)', intl: 'Singapore' };

/** The endpoint a model's lines must name (the test model has its own). */
export function endpointFor(model: string): string {
  return model === TEST_MODEL ? TEST_ENDPOINT : CHAT_ENDPOINT;
}

/** "24h", "14d" -> hours; a string naming why it is refused otherwise. */
export function parseCompletionWindow(v: unknown, limits: Pick<BatchLimits, 'minWindowHours' | 'maxWindowHours'>): number | string {
  const m = typeof v === 'string' ? /^([1-9]\d*)([hd])$/.exec(v) : null;
  if (!m) return 'completion_window must be an integer number of hours or days, such as "24h" or "14d".';
  const hours = Number(m[1]) * (m[2] === 'd' ? 24 : 1);
  if (hours < limits.minWindowHours || hours > limits.maxWindowHours)
    return `completion_window must be between ${limits.minWindowHours}h and ${limits.maxWindowHours}h, got ${v}.`;
  return hours;
}

/** OpenAI's metadata rule (16 pairs, keys <= 64, values <= 512 characters) and Alibaba's ds_name (100) / ds_description (200). */
export function metadataRefusal(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return 'metadata must be an object of string values.';
  const entries = Object.entries(v);
  if (entries.length > 16) return 'metadata may hold at most 16 key-value pairs.';
  for (const [k, val] of entries) {
    if (typeof val !== 'string') return `metadata.${k} must be a string.`;
    if (k.length > 64) return 'metadata keys may be at most 64 characters.';
    if (val.length > 512) return `metadata.${k} may be at most 512 characters.`;
  }
  const rec = v as Record<string, string>;
  if ((rec.ds_name?.length ?? 0) > 100) return 'metadata.ds_name may be at most 100 characters.';
  if ((rec.ds_description?.length ?? 0) > 200) return 'metadata.ds_description may be at most 200 characters.';
  return undefined;
}
