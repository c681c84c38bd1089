/**
 * The encoder priming an mp3 file declares in its LAME/Info tag. The cutter needs it to map the encoded file's
 * timeline back to the source's (the first 1105 samples of a LAME encode are not source audio); reading these
 * few bytes spares an ffprobe process per file.
 */
import { open } from 'node:fs/promises';

/** The decoder delay every LAME-tag reader adds to the tag's start padding (ffmpeg's mp3dec does the same). */
const DECODER_DELAY = 528 + 1;

/** Pure: priming samples from the start of an mp3 file, or undefined when it carries no LAME/Info tag. */
export function parsePriming(buf: Buffer): number | undefined {
  let off = 0;
  if (buf.toString('latin1', 0, 3) === 'ID3' && buf.length >= 10) {
    const size = ((buf[6] & 0x7f) << 21) | ((buf[7] & 0x7f) << 14) | ((buf[8] & 0x7f) << 7) | (buf[9] & 0x7f);
    off = 10 + size + (buf[5] & 0x10 ? 10 : 0);
  }
  while (off + 4 <= buf.length && !(buf[off] === 0xff && (buf[off + 1] & 0xe0) === 0xe0)) off++;
  if (off + 4 > buf.length) return undefined;
  const version = (buf[off + 1] >> 3) & 3; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
  const layer = (buf[off + 1] >> 1) & 3; // 1 = Layer III
  if (layer !== 1 || version === 1) return undefined;
  const mono = buf[off + 3] >> 6 === 3;
  const sideInfo = version === 3 ? (mono ? 17 : 32) : mono ? 9 : 17;
  let p = off + 4 + sideInfo;
  const tag = buf.toString('latin1', p, p + 4);
  if (tag !== 'Xing' && tag !== 'Info') return undefined;
  const flags = buf.readUInt32BE(p + 4);
  p += 8 + (flags & 1 ? 4 : 0) + (flags & 2 ? 4 : 0) + (flags & 4 ? 100 : 0) + (flags & 8 ? 4 : 0);
  // LAME extension: 9-byte encoder id, then 12 bytes of flags and gains, then 12 bits of start padding.
  if (p + 24 > buf.length) return undefined;
  return ((buf[p + 21] << 4) | (buf[p + 22] >> 4)) + DECODER_DELAY;
}

export async function readPriming(file: string): Promise<number | undefined> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(8192);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return parsePriming(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}
