/**
 * The documented token rules (docs/protocols.md §7), shared by the emulator (to bill), the planner (to fit
 * the input-token ceiling) and the estimator (to price before spending). Pure.
 */
import type { TokenRules } from './catalog.ts';

/** audio tokens = ceil(max(minSeconds, seconds) x rate) */
export function audioTokens(seconds: number, rules: TokenRules): number {
  return Math.ceil(Math.max(rules.audioMinSeconds, seconds) * rules.audioTokensPerSecond);
}

/**
 * Text tokens by one deterministic rule (the real tokenizer is not public): every CJK/fullwidth character
 * is one token, every other run of up to four UTF-16 code units is one token.
 */
export function textTokens(text: string): number {
  let cjk = 0;
  let other = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if ((c >= 0x2e80 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7af) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xff00 && c <= 0xffef)) cjk++;
    else other++;
  }
  return cjk + Math.ceil(other / 4);
}

/** Scale a frame so its area falls within [min, max] pixels and both sides are whole patches. */
export function framePatches(width: number, height: number, rules: TokenRules, maxPixelsPerFrame = rules.maxPixelsPerFrame): { w: number; h: number } {
  const px = rules.patchPx;
  let w = Math.max(px, Math.round(width / px) * px);
  let h = Math.max(px, Math.round(height / px) * px);
  if (w * h > maxPixelsPerFrame) {
    const beta = Math.sqrt((width * height) / maxPixelsPerFrame);
    w = Math.max(px, Math.floor(width / beta / px) * px);
    h = Math.max(px, Math.floor(height / beta / px) * px);
  } else if (w * h < rules.minPixelsPerFrame) {
    const beta = Math.sqrt(rules.minPixelsPerFrame / (width * height));
    w = Math.ceil((width * beta) / px) * px;
    h = Math.ceil((height * beta) / px) * px;
  }
  return { w, h };
}

/** How many frames the service samples from a video of this length (2 fps, clamped to the model's range). */
export function videoFrames(seconds: number, rules: TokenRules, minFrames: number, maxFrames: number): number {
  const n = Math.round(seconds * rules.videoFps);
  const clamped = Math.min(maxFrames, Math.max(minFrames, n));
  return clamped % 2 === 0 ? clamped : clamped + 1;
}

/** video_tokens = ceil(nframes/2) x (h/patch) x (w/patch) + 2, with per-frame pixels bounded by the total budget. */
export function videoTokens(seconds: number, width: number, height: number, rules: TokenRules, minFrames: number, maxFrames: number): number {
  const frames = videoFrames(seconds, rules, minFrames, maxFrames);
  const perFrameCap = Math.max(rules.minPixelsPerFrame, Math.min(rules.maxPixelsPerFrame, Math.floor((rules.maxPixelsTotal / frames) * 2)));
  const { w, h } = framePatches(width, height, rules, perFrameCap);
  return Math.ceil(frames / 2) * (h / rules.patchPx) * (w / rules.patchPx) + 2;
}
