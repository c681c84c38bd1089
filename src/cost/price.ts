/**
 * Tokens -> money, pure. Amounts are integer micro-units of the price table's currency; a usage with a
 * non-zero count in a category that has no published price is `priced: false`, never zero. The prices
 * themselves, each with its source (seed file and line, or "unverified"), are in models/catalog.ts.
 */
import { type Currency, findModel, type PriceTable, type Region, type Via } from '../models/catalog.ts';
import type { Usage } from '../models/types.ts';

export interface Cost {
  /** integer micro-units of `currency` (1 USD = 1,000,000) */
  amountMicros: number;
  currency: Currency | null;
  priced: boolean;
}

/** A price override file's shape: { "<model>": { "<region>": { currency, inputAudio: 3.81, ... } } } in units per million. */
export type PricingOverride = Record<string, Partial<Record<Region, Partial<Record<keyof PriceTable, number | string>>>>>;

/**
 * The price table a request pays: the catalogue's (with the override merged over it), and, through the
 * provider's Batch API, every price at the Batch share (004:71: 50%). No Batch offer for the model and
 * region: no Batch price (unpriced), never the real-time one.
 */
export function resolvePrices(model: string, region: Region, override?: PricingOverride, via: Via = 'realtime'): PriceTable | undefined {
  const table = realtimePrices(model, region, override);
  if (via === 'realtime' || !table) return table;
  const percent = findModel(model)?.batch?.[region]?.percent;
  return percent === undefined ? undefined : scalePrices(table, percent);
}

/** Every price at `percent` of itself, in whole micro-units per million tokens (the catalogue's are even). */
export function scalePrices(t: PriceTable, percent: number): PriceTable {
  const out: Record<string, unknown> = { currency: t.currency };
  for (const [k, v] of Object.entries(t)) if (typeof v === 'number') out[k] = Math.round((v * percent) / 100);
  return out as unknown as PriceTable;
}

function realtimePrices(model: string, region: Region, override?: PricingOverride): PriceTable | undefined {
  const spec = findModel(model);
  const base = spec?.prices[region];
  const over = override?.[spec?.id ?? model]?.[region] ?? override?.[model]?.[region];
  if (!over) return base;
  const merged: Record<string, unknown> = { ...(base ?? {}) };
  for (const [k, v] of Object.entries(over)) {
    if (k === 'currency') merged.currency = v;
    else if (typeof v === 'number') merged[k] = Math.round(v * 1_000_000);
  }
  if (!merged.currency) return undefined;
  return merged as unknown as PriceTable;
}

/** What a usage is billed on: [kind, tokens, price per million (undefined: no published price)]. */
function priceLines(usage: Usage, prices: PriceTable): [string, number, number | undefined][] {
  const multimodalInput = usage.input.audio + usage.input.image + usage.input.video > 0;
  const audioOut = usage.output.audio > 0;
  const textOutPrice = multimodalInput ? prices.outputTextMultimodal : prices.outputTextTextOnly;
  return [
    ['input text', usage.input.text, prices.inputText],
    ['input audio', usage.input.audio, prices.inputAudio],
    ['input image', usage.input.image, prices.inputImage],
    ['input video', usage.input.video, prices.inputVideo],
    // When audio is produced its text is not billed (docs/protocols.md §7: "out audio (text free)"), but only a
    // reported split proves that tokens are text: an inferred split (DMXAPI totals) prices both parts.
    ['output text', audioOut && !usage.inferred ? 0 : usage.output.text + usage.output.reasoning, textOutPrice],
    ['output audio', usage.output.audio, prices.outputAudio],
  ];
}

export function usageCost(usage: Usage, prices: PriceTable | undefined): Cost {
  if (!prices) return { amountMicros: 0, currency: null, priced: false };
  let scaled = 0; // micro-units x 1e6 (tokens x micro-units per million tokens)
  let priced = true;
  for (const [, tokens, price] of priceLines(usage, prices)) {
    if (tokens === 0) continue;
    if (price === undefined) {
      priced = false;
      continue;
    }
    scaled += tokens * price;
  }
  return { amountMicros: Math.round(scaled / 1_000_000), currency: prices.currency, priced };
}

/** The usage that had no price: what a "partly unpriced" amount leaves out ('all': no price table at all). */
export function unpricedUsage(usage: Usage, prices: PriceTable | undefined): { kind: string; tokens: number }[] {
  if (!prices) return [{ kind: 'all', tokens: usage.inputTotal + usage.outputTotal }];
  return priceLines(usage, prices)
    .filter(([, tokens, price]) => tokens > 0 && price === undefined)
    .map(([kind, tokens]) => ({ kind, tokens }));
}

/**
 * How a money figure says it is partial: "partly unpriced: 14082 input video tokens had no price", or
 * "unpriced: no price for this model/region". Empty when everything had a price.
 */
export function unpricedNote(parts: readonly { kind: string; tokens: number }[]): string {
  if (!parts.length) return '';
  if (parts.some((p) => p.kind === 'all')) return 'unpriced: no price for this model/region';
  return `partly unpriced: ${parts.map((p) => `${p.tokens} ${p.kind} tokens`).join(', ')} had no price`;
}

export function costOf(usage: Usage, model: string, region: Region, override?: PricingOverride, via: Via = 'realtime'): Cost {
  return usageCost(usage, resolvePrices(model, region, override, via));
}

/** The same usage in real time and through Batch, and what Batch saves (estimate before a run, the report after). */
export function batchSaving(realtime: Cost, batch: Cost): { realtime: Cost; batch: Cost; saving: Cost } {
  return { realtime, batch, saving: { ...batch, amountMicros: realtime.amountMicros - batch.amountMicros, priced: realtime.priced && batch.priced } };
}

export function addCost(a: Cost, b: Cost): Cost {
  return {
    amountMicros: a.amountMicros + b.amountMicros,
    currency: a.currency ?? b.currency,
    priced: a.priced && b.priced,
  };
}

export const ZERO_COST: Cost = Object.freeze({ amountMicros: 0, currency: null, priced: true });

/** micro-units -> a decimal string with 6 places ("0.012345"), exact. */
export function formatMicros(micros: number): string {
  const neg = micros < 0;
  const abs = Math.abs(micros);
  const s = `${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}`;
  return neg ? `-${s}` : s;
}

/** "1.50" / "0.25" (currency units) -> micro-units, exact for up to 6 decimals. */
export function parseAmount(text: string): number {
  const m = /^\s*(\d+)(?:\.(\d{1,6}))?\s*$/.exec(text);
  if (!m) throw new Error(`not an amount: ${text}`);
  return Number(m[1]) * 1_000_000 + Number((m[2] ?? '').padEnd(6, '0'));
}

/** unpricedNote for a usage of `model` in `region`: '' when every token had a price. */
export function unpricedNoteFor(usage: Usage, priced: boolean, model: string, region: Region, override?: PricingOverride): string {
  return priced ? '' : unpricedNote(unpricedUsage(usage, resolvePrices(model, region, override)));
}
