/** Joins the chunks' WAV files into one RIFF file for the whole source, streaming (no file held in memory). */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { MODEL_PCM, parseWavHeader, WavWriter } from '../models/wav.ts';
import { OmniError } from '../util/errors.ts';

export async function concatWavFiles(files: readonly string[], out: string): Promise<{ bytes: number; seconds: number }> {
  const writer = await WavWriter.create(out, MODEL_PCM);
  try {
    for (const f of files) {
      const fh = await open(f, 'r');
      const head = Buffer.alloc(4096);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      const { size } = await fh.stat();
      await fh.close();
      const h = parseWavHeader(head.subarray(0, bytesRead));
      if (!h) throw new OmniError('audio_invalid', `chunk audio ${f} is not a WAV file`);
      if (h.format.sampleRate !== MODEL_PCM.sampleRate || h.format.channels !== MODEL_PCM.channels || h.format.bitsPerSample !== MODEL_PCM.bitsPerSample) {
        throw new OmniError(
          'audio_invalid',
          `chunk audio ${f} is ${h.format.sampleRate} Hz/${h.format.channels} ch/${h.format.bitsPerSample} bit, not 24 kHz mono PCM16`,
        );
      }
      // The header parse only sees the first 4 KiB: the data chunk's own size field says how much follows.
      const declared = head.readUInt32LE(h.dataOffset - 4);
      const dataBytes = Math.min(declared, size - h.dataOffset);
      if (dataBytes <= 0) continue;
      for await (const buf of createReadStream(f, { start: h.dataOffset, end: h.dataOffset + dataBytes - 1 })) {
        await writer.write(buf as Buffer);
      }
    }
    return await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
