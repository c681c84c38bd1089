import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeEventStream } from '../../src/models/client.ts';
import type { Delta, StreamContext } from '../../src/models/stream.ts';
import type { EndpointConfig, Protocol } from '../../src/models/types.ts';
import { type WavFormat, wavHeader } from '../../src/models/wav.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const fixture = (name: string): Buffer => readFileSync(path.join(here, 'fixtures', name));
export const fixtureHex = (name: string): Buffer => Buffer.from(readFileSync(path.join(here, 'fixtures', name), 'utf8').trim(), 'hex');

export const CTX: StreamContext = { model: 'qwen3-omni-flash', promptText: '', audioTokensPerSecond: 12.5 };

/** Decodes a recorded body delivered as the given chunks, through the client's own decode path. */
export async function decodeChunks(protocol: Protocol, chunks: Uint8Array[], ctx: StreamContext = CTX) {
  const pcm: Buffer[] = [];
  let format: WavFormat | undefined;
  const streamed: string[] = [];
  const out = await decodeEventStream(chunks, protocol, ctx, {
    onText: (t) => streamed.push(t),
    onAudio: (d: Extract<Delta, { kind: 'audio' | 'audio_format' }>) => {
      if (d.kind === 'audio') pcm.push(d.pcm);
      else format = d.format;
    },
  });
  return { ...out, pcm: Buffer.concat(pcm), format, streamed: streamed.join('') };
}

/** The body split in two at `at`. */
export const splitAt = (buf: Buffer, at: number): Buffer[] => [buf.subarray(0, at), buf.subarray(at)];

/** The name each protocol's real endpoint serves for qwen3-omni-flash (DMXAPI only the -all name: seed 000). */
export const FLASH_NAME = { chat: 'qwen3-omni-flash', responses: 'qwen3-omni-flash-all' } as const;

/** A silent PCM WAV of `seconds` (24 kHz mono): valid media made without any tool. */
export function silentWav(seconds: number): Buffer {
  const pcm = Buffer.alloc(Math.round(seconds * 24_000) * 2);
  return Buffer.concat([wavHeader(pcm.length), pcm]);
}

const BASE: Record<Protocol, string> = { chat: '/compatible-mode/v1', responses: '/v1', dashscope: '/api/v1' };
/** A client endpoint for `protocol` on the emulator at `url`: its base path and the key sent as that side expects it. */
export function emulatorEndpoint(protocol: Protocol, url: string, apiKey: string, over: Partial<EndpointConfig> = {}): EndpointConfig {
  return {
    protocol,
    baseUrl: url + BASE[protocol],
    apiKey,
    authStyle: protocol === 'responses' ? 'raw' : 'bearer',
    connectTimeoutMs: 2000,
    firstByteTimeoutMs: 10_000,
    idleTimeoutMs: 10_000,
    ...over,
  };
}
