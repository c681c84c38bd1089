/**
 * The task fingerprint: what makes two results of the same object interchangeable. A new run skips an
 * object whose result carries the same ETag and the same fingerprint. Anything that changes the answer
 * (task, model, prompt, voice, chunk policy, protocol when given, and the options that shape the outputs:
 * language, translation, subtitle limits, output names) changes it; key order and absent vs undefined do not,
 * so a run without those options keeps the fingerprint it always had.
 */
import { createHash } from 'node:crypto';
import type { Protocol } from '../models/types.ts';
import type { ChunkPolicy, Task } from '../tasks/catalog.ts';

/** Bump when the meaning of the inputs changes, so old results stop matching. */
const SCHEME = 1;

export interface FingerprintInput {
  task: Task;
  model: string;
  prompt?: string;
  voice?: string;
  chunkPolicy: ChunkPolicy;
  protocol?: Protocol;
  /** what the run's outputs look like: --language, --translate-to, the subtitle limits, --output-name */
  outputs?: {
    language?: string;
    translateTo?: string;
    subtitles?: { maxLineChars?: number; maxLines?: number; maxCueSeconds?: number; maxCps?: number };
    outputName?: string;
  };
}

/** JSON with object keys sorted at every depth and undefined members dropped: one text per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** 16 hex characters (64 bits) of sha256 over the canonical JSON. */
export function taskFingerprint(input: FingerprintInput): string {
  const body = {
    v: SCHEME,
    task: input.task,
    model: input.model,
    // An empty prompt or voice asks for the same thing as none.
    prompt: input.prompt || undefined,
    voice: input.voice || undefined,
    chunkPolicy: input.chunkPolicy,
    protocol: input.protocol,
    // absent when every member is: runs without these options keep their fingerprints
    outputs: input.outputs && canonicalJson(input.outputs) !== '{}' ? input.outputs : undefined,
  };
  return createHash('sha256').update(canonicalJson(body)).digest('hex').slice(0, 16);
}
