/**
 * The JSON forms of usage and cost shared by the result, the report and the moderation file. Money is
 * shown twice: `amount` as an exact decimal string with 6 places (what people read) and `amount_micros`
 * as an integer (what scripts add up). With `priced: false` the amount is a lower bound (some tokens had
 * no published price), and null when nothing had a price at all: never a silent zero.
 */
import { z } from 'zod';
import { type Cost, formatMicros } from '../cost/price.ts';
import type { Currency } from '../models/catalog.ts';
import type { Usage } from '../models/types.ts';

const count = z.number().int().nonnegative();

export const usageJsonSchema = z.object({
  input: z.object({ text: count, audio: count, image: count, video: count, total: count }),
  output: z.object({ text: count, audio: count, reasoning: count, total: count }),
  total: count,
});
export type UsageJson = z.infer<typeof usageJsonSchema>;

export const costJsonSchema = z.object({
  currency: z.string().nullable(),
  amount: z
    .string()
    .regex(/^-?\d+\.\d{6}$/u)
    .nullable(),
  amount_micros: z.number().int().nullable(),
  priced: z.boolean(),
});
export type CostJson = z.infer<typeof costJsonSchema>;

export function usageJson(u: Usage): UsageJson {
  return {
    input: { ...u.input, total: u.inputTotal },
    output: { ...u.output, total: u.outputTotal },
    total: u.inputTotal + u.outputTotal,
  };
}

export function usageFromJson(j: UsageJson): Usage {
  const { total: inputTotal, ...input } = j.input;
  const { total: outputTotal, ...output } = j.output;
  return { input, output, inputTotal, outputTotal };
}

export function costJson(c: Cost): CostJson {
  if (!c.priced && c.currency === null) return { currency: null, amount: null, amount_micros: null, priced: false };
  return { currency: c.currency, amount: formatMicros(c.amountMicros), amount_micros: c.amountMicros, priced: c.priced };
}

export function costFromJson(j: CostJson): Cost {
  return { amountMicros: j.amount_micros ?? 0, currency: (j.currency as Currency | null) ?? null, priced: j.priced };
}
