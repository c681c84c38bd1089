/**
 * The catalogue as people and scripts read it (`omnibatch models`): names with the protocols that serve
 * them, limits, voices, and every price with its source. Pure: data in, rows and lines out.
 */
import { formatMicros, scalePrices } from '../cost/price.ts';
import { activeCatalog, base64Ceiling, type ModelSpec, type PriceTable, type Region } from '../models/catalog.ts';

const PRICE_KEYS: readonly (keyof Omit<PriceTable, 'currency'>)[] = [
  'inputText',
  'inputAudio',
  'inputImage',
  'inputVideo',
  'outputTextTextOnly',
  'outputTextMultimodal',
  'outputAudio',
];

export interface ModelDescription {
  id: string;
  /** "built-in seed", "catalog file <path>", or "built-in seed + catalog file <path> (<fields>)" */
  origin: string;
  names: { name: string; protocols: string[]; source: string; voices?: number }[];
  inputs: string[];
  outputs: string[];
  limits: {
    max_input_tokens: number;
    max_input_tokens_thinking?: number;
    max_output_tokens: number;
    audio_max_seconds?: number;
    video_max_seconds?: number;
    base64_max_chars: number;
    /** the model's seed states none: the gateway's per-item ceiling applies */
    base64_max_chars_source?: 'gateway';
  };
  audio_tokens_per_second: number;
  no_system_with_audio: boolean;
  voices: { names: string[]; documented: number; closed: boolean; source: string; default?: string };
  /** per region: currency, per-million prices as decimal strings (null: unpublished), and the source */
  prices: Partial<Record<Region, { currency: string; per_million: Record<string, string | null>; source: string }>>;
  /** per region where the provider's Batch API serves it: the names, the share of the price, the Batch prices */
  batch: Partial<Record<Region, BatchDescription>>;
}

export interface BatchDescription {
  names: string[];
  percent: number;
  outputs: string[];
  max_context_tokens?: number;
  per_million: Record<string, string | null>;
  source: string;
}

function perMillion(t: PriceTable | undefined): Record<string, string | null> {
  return Object.fromEntries(PRICE_KEYS.map((k) => [k, t?.[k] === undefined ? null : formatMicros(t[k]!)]));
}

export function describeModel(m: ModelSpec): ModelDescription {
  const prices: ModelDescription['prices'] = {};
  for (const region of ['intl', 'cn'] as const) {
    const t = m.prices[region];
    if (!t) continue;
    prices[region] = {
      currency: t.currency,
      per_million: perMillion(t),
      source: m.priceSources[region] ?? 'unverified',
    };
  }
  const batch: ModelDescription['batch'] = {};
  for (const region of ['intl', 'cn'] as const) {
    const o = m.batch?.[region];
    if (!o) continue;
    const t = m.prices[region];
    batch[region] = {
      names: [...o.names],
      percent: o.percent,
      outputs: [...o.outputs],
      ...(o.maxContextTokens !== undefined && { max_context_tokens: o.maxContextTokens }),
      per_million: perMillion(t && scalePrices(t, o.percent)),
      source: o.source,
    };
  }
  return {
    id: m.id,
    origin: originOf(m),
    names: m.names.map((n) => ({ name: n.name, protocols: [...n.protocols], source: n.source, ...(n.voices && { voices: n.voices.names.length }) })),
    inputs: [...m.inputs],
    outputs: [...m.outputs],
    limits: {
      max_input_tokens: m.limits.maxInputTokens,
      ...(m.limits.maxInputTokensThinking !== undefined && { max_input_tokens_thinking: m.limits.maxInputTokensThinking }),
      max_output_tokens: m.limits.maxOutputTokens,
      ...(m.limits.audio && { audio_max_seconds: m.limits.audio.maxSeconds }),
      ...(m.limits.video && { video_max_seconds: m.limits.video.maxSeconds }),
      base64_max_chars: base64Ceiling(m),
      ...(m.limits.base64MaxChars === undefined && { base64_max_chars_source: 'gateway' as const }),
    },
    audio_tokens_per_second: m.tokens.audioTokensPerSecond,
    no_system_with_audio: m.noSystemWithAudio,
    voices: {
      names: [...m.voices.names],
      documented: m.voices.documented,
      closed: m.voices.closed,
      source: m.voices.source,
      ...(m.defaultVoice && { default: m.defaultVoice }),
    },
    prices,
    batch,
  };
}

function originOf(m: ModelSpec): string {
  const o = m.origin;
  if (!o || o.kind === 'built-in') return 'built-in seed';
  return o.over ? `built-in seed + catalog file ${o.file} (${o.fields.join(', ')})` : `catalog file ${o.file}`;
}

export function describeCatalog(): ModelDescription[] {
  return Object.values(activeCatalog().models).map(describeModel);
}

/** The human form: one block per model. */
export function renderCatalog(models: readonly ModelDescription[]): string {
  const out: string[] = [];
  for (const m of models) {
    out.push(`${m.id}  (${m.origin})`);
    for (const n of m.names) out.push(`  name ${n.name}  [${n.protocols.join(', ')}]  (${n.source})${n.voices ? `  ${n.voices} voices` : ''}`);
    const l = m.limits;
    out.push(`  in: ${m.inputs.join(', ')}  out: ${m.outputs.join(', ')}  audio ${m.audio_tokens_per_second} tokens/s`);
    out.push(
      `  limits: input ${l.max_input_tokens}${l.max_input_tokens_thinking ? ` (thinking ${l.max_input_tokens_thinking})` : ''} tokens, output ${l.max_output_tokens}` +
        `${l.audio_max_seconds ? `, audio ${l.audio_max_seconds} s` : ''}${l.video_max_seconds ? `, video ${l.video_max_seconds} s` : ''}`,
    );
    const v = m.voices;
    if (v.documented > 0) {
      out.push(
        `  voices (${v.names.length} of ${v.documented}${v.closed ? ', closed' : ''}; ${v.source}): ${v.names.join(', ')}${v.default ? `  default ${v.default}` : ''}`,
      );
    }
    if (m.no_system_with_audio) out.push('  no system message with audio output');
    const regions = Object.entries(m.prices);
    if (regions.length === 0) out.push('  prices: none published (unpriced)');
    for (const [region, p] of regions) {
      const known = Object.entries(p!.per_million)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => `${k} ${v}`);
      out.push(`  prices ${region} (${p!.currency}/1M tokens; ${p!.source}): ${known.join(', ')}`);
    }
    const batch = Object.entries(m.batch);
    if (batch.length === 0) out.push('  batch: not served (real time only)');
    for (const [region, b] of batch) {
      const priced = Object.values(b!.per_million).some((v) => v !== null);
      out.push(
        `  batch ${region}: ${b!.names.join(', ')} at ${b!.percent}% of the price, ${b!.outputs.join('/')} out` +
          `${b!.max_context_tokens ? `, ${b!.max_context_tokens} tokens context` : ''}${priced ? '' : ' (unpriced)'} (${b!.source})`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}
