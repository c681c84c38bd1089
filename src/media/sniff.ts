/**
 * A header sniff for the two formats most small inputs come in: 16-bit PCM WAV and mp3 with a Xing/Info tag.
 * When the header states everything a plan needs (codec, rate, channels, an exact length) and the file holds
 * as many bytes as the header promises, this MediaInfo stands in for ffprobe's.
 *
 * Why: the pipeline sends such files unchanged when they fit one request (as-is.ts). ffprobe was then the only
 * process left per file, and the Debian build spends ~60 ms of CPU just starting (215 shared libraries):
 * on a 2-core machine that alone capped the pipeline at ~20 files/s (bench saturation). Anything unusual
 * (other codecs, no Xing tag, a truncated or padded file, odd chunk layouts) returns undefined: ffprobe decides.
 *
 * `sniffMedia` is pure; `sniffFile` reads the first 64 KiB and the size, and an mp3 whole (its frames must
 * hold what its tag claims).
 */
import { open } from 'node:fs/promises';
import { agreesWithFrames, walkMp3 } from './mp3-frames.ts';
import type { MediaInfo } from './types.ts';

export const SNIFF_BYTES = 64 * 1024;
/** An mp3 the sniff would vouch for is read whole to count its frames: only files this small (as-is ones are far smaller). */
export const SNIFF_MP3_MAX_BYTES = 16 * 1024 * 1024;

function info(container: string, codec: string, durationS: number, sizeBytes: number, sampleRate: number, channels: number, bitrate: number): MediaInfo {
  return {
    durationS,
    headerDurationS: durationS,
    durationSource: 'header',
    sizeBytes,
    container,
    bitrate: Math.floor((sizeBytes * 8) / durationS),
    audio: [{ index: 0, codec, sampleRate, channels, bitrate }],
    video: [],
  };
}

/** RIFF/WAVE with a PCM 16-bit fmt chunk and a data chunk the file really holds. */
export function sniffWav(head: Buffer, sizeBytes: number): MediaInfo | undefined {
  if (head.length < 44 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return undefined;
  let off = 12;
  let fmt: { format: number; channels: number; rate: number; block: number; bits: number } | undefined;
  let tagged = false;
  while (off + 8 <= head.length) {
    const id = head.toString('latin1', off, off + 4);
    const size = head.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > head.length) return undefined;
      let format = head.readUInt16LE(body);
      // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the real format tag.
      if (format === 0xfffe && size >= 40 && body + 26 <= head.length) format = head.readUInt16LE(body + 24);
      fmt = {
        format,
        channels: head.readUInt16LE(body + 2),
        rate: head.readUInt32LE(body + 4),
        block: head.readUInt16LE(body + 12),
        bits: head.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (fmt?.format !== 1 || fmt.bits !== 16 || fmt.channels < 1 || fmt.rate <= 0 || fmt.block !== fmt.channels * 2) return undefined;
      // A streamed WAV (size unknown, 0 or 0xFFFFFFFF) or a truncated one: let ffprobe measure it.
      if (size === 0 || size === 0xffffffff || body + size > sizeBytes) return undefined;
      const durationS = Math.floor(size / fmt.block) / fmt.rate;
      // Anything after the samples (a LIST/INFO or id3 chunk) may be tags: not sent as it is (as-is.ts).
      tagged ||= body + size + (size & 1) < sizeBytes;
      return { ...info('wav', 'pcm_s16le', durationS, sizeBytes, fmt.rate, fmt.channels, fmt.rate * fmt.block * 8), ...(tagged && { tagged }) };
    } else if (id !== 'fact') {
      tagged = true;
    }
    off = body + size + (size & 1);
  }
  return undefined;
}

const MP3_RATES: Record<number, readonly number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** MPEG audio Layer III whose first frame carries a Xing/Info tag with the frame and byte counts. */
export function sniffMp3(head: Buffer, sizeBytes: number): MediaInfo | undefined {
  let off = 0;
  let tagged = false;
  if (head.toString('latin1', 0, 3) === 'ID3' && head.length >= 10) {
    off = 10 + (((head[6] & 0x7f) << 21) | ((head[7] & 0x7f) << 14) | ((head[8] & 0x7f) << 7) | (head[9] & 0x7f)) + (head[5] & 0x10 ? 10 : 0);
    tagged = id3HasText(head, off);
  }
  // The first frame must start right there: junk before it is for ffprobe to judge.
  if (off + 4 > head.length || head[off] !== 0xff || (head[off + 1] & 0xe0) !== 0xe0) return undefined;
  const version = (head[off + 1] >> 3) & 3;
  const layer = (head[off + 1] >> 1) & 3;
  const kbpsIndex = head[off + 2] >> 4;
  const rateIndex = (head[off + 2] >> 2) & 3;
  const mono = head[off + 3] >> 6 === 3;
  if (layer !== 1 || version === 1 || rateIndex === 3 || kbpsIndex === 0 || kbpsIndex === 15) return undefined;
  const rate = MP3_RATES[version][rateIndex];
  const spf = version === 3 ? 1152 : 576;
  const side = version === 3 ? (mono ? 17 : 32) : mono ? 9 : 17;
  const p = off + 4 + side;
  if (p + 16 > head.length) return undefined;
  const tag = head.toString('latin1', p, p + 4);
  if (tag !== 'Xing' && tag !== 'Info') return undefined;
  const flags = head.readUInt32BE(p + 4);
  if ((flags & 3) !== 3) return undefined; // both the frame count and the byte count, or ffprobe
  const frames = head.readUInt32BE(p + 8);
  const bytes = head.readUInt32BE(p + 12);
  const audioBytes = sizeBytes - off;
  // Truncated (fewer bytes than the tag counts), or much more than it (appended data): ffprobe decides.
  if (frames === 0 || bytes === 0 || audioBytes < bytes || audioBytes > bytes + 128 + 64 * 1024) return undefined;
  const durationS = (frames * spf) / rate;
  // Bytes after the frames may be an ID3v1 or APE tag (a title, a comment): not sent as it is (as-is.ts).
  tagged ||= audioBytes > bytes;
  // The tag's own frame may use another bitrate than the audio (it must hold the tag): average over the bytes.
  return { ...info('mp3', 'mp3', durationS, sizeBytes, rate, mono ? 1 : 2, Math.round((bytes * 8) / durationS)), ...(tagged && { tagged }) };
}

/** ID3v2 frames an encoder writes about itself (ffmpeg's TSSE "Lavf..."); any other frame is the uploader's text. */
const ID3_TECHNICAL = new Set(['TSSE', 'TENC', 'TLEN']);

/** Whether an ID3v2.3/2.4 tag ending at `end` holds any frame but the encoder's own (unknown layouts: yes). */
function id3HasText(head: Buffer, end: number): boolean {
  const major = head[3];
  if ((major !== 3 && major !== 4) || head[5] & 0x40 || end > head.length) return true;
  let p = 10;
  while (p + 10 <= end) {
    const id = head.toString('latin1', p, p + 4);
    if (head[p] === 0) return false; // padding
    if (!ID3_TECHNICAL.has(id)) return true;
    const size =
      major === 4 ? ((head[p + 4] & 0x7f) << 21) | ((head[p + 5] & 0x7f) << 14) | ((head[p + 6] & 0x7f) << 7) | (head[p + 7] & 0x7f) : head.readUInt32BE(p + 4);
    p += 10 + size;
  }
  return false;
}

/** The first format that recognises the header, or undefined. Pure. */
export function sniffMedia(head: Buffer, sizeBytes: number): MediaInfo | undefined {
  return sniffWav(head, sizeBytes) ?? sniffMp3(head, sizeBytes);
}

/** Reads the head of a local file and sniffs it; undefined on any doubt (or any read error). */
export async function sniffFile(file: string): Promise<MediaInfo | undefined> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return undefined;
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(Math.min(SNIFF_BYTES, size));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const info = sniffMedia(buf.subarray(0, bytesRead), size);
    if (info?.container !== 'mp3') return info;
    // The Xing tag is a claim: vouch for it only when the frames hold that much audio (mp3-frames.ts).
    if (size > SNIFF_MP3_MAX_BYTES) return undefined;
    const whole = Buffer.alloc(size);
    await fh.read(whole, 0, size, 0);
    const frames = walkMp3(whole);
    return frames && agreesWithFrames(info.durationS, frames) ? info : undefined;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}
