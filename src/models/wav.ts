/**
 * A streaming WAV writer for PCM16 audio from the model (24 kHz mono by default): the header is written
 * first with placeholder sizes and fixed up when the stream ends, so audio of any length goes straight
 * to disk and never sits in memory.
 */
import { type FileHandle, open } from 'node:fs/promises';

export interface WavFormat {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
}
export const MODEL_PCM: WavFormat = { sampleRate: 24_000, channels: 1, bitsPerSample: 16 };

export function wavHeader(dataBytes: number, f: WavFormat = MODEL_PCM): Buffer {
  const h = Buffer.alloc(44);
  const blockAlign = (f.channels * f.bitsPerSample) / 8;
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(f.channels, 22);
  h.writeUInt32LE(f.sampleRate, 24);
  h.writeUInt32LE(f.sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(f.bitsPerSample, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** Where the PCM data starts in a RIFF/WAVE buffer, and its format; undefined when it is not one. */
export function parseWavHeader(buf: Buffer): { format: WavFormat; dataOffset: number; dataBytes: number } | undefined {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') return undefined;
  let off = 12;
  let format: WavFormat | undefined;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ' && off + 24 <= buf.length) {
      format = { channels: buf.readUInt16LE(off + 10), sampleRate: buf.readUInt32LE(off + 12), bitsPerSample: buf.readUInt16LE(off + 22) };
    } else if (id === 'data') {
      if (!format) return undefined;
      return { format, dataOffset: off + 8, dataBytes: Math.min(size, buf.length - off - 8) };
    }
    off += 8 + size + (size % 2);
  }
  return undefined;
}

export class WavWriter {
  private fh: FileHandle | undefined;
  private bytes = 0;
  private pending = Promise.resolve();
  private odd: Buffer | undefined;

  private constructor(
    readonly path: string,
    readonly format: WavFormat,
  ) {}

  static async create(path: string, format: WavFormat = MODEL_PCM): Promise<WavWriter> {
    const w = new WavWriter(path, format);
    w.fh = await open(path, 'w');
    await w.fh.write(wavHeader(0, format), 0, 44, 0);
    return w;
  }

  /** Appends PCM bytes; writes are serialized, and a byte split across calls is carried to the next one. */
  write(pcm: Buffer): Promise<void> {
    let data = this.odd ? Buffer.concat([this.odd, pcm]) : pcm;
    this.odd = undefined;
    const frame = (this.format.bitsPerSample / 8) * this.format.channels;
    const rest = data.length % frame;
    if (rest) {
      this.odd = Buffer.from(data.subarray(data.length - rest));
      data = data.subarray(0, data.length - rest);
    }
    if (data.length === 0) return this.pending;
    const at = 44 + this.bytes;
    this.bytes += data.length;
    this.pending = this.pending.then(async () => {
      await this.fh!.write(data, 0, data.length, at);
    });
    return this.pending;
  }

  get dataBytes(): number {
    return this.bytes;
  }

  get seconds(): number {
    return this.bytes / ((this.format.bitsPerSample / 8) * this.format.channels * this.format.sampleRate);
  }

  /** Fixes the header sizes and closes the file. */
  async close(): Promise<{ bytes: number; seconds: number }> {
    await this.pending;
    await this.fh!.write(wavHeader(this.bytes, this.format), 0, 44, 0);
    await this.fh!.close();
    this.fh = undefined;
    return { bytes: this.bytes, seconds: this.seconds };
  }

  /** Closes without fixing up (used on error paths before the file is removed). */
  async abort(): Promise<void> {
    await this.pending.catch(() => undefined);
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }
}
