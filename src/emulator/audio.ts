/**
 * Generated speech: a quiet deterministic tone as PCM16, 24 kHz mono (what the real service streams),
 * produced one chunk at a time so a 20-minute answer never sits in memory.
 */
import { MODEL_PCM } from '../models/wav.ts';

export const SAMPLE_RATE = MODEL_PCM.sampleRate;
const BYTES_PER_SECOND = SAMPLE_RATE * 2;
/** 200 Hz divides 24 kHz: a one-second buffer holds whole periods, so repeating it is seamless. */
const TONE_HZ = 200;
const AMPLITUDE = 3000;

let second: Buffer | undefined;
function oneSecond(): Buffer {
  if (second) return second;
  second = Buffer.alloc(BYTES_PER_SECOND);
  for (let i = 0; i < SAMPLE_RATE; i++) {
    // A little second harmonic so the waveform is not a pure sine (and not silence).
    const t = (2 * Math.PI * TONE_HZ * i) / SAMPLE_RATE;
    second.writeInt16LE(Math.round(AMPLITUDE * (0.8 * Math.sin(t) + 0.2 * Math.sin(2 * t))), i * 2);
  }
  return second;
}

/** Speech length for a text: 0.08 s per character, at least 1 s; or exactly `override` seconds. */
export function speechSeconds(text: string, override?: number): number {
  const s = override ?? Math.max(1, 0.08 * Array.from(text).length);
  return Math.round(s * SAMPLE_RATE) / SAMPLE_RATE;
}

export function pcmBytes(seconds: number): number {
  return Math.round(seconds * SAMPLE_RATE) * 2;
}

/** How many chunks pcmChunks yields. */
export function pcmChunkCount(seconds: number, chunkSeconds: number): number {
  return Math.ceil(pcmBytes(seconds) / (Math.round(chunkSeconds * SAMPLE_RATE) * 2));
}

/** The PCM of `seconds` of audio in chunks of `chunkSeconds` (<= 1 s), generated lazily. */
export function* pcmChunks(seconds: number, chunkSeconds: number): Generator<Buffer> {
  const total = pcmBytes(seconds);
  const chunk = Math.min(BYTES_PER_SECOND, Math.round(chunkSeconds * SAMPLE_RATE) * 2);
  const tone = oneSecond();
  for (let off = 0; off < total; off += chunk) {
    const n = Math.min(chunk, total - off);
    const start = off % BYTES_PER_SECOND;
    if (start + n <= BYTES_PER_SECOND) yield tone.subarray(start, start + n);
    else yield Buffer.concat([tone.subarray(start), tone.subarray(0, n - (BYTES_PER_SECOND - start))]);
  }
}
