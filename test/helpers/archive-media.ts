/**
 * Archive and hostile media for issue 22, made at test time (nothing downloaded, nothing binary committed):
 * containers ffmpeg writes (MXF, DV, GXF, RealMedia, VOC, ...), the few it only reads built byte by byte
 * (NIST SPHERE, IFF 8SVX, a ProTracker module), and the files whose header lies about their length (a cut-short
 * mp3, a forged Xing tag, 400 chained Ogg links, a Matroska whose timestamps jump 20 h). Each maker returns the
 * decodable seconds a correct reader must find (`seconds`), or the code it must refuse with.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { locateFfmpeg } from '../../src/media/ffmpeg.ts';

function ff(args: string[]): void {
  const r = spawnSync(locateFfmpeg().ffmpeg, ['-v', 'error', '-nostdin', '-y', ...args], { timeout: 120_000, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`archive media: ffmpeg ${args.join(' ')}: ${r.stderr?.trim() ?? r.error?.message}`);
}

/** Pink noise gated into 0.5-s pauses every 3.1 s: "speech" the cutter can find pauses in. */
const speechLike = (seconds: number, rate = 16_000): string[] => [
  '-f',
  'lavfi',
  '-i',
  `anoisesrc=r=${rate}:a=0.3:c=pink:d=${seconds},volume='if(lt(mod(t,3.1),0.5),0,1)':eval=frame`,
];
const picture = (seconds: number, size = '320x240', fps = 25): string[] => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}:duration=${seconds}`];
/** A PAL SD picture with 48 kHz "speech": the inputs of a tape or broadcast-server recording. */
const pal = (seconds: number): string[] => [...picture(seconds, '720x576', 25), ...speechLike(seconds, 48_000)];

export interface ArchiveFile {
  name: string;
  /** the ffmpeg demuxer that must read it (media/formats.ts) */
  demuxer: string;
  /** decodable seconds */
  seconds: number;
  /** no audio track (an audio task fails it with media_no_audio) */
  noAudio?: boolean;
  make(out: string): void;
}

/** One file per container added to the allow-list by issue 22 (and a few older ones nothing tested). */
export const ARCHIVE_FILES: readonly ArchiveFile[] = [
  {
    name: 'broadcast.mxf',
    demuxer: 'mxf',
    seconds: 4,
    make: (f) =>
      ff([...picture(4), ...speechLike(4, 48_000), '-c:v', 'mpeg2video', '-b:v', '2M', '-c:a', 'pcm_s16le', '-ar', '48000', '-shortest', '-f', 'mxf', f]),
  },
  {
    name: 'tape.dv',
    demuxer: 'dv',
    seconds: 3,
    make: (f) => ff([...pal(3), '-c:v', 'dvvideo', '-pix_fmt', 'yuv420p', '-c:a', 'pcm_s16le', '-ar', '48000', '-ac', '2', '-shortest', '-f', 'dv', f]),
  },
  {
    name: 'server.gxf',
    demuxer: 'gxf',
    seconds: 3,
    make: (f) => ff([...pal(3), '-c:v', 'mpeg2video', '-c:a', 'pcm_s16le', '-ar', '48000', '-ac', '1', '-shortest', '-f', 'gxf', f]),
  },
  // ffmpeg's rm muxer writes RealAudio 1.0 (real_144) without usable timestamps; AC-3 in RealMedia it times.
  { name: 'radio.rm', demuxer: 'rm', seconds: 5, make: (f) => ff([...speechLike(5, 44_100), '-c:a', 'ac3', '-b:a', '64k', '-ac', '1', '-f', 'rm', f]) },
  { name: 'game.voc', demuxer: 'voc', seconds: 3, make: (f) => ff([...speechLike(3, 11_025), '-c:a', 'pcm_u8', '-ar', '11025', '-ac', '1', '-f', 'voc', f]) },
  { name: 'lab.sox', demuxer: 'sox', seconds: 3, make: (f) => ff([...speechLike(3), '-c:a', 'pcm_s32le', '-f', 'sox', f]) },
  { name: 'csound.sf', demuxer: 'ircam', seconds: 3, make: (f) => ff([...speechLike(3), '-c:a', 'pcm_s16le', '-f', 'ircam', f]) },
  { name: 'clip.nut', demuxer: 'nut', seconds: 3, make: (f) => ff([...speechLike(3), '-c:a', 'pcm_s16le', '-f', 'nut', f]) },
  { name: 'lossless.tta', demuxer: 'tta', seconds: 3, make: (f) => ff([...speechLike(3), '-c:a', 'tta', '-f', 'tta', f]) },
  { name: 'lossless.wv', demuxer: 'wv', seconds: 3, make: (f) => ff([...speechLike(3), '-c:a', 'wavpack', '-f', 'wv', f]) },
  { name: 'book.m4b', demuxer: 'mov', seconds: 4, make: (f) => ff([...speechLike(4), '-c:a', 'aac', '-b:a', '48k', '-f', 'ipod', f]) },
  { name: 'speech.sph', demuxer: 'nistsphere', seconds: 2, make: (f) => writeFileSync(f, nistSphere(2)) },
  { name: 'amiga.8svx', demuxer: 'iff', seconds: 2, make: (f) => writeFileSync(f, iff8svx(2)) },
  // No encoder for Shorten exists in ffmpeg: the file is written here, bit by bit (shortenFile below).
  { name: 'lossless.shn', demuxer: 'shn', seconds: 2.048, make: (f) => writeFileSync(f, shortenFile(2.048)) },
  // A module of one empty 64-row pattern at speed 6 / 125 BPM renders 64 x 6 x 20 ms.
  { name: 'tracker.mod', demuxer: 'libopenmpt', seconds: 7.68, make: (f) => writeFileSync(f, protrackerModule()) },
  {
    name: 'silent.m2v',
    demuxer: 'mpegvideo',
    seconds: 2,
    noAudio: true,
    make: (f) => ff([...picture(2), '-c:v', 'mpeg2video', '-f', 'mpeg2video', f]),
  },
];

/** 16 kHz mono 16-bit PCM of a 440 Hz tone. */
function tone(seconds: number, rate = 16_000): Buffer {
  const n = Math.round(seconds * rate);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  return b;
}

/** NIST SPHERE: a 1024-byte text header, then little-endian PCM (the format of TIMIT, Switchboard, ...). */
function nistSphere(seconds: number): Buffer {
  const pcm = tone(seconds);
  const lines = [
    'NIST_1A',
    '   1024',
    `sample_count -i ${pcm.length / 2}`,
    'sample_rate -i 16000',
    'channel_count -i 1',
    'sample_n_bytes -i 2',
    'sample_byte_format -s2 01',
    'sample_coding -s3 pcm',
    'end_head',
    '',
  ];
  const head = Buffer.alloc(1024, 0x20);
  head.write(lines.join('\n'), 'latin1');
  return Buffer.concat([head, pcm]);
}

/** An Amiga IFF 8SVX: FORM / VHDR / BODY of signed 8-bit samples at 8 kHz. */
function iff8svx(seconds: number): Buffer {
  const rate = 8000;
  const body = Buffer.alloc(seconds * rate);
  for (let i = 0; i < body.length; i++) body.writeInt8(Math.round(60 * Math.sin((2 * Math.PI * 440 * i) / rate)), i);
  const vhdr = Buffer.alloc(20);
  vhdr.writeUInt32BE(body.length, 0); // oneShotHiSamples
  vhdr.writeUInt16BE(rate, 12); // samplesPerSec
  vhdr.writeUInt8(1, 14); // ctOctave
  vhdr.writeUInt8(0, 15); // no compression
  vhdr.writeUInt32BE(0x10000, 16); // volume 1.0
  const chunk = (id: string, data: Buffer) => {
    const h = Buffer.alloc(8);
    h.write(id, 0, 'latin1');
    h.writeUInt32BE(data.length, 4);
    return Buffer.concat([h, data, Buffer.alloc(data.length & 1)]);
  };
  const inner = Buffer.concat([Buffer.from('8SVX', 'latin1'), chunk('VHDR', vhdr), chunk('BODY', body)]);
  return chunk('FORM', inner);
}

/** A 4-channel ProTracker module ("M.K."): one sample of a tone, one pattern playing it once. */
function protrackerModule(): Buffer {
  const sample = Buffer.alloc(2000);
  for (let i = 0; i < sample.length; i++) sample.writeInt8(Math.round(60 * Math.sin((2 * Math.PI * i) / 32)), i);
  const head = Buffer.alloc(20 + 31 * 30 + 2 + 128 + 4);
  head.write('omnibatch test', 0, 'latin1');
  // sample 1: name, length in words, finetune, volume, loop start, loop length (1 = no loop)
  const s1 = 20;
  head.write('tone', s1, 'latin1');
  head.writeUInt16BE(sample.length / 2, s1 + 22);
  head.writeUInt8(64, s1 + 25);
  head.writeUInt16BE(1, s1 + 28);
  for (let i = 1; i < 31; i++) head.writeUInt16BE(1, 20 + i * 30 + 28);
  head.writeUInt8(1, 20 + 31 * 30); // song length: 1 position
  head.writeUInt8(127, 20 + 31 * 30 + 1);
  head.write('M.K.', 20 + 31 * 30 + 2 + 128, 'latin1');
  const pattern = Buffer.alloc(64 * 4 * 4);
  // row 0, channel 0: sample 1 at period 428 (C-2)
  pattern.writeUInt8(0x01, 0);
  pattern.writeUInt8(0xac, 1);
  pattern.writeUInt8(0x10, 2);
  return Buffer.concat([head, pattern, sample]);
}

export interface HostileFile {
  name: string;
  /** decodable seconds a correct reader finds */
  seconds: number;
  /** what the header claims */
  claimS: number;
  /** the file must be refused alone with this code */
  refused?: 'media_suspicious';
  make(out: string, work: string): void;
}

/** A 72-s 32 kHz mp3 at 48 kbps, as the cut-short upload's original. */
function fullMp3(work: string): string {
  const f = path.join(work, 'full-72s.mp3');
  ff([...speechLike(72, 32_000), '-c:a', 'libmp3lame', '-b:a', '48k', '-ar', '32000', '-ac', '1', f]);
  return f;
}

/** Issue 22's lying files, small versions. */
export const HOSTILE_FILES: readonly HostileFile[] = [
  {
    // 48 kbps = 6000 B/s: the first 100 KB hold about 16.6 s of the 72 s the Xing tag counts.
    name: 'upload-cut-short.mp3',
    seconds: 16.6,
    claimS: 72,
    make: (f, w) => writeFileSync(f, readFileSync(fullMp3(w)).subarray(0, 100_000)),
  },
  {
    name: 'xing-claims-800s.mp3',
    seconds: 0.21,
    claimS: 800,
    make: (f, w) => {
      const short = path.join(w, 'short.mp3');
      ff([...speechLike(0.2, 22_050), '-c:a', 'libmp3lame', '-b:a', '32k', '-ar', '22050', '-ac', '1', short]);
      const d = readFileSync(short);
      let at = d.indexOf('Info', 0, 'latin1');
      if (at < 0) at = d.indexOf('Xing', 0, 'latin1');
      if (at < 0) throw new Error('archive media: no Xing/Info tag to forge');
      d.writeUInt32BE(Math.round((800 * 22_050) / 576), at + 8); // the frame count: 800 s at 576 samples a frame
      writeFileSync(f, d);
    },
  },
  {
    // Each link restarts its granule positions: the header (the last link) says 0.5 s, decoding finds 200 s.
    name: 'chained-400-links.opus',
    seconds: 200,
    claimS: 0.5,
    make: (f, w) => {
      const link = path.join(w, 'link.opus');
      ff([...speechLike(0.5, 48_000), '-c:a', 'libopus', '-b:a', '24k', '-ar', '48000', '-ac', '1', link]);
      const one = readFileSync(link);
      const links: Buffer[] = [];
      for (let i = 0; i < 400; i++) {
        // a fresh serial number per link (bytes 14..17 of every page), and each page's CRC redone
        links.push(withSerial(one, 0x1000 + i));
      }
      writeFileSync(f, Buffer.concat(links));
    },
  },
  {
    // 10 s of 44.1 kHz stereo PCM (1.7 MB: past the seconds-per-byte check) whose second half is stamped 20 h later.
    name: 'timestamps-jump-20h.mkv',
    seconds: 10,
    claimS: 72_010,
    refused: 'media_suspicious',
    make: (f) => ff(['-t', '10', ...speechLike(10, 44_100), '-ac', '2', '-af', "asetpts='PTS+gte(T\\,5)*72000/TB'", '-c:a', 'pcm_s16le', '-f', 'matroska', f]),
  },
];

/** The Ogg pages of `file` with another serial number (and their CRCs recomputed). */
function withSerial(file: Buffer, serial: number): Buffer {
  const out = Buffer.from(file);
  for (let at = out.indexOf('OggS'); at >= 0; at = out.indexOf('OggS', at + 4)) {
    const segments = out[at + 26];
    let len = 27 + segments;
    for (let i = 0; i < segments; i++) len += out[at + 27 + i];
    out.writeUInt32LE(serial, at + 14);
    out.writeUInt32LE(0, at + 22);
    out.writeUInt32LE(oggCrc(out.subarray(at, at + len)), at + 22);
    at += len - 4;
  }
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? ((r << 1) ^ 0x04c11db7) >>> 0 : (r << 1) >>> 0;
    t[i] = r >>> 0;
  }
  return t;
})();

function oggCrc(page: Buffer): number {
  let crc = 0;
  for (const b of page) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) & 0xff) ^ b]) >>> 0;
  return crc >>> 0;
}

/** MSB-first bit writer with Shorten's Rice codes (ffmpeg's get_ur_golomb_shorten: zeros, a one, k low bits). */
class Bits {
  private bytes: number[] = [];
  private acc = 0;
  private n = 0;
  bit(b: number): void {
    this.acc = (this.acc << 1) | b;
    if (++this.n === 8) {
      this.bytes.push(this.acc);
      this.acc = 0;
      this.n = 0;
    }
  }
  bits(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) this.bit((value >>> i) & 1);
  }
  /** unsigned Rice code with k low bits */
  uvar(value: number, k: number): void {
    for (let q = value >>> k; q > 0; q--) this.bit(0);
    this.bit(1);
    this.bits(value & ((1 << k) - 1), k);
  }
  /** Shorten's "ulong" (versions > 0): the width first, then the value in that many bits */
  ulong(value: number): void {
    const k = Math.max(1, 32 - Math.clz32(value));
    this.uvar(k, 2);
    this.uvar(value, k);
  }
  done(): Buffer {
    while (this.n !== 0) this.bit(0);
    return Buffer.from(this.bytes);
  }
}

/**
 * A Shorten (.shn) file, version 2, 16 kHz mono 16-bit: the canonical WAV header as the verbatim section, then
 * blocks of 256 samples of a tone as DIFF0 (each sample a signed Rice code), then QUIT. `seconds` is rounded
 * down to whole blocks.
 */
function shortenFile(seconds: number): Buffer {
  const rate = 16_000;
  const blocks = Math.floor((seconds * rate) / 256);
  const w = new Bits();
  for (const c of Buffer.from('ajkg', 'latin1')) w.bits(c, 8);
  w.bits(2, 8); // version
  w.ulong(5); // TYPE_S16LH
  w.ulong(1); // channels
  w.ulong(256); // block size
  w.ulong(0); // maxnlpc
  w.ulong(0); // nmean
  w.ulong(0); // skip bytes
  w.uvar(9, 2); // FN_VERBATIM
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + blocks * 512, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(blocks * 512, 40);
  w.uvar(header.length, 5);
  for (const b of header) w.uvar(b, 8);
  const residual = 12; // each sample in 13 low bits: |s| < 4096
  for (let b = 0; b < blocks; b++) {
    w.uvar(0, 2); // FN_DIFF0: the sample itself (plus the mean, 0)
    w.uvar(residual, 3);
    for (let i = 0; i < 256; i++) {
      const s = Math.round(3000 * Math.sin((2 * Math.PI * 440 * (b * 256 + i)) / rate));
      w.uvar(s >= 0 ? 2 * s : -2 * s - 1, residual + 1);
    }
  }
  w.uvar(4, 2); // FN_QUIT
  return w.done();
}
