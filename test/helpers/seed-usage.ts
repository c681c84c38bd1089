import type { Usage } from '../../src/models/types.ts';

/** Seed 004's worked example (004:71-74): 1,000 text and 1,000 image tokens in, 1,000 text out on qwen-omni-turbo, Beijing: 0.0064 元 in real time, 0.0032 元 in Batch. */
export const SEED_004_USAGE: Usage = {
  input: { text: 1000, audio: 0, image: 1000, video: 0 },
  output: { text: 1000, audio: 0, reasoning: 0 },
  inputTotal: 2000,
  outputTotal: 1000,
};
