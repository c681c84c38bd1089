/**
 * Billing by the documented rules (docs/protocols.md §7) and the usage blocks of each protocol (§4). Pure.
 * Text tokens: textTokens() over every text part of every message. Audio: ceil(max(1, s) x rate).
 * Video: the frame rule for the picture plus audio tokens for its audio track. Images: one token per
 * patch (32 px, turbo 28 px), 4..1280 tokens, +2.
 */
import type { ModelSpec, TokenRules } from '../models/catalog.ts';
import { audioTokens, framePatches, textTokens, videoTokens } from '../models/tokens.ts';
import type { Billed, Measured, ParsedRequest } from './types.ts';

const IMAGE_MIN_TOKENS = 4;
const IMAGE_MAX_TOKENS = 1280;

export function imageTokens(width: number, height: number, rules: TokenRules): number {
  const px = rules.patchPx * rules.patchPx;
  const { w, h } = framePatches(width, height, { ...rules, minPixelsPerFrame: IMAGE_MIN_TOKENS * px }, IMAGE_MAX_TOKENS * px);
  return (w / rules.patchPx) * (h / rules.patchPx) + 2;
}

/**
 * @param templateTokens hidden template text tokens a prompt-less model (the captioner) reports anyway:
 *   real usage blocks count them, so a client must price them (an unpriced chunk would fail a budget)
 */
export function billInput(req: ParsedRequest, media: readonly Measured[], spec: ModelSpec, templateTokens = 0): Billed['input'] {
  const rules = spec.tokens;
  const input = { text: spec.acceptsPrompt ? 0 : templateTokens, audio: 0, image: 0, video: 0 };
  for (const m of req.messages) for (const t of m.texts) input.text += textTokens(t);
  for (const m of media) {
    if (m.kind === 'audio') input.audio += audioTokens(m.durationS, rules);
    else if (m.kind === 'image') input.image += imageTokens(m.width, m.height, rules);
    else {
      const lim = spec.limits.video ?? { minFrames: 2, maxFrames: 128 };
      // An image-list video is sampled as sent: its length is frames / fps.
      const seconds = m.frames !== undefined ? m.frames / rules.videoFps : m.durationS;
      input.video += videoTokens(seconds, m.width, m.height, rules, lim.minFrames, lim.maxFrames);
      if (m.hasAudio) input.audio += audioTokens(m.durationS, rules);
    }
  }
  return input;
}

export function billOutput(text: string, reasoning: string, audioSeconds: number | undefined, spec: ModelSpec): Billed['output'] {
  return {
    text: textTokens(text),
    audio: audioSeconds === undefined ? 0 : audioTokens(audioSeconds, spec.tokens),
    reasoning: reasoning ? textTokens(reasoning) : 0,
  };
}

const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);

/** Only the non-zero keys, as observed on the real service. */
function nonZero(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0));
}

/** The input, output and total counts, under a protocol's names for the first two (in this key order). */
function totals(b: Billed, inputKey: string, outputKey: string): Record<string, number> {
  const input = sum(b.input);
  const output = sum(b.output);
  return { [inputKey]: input, [outputKey]: output, total_tokens: input + output };
}

/** compat usage: prompt = Σ prompt details, completion = Σ completion details, total = both. */
export function compatUsage(b: Billed): Record<string, unknown> {
  return {
    ...totals(b, 'prompt_tokens', 'completion_tokens'),
    completion_tokens_details: nonZero({ audio_tokens: b.output.audio, reasoning_tokens: b.output.reasoning, text_tokens: b.output.text }),
    prompt_tokens_details: nonZero({ audio_tokens: b.input.audio, image_tokens: b.input.image, video_tokens: b.input.video, text_tokens: b.input.text }),
  };
}

/** native usage, with the legacy top-level modality counts of the qwen-vl/qwen-audio examples. */
export function nativeUsage(b: Billed): Record<string, unknown> {
  return {
    ...totals(b, 'input_tokens', 'output_tokens'),
    input_tokens_details: nonZero({ text_tokens: b.input.text, audio_tokens: b.input.audio, image_tokens: b.input.image, video_tokens: b.input.video }),
    output_tokens_details: nonZero({ text_tokens: b.output.text, audio_tokens: b.output.audio, reasoning_tokens: b.output.reasoning }),
    ...(b.input.audio ? { audio_tokens: b.input.audio } : {}),
    ...(b.input.image ? { image_tokens: b.input.image } : {}),
    ...(b.input.video ? { video_tokens: b.input.video } : {}),
  };
}

/** DMXAPI responses usage (no modality split, as observed). */
export function responsesUsage(b: Billed): Record<string, unknown> {
  const input = sum(b.input);
  const output = sum(b.output);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: b.output.reasoning },
    total_tokens: input + output,
  };
}
