/**
 * The price override file (`--pricing`, OMNIBATCH_PRICING): read once, merged over the built-in table by
 * cost/price.ts. The built-in prices and their sources (seed file:line, or "unverified") live in
 * models/catalog.ts and are printed by `omnibatch models`; an override's prices are the user's own.
 */
import { readFileSync } from 'node:fs';
import type { PricingOverride } from '../cost/price.ts';
import { OmniError } from '../util/errors.ts';

export function loadPricing(file: string | undefined): PricingOverride | undefined {
  if (!file) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PricingOverride;
  } catch (err) {
    throw new OmniError('config_invalid', `cannot read pricing file ${file}: ${(err as Error).message}`);
  }
}
