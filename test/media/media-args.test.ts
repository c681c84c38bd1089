/** Pure argument builders: the allow-list, deadlines, and bounded cut-time arguments (no ffmpeg here). */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import {
  checkContainer,
  demuxerOf,
  demuxerOfEncoded,
  FORMAT_ALLOW,
  isAllowedContainer,
  mediaInputArgs,
  probeInputArgs,
  refusedFormat,
} from '../../src/media/allow-list.ts';
import { childDeadlineMs, DEFAULT_DEADLINES, deadlinePolicy, setChildDeadlines } from '../../src/media/child-deadline.ts';
import { BATCH_MARGIN_S, encodeArgs, keyframeArg, MAX_TIMES_PER_ARG, segmentArgs, splitArgs, splitBatches } from '../../src/media/encode-args.ts';
import type { EncodeSpec } from '../../src/media/types.ts';
import type { OmniError } from '../../src/util/errors.ts';

const audio: EncodeSpec = { kind: 'audio', format: 'mp3', audioCodec: 'libmp3lame', sampleRate: 16000, channels: 1, audioBitrateKbps: 32, audioStream: 0 };
const video: EncodeSpec = {
  kind: 'video',
  format: 'mp4',
  audioCodec: 'aac',
  sampleRate: 16000,
  channels: 1,
  audioBitrateKbps: 32,
  audioStream: 1,
  videoStream: 0,
  video: { codec: 'libx264', fps: 2, maxWidth: 640, maxHeight: 640, crf: 30, width: 640, height: 360 },
};
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return (e as OmniError).code;
  }
  return undefined;
};

describe('media allow-list', () => {
  it('every input is opened with the file protocol only and the container list, and -f once probed', () => {
    const a = mediaInputArgs('file:/x/a.mp3');
    expect(a.slice(0, 4)).toEqual(['-protocol_whitelist', 'file', '-format_whitelist', FORMAT_ALLOW.join(',')]);
    expect(a.slice(-2)).toEqual(['-i', 'file:/x/a.mp3']);
    expect(a).not.toContain('-f');
    const b = mediaInputArgs('file:/x/a.m4a', 'mov,mp4,m4a,3gp,3g2,mj2');
    expect(b.slice(-4)).toEqual(['-f', 'mov', '-i', 'file:/x/a.m4a']);
    expect(probeInputArgs('file:/x/a.mkv', 'matroska,webm').slice(-3)).toEqual(['-f', 'matroska', 'file:/x/a.mkv']);
  });

  it('holds the real containers under their demuxer names, and no playlist or indirection', () => {
    for (const f of ['mov', 'matroska', 'mp3', 'wav', 'flac', 'ogg', 'aac', 'mpegts', 'mpeg', 'asf', 'aiff', 'amr', 'flv', 'caf', 'w64'])
      expect(FORMAT_ALLOW).toContain(f);
    for (const c of ['mov,mp4,m4a,3gp,3g2,mj2', 'matroska,webm', 'mp3', 'wav', 'ogg']) expect(isAllowedContainer(c)).toBe(true);
    for (const c of ['hls', 'dash', 'concat', 'ffconcat', 'image2', 'tty', 'lavfi', 'png_pipe', 'jpeg_pipe', 'image2pipe', 'unknown', 'applehttp,hls']) {
      expect(isAllowedContainer(c), c).toBe(false);
      expect(
        codeOf(() => checkContainer(c)),
        c,
      ).toBe('media_unsupported_container');
    }
    // Forcing a demuxer the list does not hold is refused, not passed on.
    expect(codeOf(() => mediaInputArgs('file:/x', 'hls'))).toBe('media_unsupported_container');
  });

  it("reads the refused demuxer from ffmpeg's complaint", () => {
    expect(refusedFormat("[hls @ 0x55a03f091280] Format not on whitelist 'mov,matroska'\nfile:/x: Invalid argument")).toBe('hls');
    expect(refusedFormat("[concat @ 0x1] Format not on whitelist 'mp3'")).toBe('concat');
    expect(refusedFormat('moov atom not found')).toBeUndefined();
    expect(demuxerOf('mov,mp4,m4a,3gp,3g2,mj2')).toBe('mov');
    expect(demuxerOfEncoded('mp4')).toBe('mov');
    expect(demuxerOfEncoded('mp3')).toBe('mp3');
  });

  it("the decoders' frame-size cap comes before the input when the limit is given, and only then", () => {
    expect(mediaInputArgs('file:/x/a.mp4', 'mov', 8192 * 4320).slice(0, 2)).toEqual(['-max_pixels', String(8192 * 4320)]);
    expect(mediaInputArgs('file:/x/a.mp4', 'mov', 8192 * 4320).slice(-4)).toEqual(['-f', 'mov', '-i', 'file:/x/a.mp4']);
    expect(mediaInputArgs('file:/x/a.mp4', 'mov')).not.toContain('-max_pixels');
    for (const spec of [audio, video]) {
      const a = encodeArgs('file:/v.mp4', spec, { inputFormat: 'mov', maxPixels: 1_000_000, range: { startS: 1, endS: 2 } });
      const i = a.indexOf('-max_pixels');
      expect(a.slice(i, i + 2)).toEqual(['-max_pixels', '1000000']);
      expect(i).toBeLessThan(a.indexOf('-i'));
      expect(a.filter((x) => x === '-max_pixels')).toHaveLength(1);
    }
    expect(encodeArgs('file:/v.mp4', video, { inputFormat: 'mov' })).not.toContain('-max_pixels');
  });

  it('the encode reads the source through the allow-list with the probed demuxer', () => {
    const a = encodeArgs('file:/s.mkv', audio, { inputFormat: 'matroska,webm', range: { startS: 1, endS: 2 } });
    const i = a.indexOf('-i');
    expect(a.slice(0, i + 2)).toEqual([
      '-ss',
      '1.000000',
      '-to',
      '2.000000',
      '-threads',
      '1',
      '-protocol_whitelist',
      'file',
      '-format_whitelist',
      FORMAT_ALLOW.join(','),
      '-f',
      'matroska',
      '-i',
      'file:/s.mkv',
    ]);
  });
});

describe('child deadlines', () => {
  it('scale with the media length within a floor and a ceiling', () => {
    const p = DEFAULT_DEADLINES;
    expect(childDeadlineMs('probe', undefined)).toBe(p.floorMs);
    expect(childDeadlineMs('encode_audio', 0)).toBe(p.floorMs);
    expect(childDeadlineMs('encode_audio', 3600)).toBe(p.floorMs + 3600 * p.perMediaSecondMs.encode_audio);
    expect(childDeadlineMs('encode_video', 600)).toBeGreaterThan(childDeadlineMs('encode_audio', 600));
    expect(childDeadlineMs('copy', 600)).toBeLessThan(childDeadlineMs('encode_audio', 600));
    expect(childDeadlineMs('encode_video', 1e9)).toBe(p.ceilingMs);
    expect(childDeadlineMs('decode', Number.NaN)).toBe(p.floorMs);
    expect(childDeadlineMs('decode', -5)).toBe(p.floorMs);
  });

  it('takes the floor and ceiling from Config (validated there: nonsense is refused), once for the process', () => {
    const cfg = (env: Record<string, string>) => loadConfig({ env });
    try {
      const c = cfg({ OMNIBATCH_CHILD_TIMEOUT_FLOOR_MS: '500', OMNIBATCH_CHILD_TIMEOUT_CEILING_MS: '1500' });
      setChildDeadlines({ floorMs: c.childTimeoutFloorMs, ceilingMs: c.childTimeoutCeilingMs });
      expect(childDeadlineMs('probe', undefined, deadlinePolicy())).toBe(500);
      expect(childDeadlineMs('encode_video', 3600, deadlinePolicy())).toBe(1500);
      expect(() => cfg({ OMNIBATCH_CHILD_TIMEOUT_FLOOR_MS: 'x' })).toThrow(/OMNIBATCH_CHILD_TIMEOUT_FLOOR_MS/);
      expect(() => cfg({ OMNIBATCH_CHILD_TIMEOUT_CEILING_MS: '-1' })).toThrow(/OMNIBATCH_CHILD_TIMEOUT_CEILING_MS/);
      expect(cfg({})).toMatchObject({ childTimeoutFloorMs: DEFAULT_DEADLINES.floorMs, childTimeoutCeilingMs: DEFAULT_DEADLINES.ceilingMs });
      // A ceiling under the floor is lifted to it.
      setChildDeadlines({ floorMs: 5000, ceilingMs: 100 });
      expect(deadlinePolicy().ceilingMs).toBe(5000);
    } finally {
      setChildDeadlines(DEFAULT_DEADLINES);
    }
    expect(deadlinePolicy()).toMatchObject({ floorMs: DEFAULT_DEADLINES.floorMs, ceilingMs: DEFAULT_DEADLINES.ceilingMs });
  });
});

describe('cut times never make one unbounded argument', () => {
  // 20,000 cuts, 3 s apart: one -segment_times list would be ~260 KB, over Linux's 128 KiB per argument (E2BIG).
  const times = Array.from({ length: 20_000 }, (_, i) => (i + 1) * 3 + 0.123456);

  it('a plan of 20,000 cuts becomes batches whose every argument stays under 128 KiB', () => {
    const batches = splitBatches(times);
    expect(batches.length).toBeGreaterThan(1);
    for (const b of batches) {
      expect(b.times.length).toBeLessThanOrEqual(MAX_TIMES_PER_ARG);
      const args = splitArgs(audio, b.times, 'p-%05d.mp3', 'l.csv');
      for (const a of args) expect(Buffer.byteLength(a)).toBeLessThan(128 * 1024);
      expect(args.join(' ').length).toBeLessThan(64 * 1024);
    }
    // Refused rather than built: one list past the bound.
    expect(codeOf(() => segmentArgs(audio, times, 'p-%05d.mp3', 'l.csv'))).toBe('internal');
  });

  it('batches cover every cut once, chain at shared times, and keep exactly the real pieces', () => {
    const batches = splitBatches(times, 100);
    let kept = 0;
    const cuts = new Set<number>();
    for (const [k, b] of batches.entries()) {
      for (const t of b.times) cuts.add(t);
      kept += b.keep[1] - b.keep[0] + 1;
      if (k > 0) {
        expect(b.times[0]).toBe(batches[k - 1].times.at(-1));
        expect(b.fromS).toBeCloseTo(b.times[0] - BATCH_MARGIN_S, 6);
        expect(b.keep[0]).toBe(1);
      } else {
        expect(b.fromS).toBeUndefined();
        expect(b.keep[0]).toBe(0);
      }
      if (k < batches.length - 1) {
        expect(b.toS).toBeCloseTo(b.times.at(-1)! + BATCH_MARGIN_S, 6);
        expect(b.keep[1]).toBe(b.times.length - 1);
      } else {
        expect(b.toS).toBeUndefined();
        expect(b.keep[1]).toBe(b.times.length);
      }
    }
    expect(cuts.size).toBe(times.length);
    // The pieces of one unbatched run: one more than the cuts.
    expect(kept).toBe(times.length + 1);
    expect(splitBatches(times.slice(0, 5))).toEqual([{ times: times.slice(0, 5), keep: [0, 5] }]);
    expect(splitBatches([])).toEqual([{ times: [], keep: [0, 0] }]);
  });

  it("a video plan's forced keyframes are bounded too: refused with a code past the bound", () => {
    expect(keyframeArg([1, 2.5])).toBe('1.000000,2.500000');
    expect(codeOf(() => keyframeArg(times))).toBe('media_too_many_cuts');
    expect(codeOf(() => encodeArgs('file:/v.mp4', video, { keyframesS: times }))).toBe('media_too_many_cuts');
  });
});
