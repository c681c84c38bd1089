/**
 * The seed documents' example requests, for the tests that send them to the emulator (emulator/openai-seeds,
 * models/seed-conformance, models/fidelity): where each protocol is served, how each side sends its key, the
 * seeds' spoken "你是谁?" request body, and the short clip their video samples send (generated, never fetched).
 */
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import type { Protocol } from '../../src/models/types.ts';

/** `native` is the seed fixtures' (and the emulator's) word for the DashScope protocol. */
export type SeedProtocol = Protocol | 'native';

const NATIVE_PATH = '/api/v1/services/aigc/multimodal-generation/generation';
/** Each protocol's request path, as on the real hosts. */
export const SEED_PATHS: Record<SeedProtocol, string> = {
  chat: '/compatible-mode/v1/chat/completions',
  responses: '/v1/responses',
  dashscope: NATIVE_PATH,
  native: NATIVE_PATH,
};

/** DashScope takes `Bearer <key>`; DMXAPI's samples send the raw key. */
export const seedAuth = (protocol: SeedProtocol, key: string): string => (protocol === 'responses' ? key : `Bearer ${key}`);

/** POSTs `body` as JSON to the protocol's path on `base` (the emulator's URL), with the key sent as that side sends it. */
export function sendSeed(
  base: string,
  protocol: SeedProtocol,
  body: unknown,
  opts: { key: string; sse?: boolean; headers?: Record<string, string> },
): Promise<Response> {
  return fetch(base + SEED_PATHS[protocol], {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: seedAuth(protocol, opts.key),
      ...(opts.sse && { 'x-dashscope-sse': 'enable' }),
      ...opts.headers,
    },
    body: JSON.stringify(body),
  });
}

/**
 * The seeds' spoken request (DMXAPI 000:45 on responses, DashScope 001:125 on chat): "你是谁?", streamed with usage,
 * text and audio in `voice` as WAV; `extra` replaces any part (`audio: undefined` drops it from the JSON).
 */
export function seedSpeech(protocol: 'chat' | 'responses', model: string, voice: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const turn = [{ role: 'user', content: '你是谁?' }];
  return {
    model,
    ...(protocol === 'chat' ? { messages: turn } : { input: turn }),
    stream: true,
    stream_options: { include_usage: true },
    modalities: ['text', 'audio'],
    audio: { voice, format: 'wav' },
    ...extra,
  };
}

/** ffmpeg args (inputs and codecs) for the seeds' sample video: 3 s of 320x240 test pattern at 10 fps and a tone, H.264 + AAC. */
export const seedVideoArgs = (hz = 330): string[] => [
  '-f',
  'lavfi',
  '-i',
  'testsrc2=size=320x240:rate=10:duration=3',
  '-f',
  'lavfi',
  '-i',
  `sine=frequency=${hz}:duration=3`,
  '-c:v',
  'libx264',
  '-preset',
  'ultrafast',
  '-pix_fmt',
  'yuv420p',
  '-c:a',
  'aac',
  '-shortest',
];

/** Writes the seeds' sample video (seedVideoArgs) to `file`. */
export async function makeSeedVideo(file: string, hz?: number): Promise<void> {
  await runFfmpeg(['-v', 'error', ...seedVideoArgs(hz), '-y', `file:${file}`]);
}
