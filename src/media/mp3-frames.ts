/**
 * The audio an mp3 really holds, by walking its frame headers (no decoding: each header states its frame's
 * size and sample count). PURE.
 *
 * Why: an mp3 states its length in a Xing/Info tag (or lets readers guess it from the first frame's bitrate),
 * and the service bills what that states. A cut-short upload (the first 300 KB of a 72-s file: 12.5 s of
 * audio) or a crafted tag (818 s claimed over 0.16 s) was sent as it was and billed 5x and 5,000x what it held
 * (issue 22). The frames are the truth: the file goes as it is only when they agree with its claim
 * (as-is.ts), and the pipeline's own encodes are measured the same way (cut.ts), so the bytes sent carry the
 * decoded length whatever the source's timestamps said.
 */

const RATES: Record<number, readonly number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };
/** kbps by bitrate index: MPEG-1 Layer III, and MPEG-2/2.5 Layer III */
const KBPS_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const KBPS_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

export interface Mp3Frames {
  /** audio frames (a leading Xing/Info frame is metadata, not audio, and not counted) */
  frames: number;
  /** samples per channel those frames decode to, encoder priming and padding included */
  samples: number;
  sampleRate: number;
  /** seconds: samples / sampleRate */
  seconds: number;
  /** bytes of the frames walked */
  bytes: number;
}

/** A Layer III frame header at `off`: its size and samples, or undefined. */
function frameAt(buf: Buffer, off: number): { size: number; samples: number; rate: number; version: number; mono: boolean } | undefined {
  if (off + 4 > buf.length || buf[off] !== 0xff || (buf[off + 1] & 0xe0) !== 0xe0) return undefined;
  const version = (buf[off + 1] >> 3) & 3;
  const layer = (buf[off + 1] >> 1) & 3;
  const kbpsIndex = buf[off + 2] >> 4;
  const rateIndex = (buf[off + 2] >> 2) & 3;
  if (layer !== 1 || version === 1 || rateIndex === 3 || kbpsIndex === 0 || kbpsIndex === 15) return undefined;
  const rate = RATES[version][rateIndex];
  const kbps = (version === 3 ? KBPS_V1 : KBPS_V2)[kbpsIndex];
  const padding = (buf[off + 2] >> 1) & 1;
  const samples = version === 3 ? 1152 : 576;
  const size = Math.floor(((samples / 8) * kbps * 1000) / rate) + padding;
  return { size, samples, rate, version, mono: buf[off + 3] >> 6 === 3 };
}

/** Start of the first frame: after an ID3v2 tag, at the first sync word. */
function firstFrame(buf: Buffer): number {
  let off = 0;
  if (buf.toString('latin1', 0, 3) === 'ID3' && buf.length >= 10) {
    off = 10 + (((buf[6] & 0x7f) << 21) | ((buf[7] & 0x7f) << 14) | ((buf[8] & 0x7f) << 7) | (buf[9] & 0x7f)) + (buf[5] & 0x10 ? 10 : 0);
  }
  // Junk before the first frame: the first header followed by a second one where its size says.
  for (; off + 4 <= buf.length; off++) {
    const f = frameAt(buf, off);
    if (f && (off + f.size >= buf.length || frameAt(buf, off + f.size))) return off;
  }
  return buf.length;
}

/** Whether the frame at `off` is a Xing/Info tag (metadata, not audio): the tag's name after the side info. */
function isTagFrame(buf: Buffer, off: number, f: { version: number; mono: boolean }): boolean {
  const side = f.version === 3 ? (f.mono ? 17 : 32) : f.mono ? 9 : 17;
  const tag = buf.toString('latin1', off + 4 + side, off + 8 + side);
  return tag === 'Xing' || tag === 'Info';
}

/**
 * Walks every frame of a whole mp3 file held in `buf`. Stops at the first byte that is not a frame (an ID3v1
 * or APE tag at the end, or the cut of a truncated upload: a last frame cut short is not counted, as a decoder
 * drops it). Undefined when no frame is found.
 */
export function walkMp3(buf: Buffer): Mp3Frames | undefined {
  let off = firstFrame(buf);
  const start = off;
  let frames = 0;
  let samples = 0;
  let rate = 0;
  let first = true;
  while (off < buf.length) {
    const f = frameAt(buf, off);
    if (!f || off + f.size > buf.length || (rate && f.rate !== rate)) break;
    rate = f.rate;
    // Only a first frame can be the Xing/Info tag: reading the tag of every frame made a string per frame
    // (166,000 for a 200-min 8-kbps file) and was most of a walk's time and garbage.
    if (!(first && isTagFrame(buf, off, f))) {
      frames++;
      samples += f.samples;
    }
    first = false;
    off += f.size;
  }
  if (!rate) return undefined;
  return { frames, samples, sampleRate: rate, seconds: samples / rate, bytes: off - start };
}

/**
 * How far a stated length may be from the frames' and still be the same audio: the encoder's priming and end
 * padding (LAME: 576 + 1105 samples, under 0.1 s at 16 kHz) are in the frames and not in the claim, and a
 * reader may round to a frame. Measured on the test media (test/media/mp3-frames.test.ts): every honest mp3 is
 * within 0.08 s; the lying ones of issue 22 are off by seconds to minutes.
 */
export const MP3_AGREE_S = 0.15;
export const MP3_AGREE_RATIO = 0.01;

/** True when a stated length is the frames' length, within the tolerance above. PURE. */
export function agreesWithFrames(statedS: number, frames: Pick<Mp3Frames, 'seconds'>): boolean {
  return Math.abs(statedS - frames.seconds) <= Math.max(MP3_AGREE_S, statedS * MP3_AGREE_RATIO);
}
