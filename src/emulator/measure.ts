/**
 * Measures the media a request carries, as the real service would: `data:` URLs are decoded to a temp
 * file, http(s) URLs on loopback are fetched (anything else is refused: the emulator never calls the
 * internet), `file://` URLs are read in place. ffprobe gives the facts; results are cached by the
 * content's sha256, so a clip sent a thousand times is probed once. The pilot tone (marker.ts) is listened for
 * only where an answer depends on it (a moderation request): a decode of its own, half the children otherwise.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { mediaInputArgs } from '../media/allow-list.ts';
import { ffprobeJson, runFfmpeg } from '../media/ffmpeg.ts';
import { apiErrors } from './errors.ts';
import { MARKER_RATE, MARKER_S, type Marker, markerIn } from './marker.ts';
import type { ApiError, Measured, MediaPart } from './types.ts';
import { isApiError } from './types.ts';

/** Kind-independent facts from one probe. */
export interface ProbeFacts {
  durationS: number;
  hasAudio: boolean;
  channels: number;
  sampleRate: number;
  hasVideo: boolean;
  width: number;
  height: number;
}

type Json = Record<string, unknown>;
const num = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : 0;
};

/** ffprobe JSON -> facts. Pure. Cover art (attached_pic) is not a video track. */
export function interpretProbe(probe: Json): ProbeFacts {
  const streams = (Array.isArray(probe.streams) ? probe.streams : []) as Json[];
  const format = (probe.format ?? {}) as Json;
  const audio = streams.find((s) => s.codec_type === 'audio');
  const video = streams.find((s) => s.codec_type === 'video' && !((s.disposition as Json | undefined)?.attached_pic === 1));
  const durationS = Math.max(num(format.duration), ...streams.map((s) => num(s.duration)));
  return {
    durationS,
    hasAudio: audio !== undefined,
    channels: audio ? num(audio.channels) : 0,
    sampleRate: audio ? num(audio.sample_rate) : 0,
    hasVideo: video !== undefined,
    width: video ? num(video.width) : 0,
    height: video ? num(video.height) : 0,
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const CACHE_MAX = 2000;

interface Loaded {
  hash: string;
  bytes: number;
  file: string;
  temp: boolean;
}

export class MediaMeasurer {
  private readonly cache = new Map<string, Promise<ProbeFacts | ApiError>>();
  private readonly markers = new Map<string, Promise<Marker | undefined>>();
  private dir: Promise<string> | undefined;
  /** how many times ffprobe ran (a cache hit does not count) */
  probes = 0;

  constructor(private readonly limits: { base64MaxChars: number; urlMaxBytes: number }) {}

  private async tmp(): Promise<string> {
    // One directory per emulator, created once even when the first requests arrive together.
    this.dir ??= mkdtemp(path.join(os.tmpdir(), 'omnibatch-emulator-'));
    return path.join(await this.dir, randomUUID());
  }

  async close(): Promise<void> {
    if (this.dir) await rm(await this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  /**
   * Measures one media part; an ApiError when the service would refuse it.
   * `listen`: also tell the pilot tone its sound starts with (the answer depends on it: a moderation request).
   */
  async measure(part: MediaPart, base64MaxChars = this.limits.base64MaxChars, listen = false): Promise<Measured | ApiError> {
    const loaded: Loaded[] = [];
    try {
      // An image-list video: every frame is loaded (bytes and hash), the first is probed for its size.
      for (const url of part.urls) {
        const l = await this.load(
          url,
          base64MaxChars,
          loaded.length === 0 ? (hash) => !this.cache.has(hash) || (listen && !this.markers.has(hash)) : () => false,
        );
        if (isApiError(l)) return l;
        loaded.push(l);
      }
      const first = loaded[0];
      const facts = await this.probe(first);
      if (isApiError(facts)) return facts;
      const bytes = loaded.reduce((a, l) => a + l.bytes, 0);
      const hash =
        loaded.length === 1
          ? first.hash
          : createHash('sha256')
              .update(loaded.map((l) => l.hash).join(','))
              .digest('hex');
      const marker = listen && facts.hasAudio ? await this.marker(first) : undefined;
      const tagged = marker !== undefined ? { marker } : {};
      if (part.kind === 'audio') {
        if (!facts.hasAudio) return apiErrors.invalidParameter('The audio input has no decodable audio stream.');
        if (facts.durationS <= 0) return apiErrors.invalidParameter('The audio input is empty.');
        return {
          kind: 'audio',
          bytes,
          hash,
          durationS: facts.durationS,
          hasAudio: true,
          channels: facts.channels,
          sampleRate: facts.sampleRate,
          width: 0,
          height: 0,
          ...tagged,
        };
      }
      if (!facts.hasVideo) return apiErrors.invalidParameter(`The ${part.kind === 'image' ? 'image' : 'video'} input has no decodable picture.`);
      if (part.kind === 'image')
        return { kind: 'image', bytes, hash, durationS: 0, hasAudio: false, channels: 0, sampleRate: 0, width: facts.width, height: facts.height };
      return {
        kind: 'video',
        bytes,
        hash,
        durationS: part.kind === 'frames' ? 0 : facts.durationS,
        hasAudio: part.kind === 'video' && facts.hasAudio,
        channels: facts.channels,
        sampleRate: facts.sampleRate,
        width: facts.width,
        height: facts.height,
        ...(part.kind === 'frames' ? { frames: loaded.length } : {}),
        ...tagged,
      };
    } finally {
      await Promise.all(loaded.filter((l) => l.temp).map((l) => unlink(l.file).catch(() => undefined)));
    }
  }

  private probe(l: Loaded): Promise<ProbeFacts | ApiError> {
    let p = this.cache.get(l.hash);
    if (!p) {
      this.probes++;
      p = probeFile(l.file);
      this.cache.set(l.hash, p);
      if (this.cache.size > CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
    }
    return p;
  }

  private marker(l: Loaded): Promise<Marker | undefined> {
    let p = this.markers.get(l.hash);
    if (!p) {
      p = soundMarker(l.file).catch(() => undefined);
      this.markers.set(l.hash, p);
      if (this.markers.size > CACHE_MAX) this.markers.delete(this.markers.keys().next().value as string);
    }
    return p;
  }

  /** Bytes to a local file and their hash. `needFile(hash)`: the caller will read the file (not when all is cached). */
  private async load(url: string, base64MaxChars: number, needFile: (hash: string) => boolean): Promise<Loaded | ApiError> {
    if (url.startsWith('data:')) {
      const comma = url.indexOf(',');
      if (comma < 0) return apiErrors.invalidParameter('Malformed data URL.');
      const meta = url.slice(5, comma);
      const payload = url.slice(comma + 1);
      const isB64 = meta.split(';').includes('base64');
      if (isB64 && payload.length >= base64MaxChars) {
        return apiErrors.invalidParameter(`The base64 data exceeds the limit of ${base64MaxChars} characters.`);
      }
      const buf = isB64 ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'latin1');
      if (buf.length === 0) return apiErrors.invalidParameter('The data URL is empty.');
      const hash = createHash('sha256').update(buf).digest('hex');
      if (!needFile(hash)) return { hash, bytes: buf.length, file: '', temp: false };
      const file = await this.tmp();
      await writeFile(file, buf);
      return { hash, bytes: buf.length, file, temp: true };
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return apiErrors.invalidParameter(`Invalid media URL: ${url.slice(0, 80)}`);
    }
    if (parsed.protocol === 'file:') {
      const file = fileURLToPath(parsed);
      try {
        const st = await stat(file);
        const hash = await hashStream(createReadStream(file));
        return { hash, bytes: st.size, file, temp: false };
      } catch (e) {
        return apiErrors.downloadFailed((e as Error).message);
      }
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return apiErrors.invalidParameter(`Unsupported media URL scheme: ${parsed.protocol}`);
    if (!LOOPBACK.has(parsed.hostname)) return apiErrors.downloadFailed(`the emulator only fetches loopback URLs, not ${parsed.hostname}`);
    return this.download(url);
  }

  private async download(url: string): Promise<Loaded | ApiError> {
    const file = await this.tmp();
    let bytes = 0;
    const h = createHash('sha256');
    const max = this.limits.urlMaxBytes;
    try {
      const res = await fetch(url);
      if (!res.ok || !res.body) return apiErrors.downloadFailed(`HTTP ${res.status}`);
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          if (bytes > max) return cb(new Error(`the file is over ${max} bytes`));
          h.update(chunk);
          cb(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), tap, createWriteStream(file));
      return { hash: h.digest('hex'), bytes, file, temp: true };
    } catch (e) {
      await unlink(file).catch(() => undefined);
      return apiErrors.downloadFailed((e as Error).message);
    }
  }
}

async function hashStream(s: NodeJS.ReadableStream): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of s) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** ffprobe, and a full decode when the container states no duration (e.g. some WebM). */
async function probeFile(file: string): Promise<ProbeFacts | ApiError> {
  let facts: ProbeFacts;
  try {
    facts = interpretProbe(await ffprobeJson(file));
  } catch {
    return apiErrors.invalidParameter('The media file could not be decoded (unsupported or corrupt format).');
  }
  if (facts.durationS === 0 && (facts.hasAudio || facts.hasVideo)) {
    const decoded = await decodedDuration(file).catch(() => 0);
    // Still images decode to one frame of no length; that is fine for an image.
    facts = { ...facts, durationS: decoded };
  }
  return facts;
}

/** The pilot tone at the start of the sound (marker.ts): the first MARKER_S seconds, decoded. */
async function soundMarker(file: string): Promise<Marker | undefined> {
  const { stdoutBytes: buf } = await runFfmpeg([
    '-v',
    'error',
    ...mediaInputArgs(`file:${path.resolve(file)}`),
    '-t',
    String(MARKER_S),
    '-vn',
    '-ac',
    '1',
    '-ar',
    String(MARKER_RATE),
    '-f',
    's16le',
    'pipe:1',
  ]);
  return markerIn(new Int16Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 2)));
}

/** The last `time=` ffmpeg reports after decoding everything: the real length. */
async function decodedDuration(file: string): Promise<number> {
  // the same allow-list as every media read: a request's media is a stranger's file
  const { stderr } = await runFfmpeg(['-v', 'info', ...mediaInputArgs(`file:${path.resolve(file)}`), '-f', 'null', '-']);
  const times = [...stderr.matchAll(/time=(\d+):(\d+):(\d+(?:\.\d+)?)/g)];
  const last = times.at(-1);
  if (!last) return 0;
  return Number(last[1]) * 3600 + Number(last[2]) * 60 + Number(last[3]);
}
