import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ffprobeJson } from '../../src/media/ffmpeg.ts';
import { MODEL_PCM, parseWavHeader, WavWriter, wavHeader } from '../../src/models/wav.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibatch-wav-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 440 Hz tone as PCM16 little-endian, mono. */
function tone(samples: number, offset = 0): Buffer {
  const b = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * (i + offset)) / 24_000)), i * 2);
  return b;
}

describe('WavWriter', () => {
  it('streams PCM in odd-sized pieces and fixes the header: ffprobe reads the right duration', async () => {
    const file = path.join(dir, 'stream.wav');
    const w = await WavWriter.create(file);
    const pcm = tone(24_000 * 3 + 123); // 3.005 s
    // Pieces of odd byte lengths: a sample split across writes must be carried, not dropped or misaligned.
    const sizes = [1, 333, 4097, 2, 65_535, 17];
    let at = 0;
    const writes: Promise<void>[] = [];
    for (let i = 0; at < pcm.length; i++) {
      const n = Math.min(sizes[i % sizes.length], pcm.length - at);
      writes.push(w.write(pcm.subarray(at, at + n)));
      at += n;
    }
    await Promise.all(writes);
    const { bytes, seconds } = await w.close();
    expect(bytes).toBe(pcm.length);
    expect(seconds).toBeCloseTo(3.005125, 6);

    const probe = await ffprobeJson(file);
    const stream = (probe.streams as Record<string, unknown>[])[0];
    expect(stream).toMatchObject({ codec_name: 'pcm_s16le', sample_rate: '24000', channels: 1 });
    expect(Number((probe.format as Record<string, unknown>).duration)).toBeCloseTo(3.005125, 4);

    const buf = readFileSync(file);
    const parsed = parseWavHeader(buf)!;
    expect(parsed).toEqual({ format: MODEL_PCM, dataOffset: 44, dataBytes: pcm.length });
    // The samples are the ones written, in order.
    expect(buf.subarray(44).equals(pcm)).toBe(true);
  });

  it('writes a valid empty file and survives abort', async () => {
    const file = path.join(dir, 'empty.wav');
    const w = await WavWriter.create(file);
    expect(await w.close()).toEqual({ bytes: 0, seconds: 0 });
    expect(parseWavHeader(readFileSync(file))).toEqual({ format: MODEL_PCM, dataOffset: 44, dataBytes: 0 });
    const a = await WavWriter.create(path.join(dir, 'aborted.wav'));
    await a.write(tone(100));
    await a.abort();
  });

  it('wavHeader and parseWavHeader agree for other formats; junk is not a WAV', () => {
    const f = { sampleRate: 48_000, channels: 2, bitsPerSample: 16 };
    const h = wavHeader(1000, f);
    expect(h.readUInt32LE(28)).toBe(48_000 * 4); // byte rate
    expect(parseWavHeader(Buffer.concat([h, Buffer.alloc(1000)]))).toEqual({ format: f, dataOffset: 44, dataBytes: 1000 });
    expect(parseWavHeader(Buffer.from('not a wav file at all'))).toBeUndefined();
  });
});
