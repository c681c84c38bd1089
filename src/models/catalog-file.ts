/**
 * A catalog file (`--catalog`, OMNIBATCH_CATALOG): model entries the user adds or corrects, merged over the
 * seeds' built-in ones, so a model the provider ships after the seeds is usable the day it ships. Validated
 * whole at load: one error lists every bad field. Prices are written as the provider's pages give them (units
 * of the currency per million tokens) and become integer micro-units here; every price table needs a source.
 *
 * An entry under a built-in id is merged field by field over it (objects deeply, arrays replaced; names by
 * name), so `{"qwen-omni-turbo": {"batch": {"cn": {"percent": 40, "source": "..."}}}}` changes one fact. An
 * entry under a new id is a new model and must say at least what the planner and the client cannot guess:
 * `newModelRequired` below.
 *
 * The Batch API's fact is the per-region offer (`batch.<region>`: the names it takes, its share of the price,
 * its outputs), the one structure `--via batch` pricing and refusals read; `null` says a region no longer
 * serves it. (An earlier file format had a model-wide `batchRate` that nothing read: refused, saying so.)
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OmniError } from '../util/errors.ts';
import { type BatchOffer, BUILT_IN, Catalog, type ModelSpec, type PriceTable, type TokenRules, withAliases } from './catalog.ts';
import { PROTOCOLS, type Protocol } from './types.ts';

const positive = z.number().positive();
const count = z.number().int().positive();
const source = z.string().min(1, 'say where this came from (a URL, a seed line, or "unverified")');
const media = z.strictObject({ maxSeconds: positive.optional(), maxBytes: count.optional() });
const voices = z.strictObject({
  names: z.array(z.string().min(1)),
  /** every voice the model has is listed (an unknown voice is then refused before sending) */
  closed: z.boolean().optional(),
  documented: z.number().int().nonnegative().optional(),
  source,
});
const protocol = z.enum(PROTOCOLS as [Protocol, ...Protocol[]]);
const price = z.number().nonnegative();
const priceTable = z.strictObject({
  currency: z.enum(['USD', 'CNY']),
  inputText: price.optional(),
  inputAudio: price.optional(),
  inputImage: price.optional(),
  inputVideo: price.optional(),
  outputTextTextOnly: price.optional(),
  outputTextMultimodal: price.optional(),
  outputAudio: price.optional(),
});

/** The Batch API in one region (catalog.ts BatchOffer); over a built-in offer only what changes, always its source. */
const batchOffer = z.strictObject({
  names: z.array(z.string().min(1)).min(1).optional(),
  percent: z.number().positive().max(100).optional(),
  outputs: z
    .array(z.enum(['text', 'audio']))
    .min(1)
    .optional(),
  maxContextTokens: count.optional(),
  source,
});

/** One entry as written: every field optional here (a built-in entry needs only what changes); see newModelRequired. */
const entrySchema = z.strictObject({
  names: z
    .array(z.strictObject({ name: z.string().min(1), protocols: z.array(protocol).min(1), voices: voices.optional(), source }))
    .min(1)
    .optional(),
  inputs: z
    .array(z.enum(['text', 'image', 'audio', 'video']))
    .min(1)
    .optional(),
  outputs: z
    .array(z.enum(['text', 'audio']))
    .min(1)
    .optional(),
  acceptsPrompt: z.boolean().optional(),
  supportsThinking: z.boolean().optional(),
  streamOnly: z.boolean().optional(),
  noSystemWithAudio: z.boolean().optional(),
  mixedMedia: z.boolean().optional(),
  voices: voices.optional(),
  defaultVoice: z.string().min(1).optional(),
  limits: z
    .strictObject({
      maxInputTokens: count.optional(),
      maxInputTokensThinking: count.optional(),
      maxOutputTokens: count.optional(),
      audio: media.optional(),
      video: media.extend({ minFrames: count.optional(), maxFrames: count.optional() }).optional(),
      imageMaxBytes: count.optional(),
      base64MaxChars: count.optional(),
      urlMaxBytes: count.optional(),
    })
    .optional(),
  tokens: z
    .strictObject({
      audioTokensPerSecond: positive.optional(),
      audioMinSeconds: z.number().nonnegative().optional(),
      patchPx: count.optional(),
      videoFps: positive.optional(),
      minPixelsPerFrame: count.optional(),
      maxPixelsPerFrame: count.optional(),
      maxPixelsTotal: count.optional(),
    })
    .optional(),
  prices: z.strictObject({ intl: priceTable.optional(), cn: priceTable.optional() }).optional(),
  priceSources: z.strictObject({ intl: source.optional(), cn: source.optional() }).optional(),
  batch: z.strictObject({ intl: batchOffer.nullable().optional(), cn: batchOffer.nullable().optional() }).optional(),
  /** the old model-wide Batch rate: accepted by the schema only to be refused with what to write instead */
  batchRate: z.unknown().optional(),
});
type Entry = z.infer<typeof entrySchema>;

const fileSchema = z.strictObject({ models: z.record(z.string().min(1), entrySchema) });

/** The qwen3 token rules (seed 003:11 for audio), which a new model's unspecified token fields take. */
const DEFAULT_TOKENS: TokenRules = BUILT_IN.models['qwen3-omni-flash'].tokens;

/** What a new model must state: the planner's ceilings, the billing rate, the names it is served under. */
function newModelRequired(id: string, e: Entry): string[] {
  const missing: string[] = [];
  const need = (ok: unknown, field: string) => {
    if (ok === undefined) missing.push(`models.${id}.${field}: required for a model the built-in catalogue lacks`);
  };
  need(e.names, 'names');
  need(e.inputs, 'inputs');
  need(e.outputs, 'outputs');
  need(e.limits?.maxInputTokens, 'limits.maxInputTokens');
  need(e.limits?.maxOutputTokens, 'limits.maxOutputTokens');
  need(e.tokens?.audioTokensPerSecond, 'tokens.audioTokensPerSecond');
  for (const kind of ['audio', 'video'] as const) {
    if (!e.inputs?.includes(kind)) continue;
    need(e.limits?.[kind]?.maxSeconds, `limits.${kind}.maxSeconds`);
    need(e.limits?.[kind]?.maxBytes, `limits.${kind}.maxBytes`);
  }
  if (e.inputs?.includes('video')) {
    need(e.limits?.video?.minFrames, 'limits.video.minFrames');
    need(e.limits?.video?.maxFrames, 'limits.video.maxFrames');
  }
  if (e.outputs?.includes('audio')) need(e.defaultVoice, 'defaultVoice');
  return missing;
}

/** Checks that hold across fields: a price table has its source; a name belongs to one model. */
function crossChecks(id: string, e: Entry, base: Catalog, claimed: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const region of ['intl', 'cn'] as const) {
    if (e.prices?.[region] && !e.priceSources?.[region] && !base.models[id]?.priceSources[region]) {
      problems.push(`models.${id}.priceSources.${region}: a price table needs its source (a URL, a seed line, or "unverified")`);
    }
  }
  problems.push(...batchChecks(id, e, base));
  const owner = base.find(id);
  if (owner && owner.id !== id) problems.push(`models.${id}: "${id}" is a name of the built-in ${owner.id}: put the entry under "${owner.id}"`);
  for (const n of e.names ?? []) {
    const other = base.find(n.name)?.id ?? claimed.get(n.name);
    if (other && other !== id) problems.push(`models.${id}.names: "${n.name}" is already a name of ${other}`);
    claimed.set(n.name, id);
  }
  return problems;
}

/** A Batch offer new in its region says which names and what share; every name is one the chat endpoint serves. */
function batchChecks(id: string, e: Entry, base: Catalog): string[] {
  const problems: string[] = [];
  if (e.batchRate !== undefined) {
    problems.push(
      `models.${id}.batchRate: replaced by the per-region offer that pricing and --via batch read: "batch": {"cn": {"names": [...], "percent": 50, "source": "..."}}`,
    );
  }
  const names = new Map<string, readonly Protocol[]>((base.models[id]?.names ?? []).map((n) => [n.name, n.protocols]));
  for (const n of e.names ?? []) names.set(n.name, n.protocols);
  for (const region of ['intl', 'cn'] as const) {
    const o = e.batch?.[region];
    if (!o) continue;
    const known = base.models[id]?.batch?.[region];
    if (!known && o.names === undefined) problems.push(`models.${id}.batch.${region}.names: required for a Batch offer the built-in catalogue lacks`);
    if (!known && o.percent === undefined) problems.push(`models.${id}.batch.${region}.percent: required for a Batch offer the built-in catalogue lacks`);
    for (const n of o.names ?? []) {
      // the Batch API serves the OpenAI-compatible chat endpoint only (batch-support.ts)
      if (!names.get(n)?.includes('chat')) problems.push(`models.${id}.batch.${region}.names: "${n}" is not a name of ${id} on the chat protocol`);
    }
  }
  return problems;
}

/** A merged entry's Batch offers as catalog.ts holds them: regions set to null gone, outputs text unless said. */
function batchOffers(batch: unknown): ModelSpec['batch'] {
  if (!isPlain(batch)) return undefined;
  const out: NonNullable<ModelSpec['batch']> = {};
  for (const region of ['intl', 'cn'] as const) {
    const o = batch[region] as (Partial<BatchOffer> & { source: string }) | null | undefined;
    // the Batch page serves text output only on every omni model (catalog.ts)
    if (o) out[region] = { outputs: ['text'], ...o } as BatchOffer;
  }
  return Object.keys(out).length ? out : undefined;
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merged key by key, anything else (arrays included) replaced. */
function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlain(base) || !isPlain(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** Every leaf field an entry sets, as dotted paths (what `omnibatch models` says the file changed). */
function fieldsOf(e: Entry): string[] {
  return Object.entries(e)
    .flatMap(([k, v]) => (isPlain(v) && k !== 'voices' ? Object.keys(v).map((s) => `${k}.${s}`) : [k]))
    .sort();
}

const toMicros = (t: z.infer<typeof priceTable>): PriceTable =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1_000_000) : v])) as unknown as PriceTable;

/** One file entry (validated) over the built-in one, or as a new model with the defaults a new model takes. */
function resolveEntry(id: string, e: Entry, base: ModelSpec | undefined, file: string): ModelSpec {
  const prices = Object.fromEntries(Object.entries(e.prices ?? {}).map(([r, t]) => [r, toMicros(t!)]));
  const voiceList = (v: NonNullable<Entry['voices']>) => ({ closed: false, documented: v.names.length, ...v });
  const given: Record<string, unknown> = {
    ...e,
    ...(e.prices && { prices }),
    ...(e.voices && { voices: voiceList(e.voices) }),
    ...(e.names && { names: e.names.map((n) => ({ ...n, ...(n.voices && { voices: voiceList(n.voices) }) })) }),
  };
  const fields = fieldsOf(e);
  if (base) {
    const { names, ...rest } = given as { names?: ModelSpec['names'] };
    const merged = deepMerge(base, rest) as ModelSpec;
    // Names merge by name: a file adds a snapshot without listing the others again.
    const byName = new Map(base.names.map((n) => [n.name, n]));
    for (const n of names ?? []) byName.set(n.name, n);
    const { batch, ...kept } = merged;
    const offers = batchOffers(batch);
    return withAliases({
      ...kept,
      ...(offers && { batch: offers }),
      id,
      names: [...byName.values()],
      origin: { kind: 'catalog', file, over: 'built-in', fields },
    });
  }
  const fresh = {
    id,
    acceptsPrompt: true,
    supportsThinking: false,
    streamOnly: true,
    noSystemWithAudio: false,
    mixedMedia: false,
    voices: { names: [], closed: false, documented: 0, source: `${file} (no voices listed)` },
    prices: {},
    priceSources: {},
    ...given,
    batch: batchOffers(e.batch),
    limits: { urlMaxBytes: 1024 * 1024 * 1024, ...e.limits },
    tokens: { ...DEFAULT_TOKENS, ...e.tokens },
    origin: { kind: 'catalog', file, fields },
  };
  return withAliases(fresh as unknown as Omit<ModelSpec, 'aliases'>);
}

/** Parses a catalog file's text: the merged catalogue, or one catalog_invalid error listing every bad field. */
export function parseCatalog(text: string, file: string, base: Catalog = BUILT_IN): Catalog {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new OmniError('catalog_invalid', `catalog file ${file} is not JSON: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(json);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
  if (parsed.success) {
    const claimed = new Map<string, string>();
    for (const [id, e] of Object.entries(parsed.data.models)) {
      if (!base.find(id)) problems.push(...newModelRequired(id, e));
      problems.push(...crossChecks(id, e, base, claimed));
    }
  }
  if (problems.length > 0 || !parsed.success) {
    throw new OmniError('catalog_invalid', `catalog file ${file} has ${problems.length} bad field(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  const models: Record<string, ModelSpec> = { ...base.models };
  for (const [id, e] of Object.entries(parsed.data.models)) models[id] = resolveEntry(id, e, base.models[id], file);
  return new Catalog(models);
}

export function loadCatalogFile(file: string, base: Catalog = BUILT_IN): Catalog {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new OmniError('catalog_invalid', `cannot read catalog file ${file}: ${(err as Error).message}`);
  }
  return parseCatalog(text, file, base);
}

/**
 * What to add to a catalog file for a model the catalogue lacks: a valid entry to edit (every value is a
 * placeholder from qwen3-omni-flash until the provider's page says otherwise; every source says so). No
 * prices: a made-up price would be a wrong bill, while a missing one is reported unpriced.
 */
export function catalogSnippet(name: string, protocol: Protocol): string {
  const entry = {
    names: [{ name, protocols: [protocol], source: "unverified: the provider's model page" }],
    inputs: ['text', 'image', 'audio', 'video'],
    outputs: ['text', 'audio'],
    supportsThinking: false,
    noSystemWithAudio: true,
    voices: { names: ['Cherry'], closed: false, documented: 1, source: "unverified: the provider's voice list" },
    defaultVoice: 'Cherry',
    limits: {
      maxInputTokens: 49152,
      maxOutputTokens: 16384,
      audio: { maxSeconds: 1200, maxBytes: 104857600 },
      video: { maxSeconds: 150, maxBytes: 268435456, minFrames: 2, maxFrames: 128 },
    },
    tokens: { audioTokensPerSecond: 12.5 },
  };
  return JSON.stringify({ models: { [name]: entry } }, null, 2);
}
