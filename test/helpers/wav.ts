/** Media made in memory, no ffmpeg: many distinct files fast (the emulator answers by content, so each differs). */
import { wavHeader } from '../../src/models/wav.ts';

/** A mono 16-bit WAV of a tone at `hz`. */
export function toneWav(seconds: number, hz: number, rate = 8000): Buffer {
  const n = Math.round(seconds * rate);
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return Buffer.concat([wavHeader(data.length, { sampleRate: rate, channels: 1, bitsPerSample: 16 }), data]);
}
