/**
 * The model catalogue: limits, token rules and prices of every model the tool knows, from the
 * tables of docs/protocols.md §6-7. Pure data plus lookups; prices are integer micro-units of the currency per
 * million tokens, so every cost computed from them is exact integer arithmetic.
 */
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
  /** the encoded base64 string must stay under this many characters */
  base64MaxChars: number;
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

export interface ModelSpec {
  id: string;
  /** names the provider accepts for it (DMXAPI appends -all) */
  aliases: readonly string[];
  inputs: readonly Modality[];
  outputs: readonly ('text' | 'audio')[];
  /** accepts a text prompt (the captioner does not) */
  acceptsPrompt: boolean;
  supportsThinking: boolean;
  /** stream: true is required */
  streamOnly: boolean;
  voices: readonly string[];
  defaultVoice?: string;
  limits: ModelLimits;
  tokens: TokenRules;
  prices: Partial<Record<Region, PriceTable>>;
}

const MB = 1024 * 1024;
const M = 1_000_000; // micro-units per currency unit

/** price in currency units per million tokens -> integer micro-units per million tokens */
const p = (units: number): number => Math.round(units * M);

const QWEN3_TOKENS: TokenRules = {
  audioTokensPerSecond: 12.5, audioMinSeconds: 1, patchPx: 32, videoFps: 2,
  minPixelsPerFrame: 64 * 32 * 32, maxPixelsPerFrame: 768 * 32 * 32, maxPixelsTotal: 16384 * 32 * 32,
};

const QWEN3_OMNI_VOICES = ['Cherry', 'Ethan', 'Nofish', 'Jennifer', 'Ryan', 'Katerina', 'Elias', 'Jada', 'Dylan',
  'Sunny', 'Li', 'Marcus', 'Roy', 'Peter', 'Rocky', 'Kiki', 'Eric'] as const;

const BASE64_MAX = 10 * MB;

export const MODELS: Readonly<Record<string, ModelSpec>> = Object.freeze({
  'qwen3-omni-flash': {
    id: 'qwen3-omni-flash',
    aliases: ['qwen3-omni-flash-all', 'qwen3-omni-flash-2025-12-01', 'qwen3-omni-flash-2025-09-15'],
    inputs: ['text', 'image', 'audio', 'video'],
    outputs: ['text', 'audio'],
    acceptsPrompt: true,
    supportsThinking: true,
    streamOnly: true,
    voices: QWEN3_OMNI_VOICES,
    defaultVoice: 'Cherry',
    limits: {
      maxInputTokens: 49_152, maxInputTokensThinking: 16_384, maxOutputTokens: 16_384,
      audio: { maxSeconds: 20 * 60, maxBytes: 100 * MB },
      video: { maxSeconds: 150, maxBytes: 256 * MB, minFrames: 2, maxFrames: 128 },
      imageMaxBytes: 10 * MB, base64MaxChars: BASE64_MAX, urlMaxBytes: 1024 * MB,
    },
    tokens: QWEN3_TOKENS,
    prices: {
      cn: { currency: 'CNY', inputText: p(1.8), inputAudio: p(15.8), inputImage: p(3.3), inputVideo: p(3.3),
        outputTextTextOnly: p(6.9), outputTextMultimodal: p(12.7), outputAudio: p(62.6) },
      // Singapore's image/video input price is not confirmed (docs/protocols.md §7 [U]): left unpriced.
      intl: { currency: 'USD', inputText: p(0.43), inputAudio: p(3.81),
        outputTextTextOnly: p(1.66), outputTextMultimodal: p(3.06), outputAudio: p(15.11) },
    },
  },
  'qwen-omni-turbo': {
    id: 'qwen-omni-turbo',
    aliases: ['qwen-omni-turbo-latest', 'qwen-omni-turbo-2025-03-26'],
    inputs: ['text', 'image', 'audio', 'video'],
    outputs: ['text', 'audio'],
    acceptsPrompt: true,
    supportsThinking: false,
    streamOnly: true,
    voices: ['Cherry', 'Serena', 'Ethan', 'Chelsie'],
    defaultVoice: 'Cherry',
    limits: {
      maxInputTokens: 30_720, maxOutputTokens: 2_048,
      audio: { maxSeconds: 3 * 60, maxBytes: 10 * MB },
      video: { maxSeconds: 40, maxBytes: 150 * MB, minFrames: 4, maxFrames: 80 },
      imageMaxBytes: 10 * MB, base64MaxChars: BASE64_MAX, urlMaxBytes: 1024 * MB,
    },
    tokens: { ...QWEN3_TOKENS, audioTokensPerSecond: 25, patchPx: 28,
      minPixelsPerFrame: 4 * 28 * 28 * 16, maxPixelsPerFrame: 768 * 28 * 28, maxPixelsTotal: 16384 * 28 * 28 },
    prices: {
      cn: { currency: 'CNY', inputText: p(0.4), inputAudio: p(25), inputImage: p(1.5), inputVideo: p(1.5),
        outputTextTextOnly: p(1.6), outputTextMultimodal: p(4.5), outputAudio: p(50) },
      intl: { currency: 'USD', inputText: p(0.07), inputAudio: p(4.44), inputImage: p(0.21), inputVideo: p(0.21),
        outputTextTextOnly: p(0.27), outputTextMultimodal: p(0.63), outputAudio: p(8.89) },
    },
  },
  'qwen3.5-omni-plus': {
    id: 'qwen3.5-omni-plus',
    aliases: ['qwen3.5-omni-plus-all'],
    inputs: ['text', 'image', 'audio', 'video'],
    outputs: ['text', 'audio'],
    acceptsPrompt: true,
    supportsThinking: false,
    streamOnly: true,
    voices: QWEN3_OMNI_VOICES,
    defaultVoice: 'Cherry',
    // Token ceilings are unpublished: the media limits bind long before these generous values.
    limits: {
      maxInputTokens: 1_000_000, maxOutputTokens: 32_768,
      audio: { maxSeconds: 3 * 3600, maxBytes: 1024 * MB },
      video: { maxSeconds: 3600, maxBytes: 1024 * MB, minFrames: 2, maxFrames: 7200 },
      imageMaxBytes: 10 * MB, base64MaxChars: BASE64_MAX, urlMaxBytes: 1024 * MB,
    },
    // Its token rate is unpublished; 12.5/s (the qwen3 rate) is used for estimates only. No prices: unpriced.
    tokens: QWEN3_TOKENS,
    prices: {},
  },
  'qwen3-omni-30b-a3b-captioner': {
    id: 'qwen3-omni-30b-a3b-captioner',
    aliases: [],
    inputs: ['audio'],
    outputs: ['text'],
    acceptsPrompt: false,
    supportsThinking: false,
    streamOnly: false,
    voices: [],
    limits: {
      maxInputTokens: 32_768, maxOutputTokens: 32_768,
      audio: { maxSeconds: 40 * 60, maxBytes: 1024 * MB },
      base64MaxChars: BASE64_MAX, urlMaxBytes: 1024 * MB,
    },
    tokens: QWEN3_TOKENS,
    // The seed documents list both regions' captioner prices in dollars (003); kept as published.
    prices: {
      intl: { currency: 'USD', inputAudio: p(3.81), outputTextTextOnly: p(3.06), outputTextMultimodal: p(3.06) },
      cn: { currency: 'USD', inputAudio: p(2.265), outputTextTextOnly: p(1.821), outputTextMultimodal: p(1.821) },
    },
  },
});

export const MODEL_IDS = Object.keys(MODELS);

/** Resolves an id or alias (`qwen3-omni-flash-all`) to its spec; undefined for an unknown model. */
export function findModel(name: string): ModelSpec | undefined {
  if (MODELS[name]) return MODELS[name];
  return Object.values(MODELS).find((m) => m.aliases.includes(name));
}
