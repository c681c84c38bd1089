/**
 * The model catalogue: names, limits, voices, token rules and prices of every model the tool knows, from
 * the seed documents (seeds, cited as file:line) and docs/protocols.md §6-7 where no seed speaks. Each
 * model lists every name a provider serves with the protocols that serve it: the name a user gives is
 * what is sent (DMXAPI's `-all` names, DashScope's snapshots); the entry only supplies limits and prices.
 * Every price carries its source (`priceSources`): a seed line, or "unverified". Pure data plus lookups;
 * prices are integer micro-units of the currency per million tokens, so costs are exact integer arithmetic.
 */
import type { Protocol } from './types.ts';

export type Modality = 'text' | 'image' | 'audio' | 'video';
export type Region = 'cn' | 'intl';
export type Currency = 'USD' | 'CNY';

export interface MediaLimit {
  /** per-request duration ceiling, seconds */
  maxSeconds: number;
  /** per-file size ceiling, bytes */
  maxBytes: number;
}

export interface ModelLimits {
  maxInputTokens: number;
  /** the stricter input ceiling in thinking mode (qwen3-omni-flash) */
  maxInputTokensThinking?: number;
  maxOutputTokens: number;
  audio?: MediaLimit;
  video?: MediaLimit & { minFrames: number; maxFrames: number };
  /** images per request: each image's own size limit */
  imageMaxBytes?: number;
  /**
   * the encoded base64 string must stay under this many characters: only where the model's own seed states
   * one (the captioner, 003:396); elsewhere the gateway's per-item ceiling applies (`base64Ceiling`)
   */
  base64MaxChars?: number;
  /** remote URL inputs (the service fetches the file) may be this large */
  urlMaxBytes: number;
}

export interface TokenRules {
  /** input and output audio tokens per second */
  audioTokensPerSecond: number;
  /** shorter audio is billed as this many seconds */
  audioMinSeconds: number;
  /** pixels per side of one image/video token patch (32 for qwen3, 28 for turbo) */
  patchPx: number;
  videoFps: number;
  minPixelsPerFrame: number;
  maxPixelsPerFrame: number;
  maxPixelsTotal: number;
}

/** Micro-units of `currency` per one million tokens. `undefined` means the price is not published. */
export interface PriceTable {
  currency: Currency;
  inputText?: number;
  inputAudio?: number;
  inputImage?: number;
  inputVideo?: number;
  /** text output when the input was text only */
  outputTextTextOnly?: number;
  /** text output when the input had image/audio/video */
  outputTextMultimodal?: number;
  /** audio output; when audio is produced, its text transcript is not billed */
  outputAudio?: number;
}

/**
 * A voice list as a seed gives it. `closed` where the seed lists every voice the model has ("仅支持 4 种",
 * or a table of all 17 of "17 种"): then an unknown voice is refused before sending, as the service would
 * refuse every request. Otherwise (a seed naming 6 of 55 voices) an unknown voice is a warning and the
 * service decides.
 */
export interface VoiceList {
  names: readonly string[];
  closed: boolean;
  /** how many voices the seed says the model has (may exceed names.length) */
  documented: number;
  source: string;
}

/** One name a provider serves for a model, and over which of our protocols (its endpoint). */
export interface ServedName {
  name: string;
  protocols: readonly Protocol[];
  /** this name's own voice list, when it differs from the model's (DMXAPI's -all names list more) */
  voices?: VoiceList;
  /** seed file and line, or "unverified" */
  source: string;
}

export interface ModelSpec {
  id: string;
  /** every other name the model answers to (derived from `names`) */
  aliases: readonly string[];
  /** every name a provider serves, the id included, with the protocols that serve it */
  names: readonly ServedName[];
  inputs: readonly Modality[];
  outputs: readonly ('text' | 'audio')[];
  /** accepts a text prompt (the captioner does not) */
  acceptsPrompt: boolean;
  supportsThinking: boolean;
  /** stream: true is required */
  streamOnly: boolean;
  /** the seed forbids a system message when audio output is asked for */
  noSystemWithAudio: boolean;
  /** one user message may mix several non-text modalities (qwen3.5-omni: 002:52); others take one (001:180) */
  mixedMedia: boolean;
  voices: VoiceList;
  defaultVoice?: string;
  limits: ModelLimits;
  tokens: TokenRules;
  prices: Partial<Record<Region, PriceTable>>;
  /** where each price came from: seed file + line, or "unverified" (printed by `omnibatch models`) */
  priceSources: Partial<Record<Region, string>>;
  /** where the provider's Batch API (file input, half price) serves this model; absent: nowhere. The one Batch fact:
   * pricing (cost/price.ts), refusals (batch-support.ts) and `omnibatch models` read it; a catalog file's `batch` merges into it */
  batch?: Partial<Record<Region, BatchOffer>>;
  /** where this entry came from (built-in seed, or a catalog file over it): set by the catalogue, shown by `omnibatch models` */
  origin?: ModelOrigin;
}

/** A built-in entry (from the seeds), a catalog file's new entry, or a built-in one with a file's fields over it. */
export type ModelOrigin = { kind: 'built-in' } | { kind: 'catalog'; file: string; over?: 'built-in'; fields: readonly string[] };

/**
 * The provider's Batch API for one model in one region: which served names it takes, at what share of the
 * real-time price, and what it cannot do there. Every Batch line is priced at `percent` of the real-time table.
 */
export interface BatchOffer {
  /** the served names Batch takes (the seed names the stable one only: "稳定版模型qwen-omni-turbo") */
  names: readonly string[];
  /** share of the real-time price, in percent (50: "费用为以下价格的50%") */
  percent: number;
  /** what a Batch line may ask for: text only (no speech) on every omni model Batch serves */
  outputs: readonly ('text' | 'audio')[];
  /** the Batch page's per-request context ceiling, where it gives one (256K for qwen3.5-omni-plus) */
  maxContextTokens?: number;
  /** seed file and line, or the provider page */
  source: string;
}

/** The provider page that lists what the Batch API serves, per region (the Chinese and English versions). */
export const BATCH_PAGE = 'Alibaba Cloud Model Studio, "OpenAI兼容-Batch(文件输入)" / "OpenAI-compatible - Batch (file input)"';

const MB = 1024 * 1024;
const M = 1_000_000; // micro-units per currency unit

/** price in currency units per million tokens -> integer micro-units per million tokens */
const p = (units: number): number => Math.round(units * M);

const QWEN3_TOKENS: TokenRules = {
  audioTokensPerSecond: 12.5,
  audioMinSeconds: 1,
  patchPx: 32,
  videoFps: 2,
  minPixelsPerFrame: 64 * 32 * 32,
  maxPixelsPerFrame: 768 * 32 * 32,
  maxPixelsTotal: 16384 * 32 * 32,
};
const TURBO_TOKENS: TokenRules = {
  ...QWEN3_TOKENS,
  audioTokensPerSecond: 25,
  patchPx: 28,
  minPixelsPerFrame: 4 * 28 * 28 * 16,
  maxPixelsPerFrame: 768 * 28 * 28,
  maxPixelsTotal: 16384 * 28 * 28,
};

const S000 = '000_140c921e6e1fa389.txt';
const S001 = '001_e5431944fd097365.txt';
const S002 = '002_475cae2f45b3f3a7.txt';
const S003 = '003_2471c9f9fd3ad8bb.txt';
const S004 = '004_d822c83e2c1d0130.txt';

/** DashScope qwen3-omni-flash, non-thinking: "支持的音色种类增加至 17 种" and the table that follows. */
const FLASH_VOICES: VoiceList = {
  names: [
    'Cherry',
    'Ethan',
    'Nofish',
    'Jennifer',
    'Ryan',
    'Katerina',
    'Elias',
    'Jada',
    'Dylan',
    'Sunny',
    'Li',
    'Marcus',
    'Roy',
    'Peter',
    'Rocky',
    'Kiki',
    'Eric',
  ],
  closed: true,
  documented: 17,
  source: `${S001}:151,1442-1458`,
};

/** DMXAPI qwen3-omni-flash-all: the 49-row voice table (its examples use Serena). */
const FLASH_ALL_VOICES: VoiceList = {
  names: [
    'Cherry',
    'Serena',
    'Ethan',
    'Chelsie',
    'Momo',
    'Vivian',
    'Moon',
    'Maia',
    'Kai',
    'Nofish',
    'Bella',
    'Jennifer',
    'Ryan',
    'Katerina',
    'Aiden',
    'Eldric Sage',
    'Mia',
    'Mochi',
    'Bellona',
    'Vincent',
    'Bunny',
    'Neil',
    'Elias',
    'Arthur',
    'Nini',
    'Ebona',
    'Seren',
    'Pip',
    'Stella',
    'Bodega',
    'Sonrisa',
    'Alek',
    'Dolce',
    'Sohee',
    'Ono Anna',
    'Lenn',
    'Emilien',
    'Andre',
    'Radio Gol',
    'Jada',
    'Dylan',
    'Li',
    'Marcus',
    'Roy',
    'Peter',
    'Sunny',
    'Eric',
    'Rocky',
    'Kiki',
  ],
  closed: true,
  documented: 49,
  source: `${S000}:1011-1059`,
};

/** qwen3.5-omni-plus-all: "55 种拟人音色", of which the seed names six (its example uses Tina). */
const PLUS_VOICES: VoiceList = {
  names: ['Tina', 'Cherry', 'Serena', 'Ethan', 'Chelsie', 'Dylan'],
  closed: false,
  documented: 55,
  source: `${S002}:2,92-96`,
};

/** qwen-omni-turbo: "Qwen-Omni-Turbo 仅支持 4 种" (only four): the one closed list. */
const TURBO_VOICES: VoiceList = {
  names: ['Cherry', 'Serena', 'Ethan', 'Chelsie'],
  closed: true,
  documented: 4,
  source: `${S001}:151,1462-1465`,
};

/** the open-source qwen2.5-omni table */
const OPEN_VOICES: VoiceList = { names: ['Ethan', 'Chelsie'], closed: true, documented: 2, source: `${S001}:1466-1470` };

const NO_VOICES: VoiceList = { names: [], closed: true, documented: 0, source: `${S003}:173-174 (text output only)` };

/**
 * The gateway's ceiling on one base64 item (docs/protocols.md §6), for models whose seed states no base64
 * limit of their own: a request body carries at most this much whatever the model.
 */
export const GATEWAY_BASE64_MAX = 20 * MB;

/** The remote size ceiling every model taking a file shares. */
const FILE_LIMITS = { urlMaxBytes: 1024 * MB } as const;
/** ... and that of a model that also takes images: "单个图片文件的大小不超过10 MB" (001:284, 004:155). */
const IMAGE_FILE_LIMITS = { ...FILE_LIMITS, imageMaxBytes: 10 * MB } as const;

/** Qwen-Omni-Turbo's limits, which qwen2.5-omni-7b shares (see its entry). */
const TURBO_LIMITS: ModelLimits = Object.freeze({
  maxInputTokens: 30_720,
  maxOutputTokens: 2_048,
  audio: { maxSeconds: 3 * 60, maxBytes: 10 * MB },
  video: { maxSeconds: 40, maxBytes: 150 * MB, minFrames: 4, maxFrames: 80 },
  ...IMAGE_FILE_LIMITS,
});

type SpecInput = Omit<ModelSpec, 'aliases'>;

/** What the four Qwen-Omni models have in common: any input, text and speech out, a prompt, a stream, one medium a message. */
const OMNI = {
  inputs: ['text', 'image', 'audio', 'video'],
  outputs: ['text', 'audio'],
  acceptsPrompt: true,
  streamOnly: true,
  mixedMedia: false,
} as const satisfies Partial<SpecInput>;

/** One price for image and video input, as every published table gives it ("图片/视频", 004:72). */
const visualInput = (units: number): Pick<PriceTable, 'inputImage' | 'inputVideo'> => ({ inputImage: p(units), inputVideo: p(units) });

/** One input price (it covers the hidden template text too) and one output price: the captioner's table (003). */
const flatPrices = (currency: Currency, input: number, output: number): PriceTable => ({
  currency,
  inputAudio: p(input),
  inputText: p(input),
  outputTextTextOnly: p(output),
  outputTextMultimodal: p(output),
});
/** An entry with its derived aliases (every served name but the id). */
export const withAliases = (s: SpecInput): ModelSpec => ({ ...s, aliases: s.names.map((n) => n.name).filter((n) => n !== s.id) });
const spec = (s: SpecInput): ModelSpec => withAliases({ ...s, origin: { kind: 'built-in' } });

export const MODELS: Readonly<Record<string, ModelSpec>> = Object.freeze({
  'qwen3-omni-flash': spec({
    id: 'qwen3-omni-flash',
    names: [
      { name: 'qwen3-omni-flash', protocols: ['chat'], source: `${S001}:159` },
      { name: 'qwen3-omni-flash-2025-09-15', protocols: ['chat'], source: `${S001}:161` },
      { name: 'qwen3-omni-flash-0915', protocols: ['chat'], source: `${S001}:161 (又称)` },
      // A later snapshot; DMXAPI's 49-voice table is said to be its list (docs/protocols.md §2).
      { name: 'qwen3-omni-flash-2025-12-01', protocols: ['chat'], voices: FLASH_ALL_VOICES, source: 'unverified (docs/protocols.md §2, §8)' },
      { name: 'qwen3-omni-flash-all', protocols: ['responses'], voices: FLASH_ALL_VOICES, source: `${S000}:46` },
    ],
    ...OMNI,
    supportsThinking: true,
    // 001:1432 "Qwen3-Omni-Flash模型已支持设定System Message".
    noSystemWithAudio: false,
    voices: FLASH_VOICES,
    defaultVoice: 'Cherry',
    limits: {
      maxInputTokens: 49_152,
      maxInputTokensThinking: 16_384,
      maxOutputTokens: 16_384,
      audio: { maxSeconds: 20 * 60, maxBytes: 100 * MB },
      video: { maxSeconds: 150, maxBytes: 256 * MB, minFrames: 2, maxFrames: 128 },
      ...IMAGE_FILE_LIMITS,
    },
    tokens: QWEN3_TOKENS,
    prices: {
      // Every qwen3-omni-flash price is unverified: no seed gives them; docs/protocols.md §7 [O] (official model list page).
      cn: {
        currency: 'CNY',
        inputText: p(1.8),
        inputAudio: p(15.8),
        ...visualInput(3.3),
        outputTextTextOnly: p(6.9),
        outputTextMultimodal: p(12.7),
        outputAudio: p(62.6),
      },
      // unverified: docs/protocols.md §7 [O]+[3P]. Singapore's image/video input price is not confirmed: left unpriced.
      intl: { currency: 'USD', inputText: p(0.43), inputAudio: p(3.81), outputTextTextOnly: p(1.66), outputTextMultimodal: p(3.06), outputAudio: p(15.11) },
    },
    priceSources: { cn: 'unverified (docs/protocols.md §7 [O])', intl: 'unverified (docs/protocols.md §7 [O]/[3P]; image/video unpriced)' },
  }),
  'qwen-omni-turbo': spec({
    id: 'qwen-omni-turbo',
    names: [
      { name: 'qwen-omni-turbo', protocols: ['chat'], source: `${S004}:41-43` },
      { name: 'qwen-omni-turbo-latest', protocols: ['chat'], source: `${S004}:57` },
      { name: 'qwen-omni-turbo-2025-01-19', protocols: ['chat'], source: `${S004}:63` },
      { name: 'qwen-omni-turbo-0119', protocols: ['chat'], source: `${S004}:65 (又称)` },
      { name: 'qwen-omni-turbo-2025-03-26', protocols: ['chat'], source: 'unverified (docs/protocols.md §8)' },
    ],
    ...OMNI,
    supportsThinking: false,
    // 001:186 "Qwen-Omni-Turbo 在输出模态包括音频时不支持设定 System Message".
    noSystemWithAudio: true,
    voices: TURBO_VOICES,
    defaultVoice: 'Cherry',
    limits: TURBO_LIMITS,
    tokens: TURBO_TOKENS,
    prices: {
      // 004:72 gives them per thousand tokens (0.0004元 = ¥0.4 per million).
      cn: {
        currency: 'CNY',
        inputText: p(0.4), // 004:72 "文本0.0004元"
        inputAudio: p(25), // 004:72 "音频0.025元"
        ...visualInput(1.5), // 004:72 "图片/视频0.0015元"
        outputTextTextOnly: p(1.6), // 004:72 "0.0016元(输入仅包含文本时)"
        outputTextMultimodal: p(4.5), // 004:72 "0.0045元(输入包含图片/音频/视频时)"
        outputAudio: p(50), // unverified: not in the seed (004:100 "当前仅支持文本输出"); docs/protocols.md §7
      },
      // Every Singapore turbo price is unverified: docs/protocols.md §7 [O]/[3P].
      intl: {
        currency: 'USD',
        inputText: p(0.07),
        inputAudio: p(4.44),
        ...visualInput(0.21),
        outputTextTextOnly: p(0.27),
        outputTextMultimodal: p(0.63),
        outputAudio: p(8.89),
      },
    },
    priceSources: { cn: `${S004}:72 (outputAudio unverified)`, intl: 'unverified (docs/protocols.md §7)' },
    // 004:71 "稳定版模型qwen-omni-turbo支持Batch调用,费用为以下价格的50%" (the table is Beijing's, in 元); the
    // Batch page lists text models only for Singapore. Text out only: the Batch page serves no speech.
    batch: { cn: { names: ['qwen-omni-turbo'], percent: 50, outputs: ['text'], source: `${S004}:71,74` } },
  }),
  'qwen3.5-omni-plus': spec({
    id: 'qwen3.5-omni-plus',
    names: [
      { name: 'qwen3.5-omni-plus-all', protocols: ['responses'], source: `${S002}:7,43` },
      { name: 'qwen3.5-omni-plus', protocols: ['chat'], source: 'unverified (no seed calls it by this name)' },
    ],
    ...OMNI,
    // 002:85 "["text"] 仅输出文本(思考模式下必须使用此值)": a thinking mode exists, with text output only.
    supportsThinking: true,
    // 002:46,87 "输出含音频时不支持" a system message.
    noSystemWithAudio: true,
    // 002:52 "支持文本与图片、音频、视频的任意组合同时输入,不限于单一模态".
    mixedMedia: true,
    voices: PLUS_VOICES,
    defaultVoice: 'Tina',
    // Token ceilings are unpublished: the media limits bind long before these generous values (002:2: 3 h audio, 1 h video).
    limits: {
      maxInputTokens: 1_000_000,
      maxOutputTokens: 32_768,
      audio: { maxSeconds: 3 * 3600, maxBytes: 1024 * MB },
      video: { maxSeconds: 3600, maxBytes: 1024 * MB, minFrames: 2, maxFrames: 7200 },
      ...IMAGE_FILE_LIMITS,
    },
    // Its token rate is unpublished; 12.5/s (the qwen3 rate) is used for estimates only. No prices: unpriced.
    tokens: QWEN3_TOKENS,
    prices: {},
    priceSources: {},
    // The Batch page (Beijing) lists it among the omni models: text output only ("不支持语音输出"), 256K context.
    batch: { cn: { names: ['qwen3.5-omni-plus'], percent: 50, outputs: ['text'], maxContextTokens: 256_000, source: `${BATCH_PAGE} (Beijing)` } },
  }),
  'qwen2.5-omni-7b': spec({
    id: 'qwen2.5-omni-7b',
    names: [{ name: 'qwen2.5-omni-7b', protocols: ['chat'], source: `${S001}:166,178` }],
    ...OMNI,
    supportsThinking: false,
    noSystemWithAudio: true,
    voices: OPEN_VOICES,
    defaultVoice: 'Ethan',
    // 001:166: 32,768 context / 30,720 in / 2,048 out; media limits as turbo's (unverified).
    limits: TURBO_LIMITS,
    tokens: TURBO_TOKENS,
    prices: {},
    priceSources: {},
  }),
  'qwen3-omni-30b-a3b-captioner': spec({
    id: 'qwen3-omni-30b-a3b-captioner',
    names: [{ name: 'qwen3-omni-30b-a3b-captioner', protocols: ['chat', 'dashscope'], source: `${S003}:6,74,160` }],
    inputs: ['audio'],
    outputs: ['text'],
    acceptsPrompt: false,
    supportsThinking: false,
    streamOnly: false,
    noSystemWithAudio: false,
    mixedMedia: false,
    voices: NO_VOICES,
    limits: {
      maxInputTokens: 32_768,
      maxOutputTokens: 32_768,
      audio: { maxSeconds: 40 * 60, maxBytes: 1024 * MB },
      // 003:396 "需保證編碼後的 Base64 字串需小於 10MB": the one seed that states a base64 ceiling.
      base64MaxChars: 10 * MB,
      ...FILE_LIMITS,
    },
    tokens: QWEN3_TOKENS,
    // 003 gives one input price and one output price, in dollars for both regions. The one input price
    // covers text too: the service reports hidden template text tokens, which must not leave a chunk unpriced.
    prices: {
      intl: flatPrices('USD', 3.81, 3.06), // 003:6 輸入成本 $3.81, 輸出成本 $3.06
      cn: flatPrices('USD', 2.265, 1.821), // 003:10 輸入成本 $2.265, 輸出成本 $1.821
    },
    priceSources: { intl: `${S003}:6`, cn: `${S003}:10` },
  }),
});

/** The built-in ids (the seeds' models). */
export const MODEL_IDS = Object.keys(MODELS);

/** Lists a complete voice table: a voice not on it is refused by the service. */
export const completeList = (list: VoiceList): boolean => list.closed || list.names.length >= list.documented;

/**
 * A set of model entries and the lookups over them. The built-in one holds the seeds' models; a catalog
 * file (models/catalog-file.ts) makes a larger one, and the emulator serves the one it was started with.
 */
export class Catalog {
  constructor(readonly models: Readonly<Record<string, ModelSpec>>) {}

  /** Resolves an id or alias (`qwen3-omni-flash-all`) to its spec; undefined for an unknown model. */
  find(name: string): ModelSpec | undefined {
    if (Object.hasOwn(this.models, name)) return this.models[name];
    return Object.values(this.models).find((m) => m.aliases.includes(name));
  }

  /** The catalogue entry of one served name. */
  servedName(name: string): ServedName | undefined {
    return this.find(name)?.names.find((n) => n.name === name);
  }

  /** Whether the endpoint of `protocol` serves this exact name (the emulator answers 404 otherwise). */
  serves(name: string, protocol: Protocol): boolean {
    return this.servedName(name)?.protocols.includes(protocol) ?? false;
  }

  /**
   * The voices documented for this name on `protocol`'s endpoint: the name's own list (DMXAPI's -all names
   * have longer ones), or, for a name that endpoint does not serve, the list of the name it serves instead.
   */
  voicesFor(name: string, protocol?: Protocol): VoiceList {
    const spec = this.find(name);
    const served = protocol && !this.serves(name, protocol) ? spec?.names.find((n) => n.protocols.includes(protocol)) : this.servedName(name);
    return served?.voices ?? spec?.voices ?? NO_VOICES;
  }

  /** The name of `model`'s entry that `protocol`'s endpoint serves (a task's default on DMXAPI is the -all name). */
  nameFor(model: string, protocol: Protocol): string {
    if (this.serves(model, protocol)) return model;
    return this.find(model)?.names.find((n) => n.protocols.includes(protocol))?.name ?? model;
  }
}

export const BUILT_IN = new Catalog(MODELS);

/**
 * The catalogue this process plans, prices and sends by: the built-in one until a command loads a catalog
 * file (`--catalog`, OMNIBATCH_CATALOG) or a worker meets a run whose spec carries an entry it lacks.
 */
let active: Catalog = BUILT_IN;

export function activeCatalog(): Catalog {
  return active;
}

export function useCatalog(catalog: Catalog): void {
  active = catalog;
}

/**
 * A run's carried entry (RunSpec.modelEntry) into this process's catalogue, so a worker started without the
 * catalog file prices and sends the run's model as the run was created. A built-in entry never replaces
 * this process's own (the code that runs is the judge of its seeds); a catalog file's entry does.
 */
export function installModel(entry: ModelSpec): void {
  const known = active.models[entry.id];
  if (known && (entry.origin?.kind !== 'catalog' || JSON.stringify(known) === JSON.stringify(entry))) return;
  active = new Catalog({ ...active.models, [entry.id]: entry });
}

/** Resolves an id or alias (`qwen3-omni-flash-all`) to its spec in the active catalogue; undefined for an unknown model. */
export function findModel(name: string): ModelSpec | undefined {
  return active.find(name);
}

/** The catalogue entry of one served name. */
export function servedName(name: string): ServedName | undefined {
  return active.servedName(name);
}

/** Whether the endpoint of `protocol` serves this exact name (the emulator answers 404 otherwise). */
export function serves(name: string, protocol: Protocol): boolean {
  return active.serves(name, protocol);
}

/** The voices documented for this exact name (DMXAPI's -all names have their own, longer lists). */
export function voicesFor(name: string, protocol?: Protocol): VoiceList {
  return active.voicesFor(name, protocol);
}

export type VoiceVerdict = { ok: true } | { ok: false; refuse: boolean; message: string };

/**
 * A voice against the list of the name on `protocol`'s endpoint: known, refused (the seed lists every
 * voice: the service would fail every request), or only a warning (the seed names a few; the service decides).
 */
export function checkVoice(name: string, voice: string, protocol?: Protocol, catalog: Catalog = active): VoiceVerdict {
  const list = catalog.voicesFor(name, protocol);
  if (list.names.includes(voice)) return { ok: true };
  const on = protocol ? ` on the ${protocol} protocol` : '';
  if (completeList(list)) {
    const valid = list.names.length ? `its voices are ${list.names.join(', ')}` : 'it has no voices (text output only)';
    return { ok: false, refuse: true, message: `voice "${voice}" is not a voice of ${name}${on}: ${valid} (${list.source})` };
  }
  return {
    ok: false,
    refuse: false,
    message: `voice "${voice}" is not documented for ${name}${on} (${list.names.length} of its ${list.documented} voices are documented: ${list.names.join(', ')}; ${list.source})`,
  };
}

/**
 * Why `protocol` cannot carry this model at all, or undefined. Qwen-Omni models are documented for the
 * OpenAI-compatible API only (001, 004:118); the native endpoint is documented for the captioner (003).
 */
export function protocolRefusal(name: string, protocol: Protocol): string | undefined {
  const spec = findModel(name);
  if (!spec || protocol !== 'dashscope') return undefined;
  if (spec.names.some((n) => n.protocols.includes('dashscope'))) return undefined;
  return `${name} is served through the OpenAI-compatible API only (seeds 001, 004): use --protocol chat (DashScope) or responses (DMXAPI -all names); the native dashscope protocol is documented for ${nativeModels().join(', ')}`;
}

function nativeModels(): string[] {
  return Object.values(active.models)
    .filter((m) => m.names.some((n) => n.protocols.includes('dashscope')))
    .map((m) => m.id);
}

/** A name the catalogue does not list for this protocol's endpoint: a warning (the service decides). */
export function servingWarning(name: string, protocol: Protocol): string | undefined {
  const served = servedName(name);
  if (!served || served.protocols.includes(protocol)) return undefined;
  const others = findModel(name)!
    .names.filter((n) => n.protocols.includes(protocol))
    .map((n) => n.name);
  return `${name} is not documented for the ${protocol} protocol (it is for ${served.protocols.join(', ')})${others.length ? `; that endpoint documents ${others.join(', ')}` : ''}`;
}

/** The name of `model`'s entry that `protocol`'s endpoint serves (a task's default on DMXAPI is the -all name). */
export function nameFor(model: string, protocol: Protocol): string {
  return active.nameFor(model, protocol);
}

/** The base64 ceiling one request's item must stay under: the model's own (its seed's), else the gateway's. */
export function base64Ceiling(model: ModelSpec | undefined): number {
  return model?.limits.base64MaxChars ?? GATEWAY_BASE64_MAX;
}

/** A run's model entry: the one its spec carries (a catalog file's, fixed at creation), else this process's. */
export function modelOf(spec: { model: string; modelEntry?: ModelSpec }): ModelSpec | undefined {
  return spec.modelEntry ?? findModel(spec.model);
}

/** How a run calls the model: one streaming request per chunk, or the provider's Batch API (file input). */
export type Via = 'realtime' | 'batch';
export const VIAS: readonly Via[] = ['realtime', 'batch'];

/** The Batch offer for this exact served name in this region, or undefined (Batch does not serve it). */
export function batchOffer(name: string, region: Region): BatchOffer | undefined {
  const offer = findModel(name)?.batch?.[region];
  return offer?.names.includes(name) ? offer : undefined;
}

/** Every name and region the Batch API serves (a catalog file's offers too), as "name (region)": what a refusal says would work. */
export function batchServed(): string[] {
  const out: string[] = [];
  for (const m of Object.values(active.models)) {
    for (const [region, offer] of Object.entries(m.batch ?? {})) for (const n of offer!.names) out.push(`${n} (${region})`);
  }
  return out;
}
