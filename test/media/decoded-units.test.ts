/** The pure decisions of issue 22, without ffmpeg: mp3 frames, declared vs decoded, failure classes, calibration. */
import { describe, expect, it } from 'vitest';
import { outputScale, priorOutput } from '../../src/cost/calibration.ts';
import { estimateRun } from '../../src/cost/estimate.ts';
import { declaredAgrees } from '../../src/media/as-is.ts';
import { failureCodeOf, withoutPaths } from '../../src/media/ffmpeg.ts';
import { DEFAULT_FILE_LIMITS } from '../../src/media/limits.ts';
import { claimOutrunsBytes, decideDecoded, oggLinks } from '../../src/media/measured.ts';
import { agreesWithFrames, walkMp3 } from '../../src/media/mp3-frames.ts';
import { buildResult } from '../../src/outputs/result.ts';
import { notMediaReason } from '../../src/producers/filter.ts';
import { OmniError } from '../../src/util/errors.ts';
import { audioInfo } from './fixtures.ts';

/** `n` MPEG-1 Layer III frames at 32 kbps, 32 kHz, mono (144 bytes each), after an optional Info frame. */
function mp3(n: number, opts: { info?: number; tail?: Buffer } = {}): Buffer {
  const frame = (body?: (b: Buffer) => void) => {
    const b = Buffer.alloc(144);
    b.set([0xff, 0xfb, 0x18, 0xc4]); // MPEG-1 L3, 32 kbps, 32 kHz, no padding, mono
    body?.(b);
    return b;
  };
  const frames: Buffer[] = [];
  if (opts.info !== undefined) {
    frames.push(
      frame((b) => {
        b.write('Info', 4 + 17, 'latin1');
        b.writeUInt32BE(3, 4 + 17 + 4);
        b.writeUInt32BE(opts.info!, 4 + 17 + 8);
      }),
    );
  }
  for (let i = 0; i < n; i++) frames.push(frame());
  return Buffer.concat([...frames, opts.tail ?? Buffer.alloc(0)]);
}

describe('mp3 frames', () => {
  it('counts the audio frames, not the Info frame, and stops at a tag or a cut', () => {
    const w = walkMp3(mp3(100, { info: 100, tail: Buffer.from('TAG-and-then-some') }))!;
    expect(w.frames).toBe(100);
    expect(w.seconds).toBeCloseTo((100 * 1152) / 32_000, 6);
    const cut = mp3(100).subarray(0, 144 * 40 + 50);
    expect(walkMp3(cut)!.frames).toBe(40);
    expect(walkMp3(Buffer.from('not an mp3 at all'))).toBeUndefined();
  });

  it('agrees with an honest claim and not with a forged or cut-short one', () => {
    const w = walkMp3(mp3(100))!;
    expect(agreesWithFrames(3.6, w)).toBe(true);
    expect(agreesWithFrames(800, w)).toBe(false);
    expect(agreesWithFrames(3.0, w)).toBe(false);
  });
});

describe('declared vs decoded', () => {
  it('a file goes as it is only when its header says what it holds', () => {
    expect(declaredAgrees(audioInfo(10))).toBe(true);
    expect(declaredAgrees(audioInfo(16.6, { headerDurationS: 72, durationSource: 'measured' }))).toBe(false);
    expect(declaredAgrees(audioInfo(10.05, { headerDurationS: 10, durationSource: 'measured' }))).toBe(true);
    expect(declaredAgrees(audioInfo(10, { headerDurationS: undefined }))).toBe(false);
  });

  it('plans on the decoded length, refuses a timeline its samples do not fill, and limits the decoded length', () => {
    const probed = audioInfo(0.5, { sizeBytes: 3_000_000 });
    expect(decideDecoded({ probed, timelineS: 200.2, samplesS: 200.3, limits: DEFAULT_FILE_LIMITS })).toEqual({
      kind: 'plan',
      durationS: 200.2,
      changed: true,
    });
    const gap = decideDecoded({ probed: audioInfo(72_010), timelineS: 72_010, samplesS: 10, limits: DEFAULT_FILE_LIMITS });
    expect(gap).toMatchObject({ kind: 'refuse', error: { code: 'media_suspicious' } });
    const limited = { ...DEFAULT_FILE_LIMITS, maxMediaSeconds: 100 };
    expect(decideDecoded({ probed, timelineS: 101, samplesS: 101, boundS: 101, limits: limited })).toMatchObject({ error: { code: 'media_too_long' } });
    expect(decideDecoded({ probed, timelineS: 150, limits: { ...limited, maxMediaSeconds: 120 } })).toMatchObject({ error: { code: 'media_too_long' } });
    // timestamps that stall (a muxer that wrote none): the samples are what is sent
    expect(decideDecoded({ probed, timelineS: 0.05, samplesS: 5, limits: DEFAULT_FILE_LIMITS })).toMatchObject({ durationS: 5 });
  });

  it('doubts a claim its bytes cannot hold at the stream bitrate, and counts chained Ogg links', () => {
    const pcm = audioInfo(72_010, { sizeBytes: 1_765_000, audio: [{ index: 0, codec: 'pcm_s16le', sampleRate: 44_100, channels: 2, bitrate: 1_411_200 }] });
    expect(claimOutrunsBytes(pcm)).toBe(true);
    expect(claimOutrunsBytes({ ...pcm, headerDurationS: 10 })).toBe(false);
    const page = (bos: boolean) => Buffer.concat([Buffer.from('OggS', 'latin1'), Buffer.from([0, bos ? 2 : 0]), Buffer.alloc(30)]);
    expect(oggLinks(Buffer.concat([page(true), page(false), page(true), page(false)]))).toBe(2);
  });
});

describe('codes and messages', () => {
  it('one code per ffmpeg failure class, and no worker path in a message', () => {
    expect(failureCodeOf('[wv @ 0x55d] Invalid block header\nError while decoding stream #0:0')).toBe('media_unreadable');
    expect(failureCodeOf('file:/tmp/x/source: Invalid data found when processing input')).toBe('media_unreadable');
    expect(failureCodeOf('Unrecognized option ‘foo’.')).toBe('ffmpeg_failed');
    const m = withoutPaths('file:/tmp/omnibatch-1/prep-abc/source: Invalid data found | /var/tmp/enc-1.mp3: error');
    expect(m).not.toMatch(/tmp|prep-|omnibatch-/);
    expect(m).toMatch(/the file: Invalid data found/);
  });

  it('a name that is not a media name and a content that is not media: skipped as not_media; a broken .wav fails', () => {
    const unreadable = new OmniError('media_unreadable', 'not readable as audio or video: Invalid data');
    expect(notMediaReason(unreadable, false)).toMatch(/not audio or video by its content/);
    expect(notMediaReason(unreadable, true)).toBeUndefined();
    expect(notMediaReason(new OmniError('media_too_long', 'x'), false)).toBeUndefined();
  });

  it("a result's chunks never end after the source", () => {
    const doc = buildResult({
      source: { uri: 'file:///a.mp3', key: 'a.mp3', etag: 'e', size: 1, durationS: 10 },
      task: 'transcribe',
      model: 'qwen3-omni-flash',
      protocol: 'chat',
      region: 'intl',
      fingerprint: 'f',
      chunks: [
        {
          index: 0,
          startS: 0,
          endS: 10.07,
          text: 'x',
          usage: { input: { text: 0, audio: 0, image: 0, video: 0 }, output: { text: 0, audio: 0, reasoning: 0 }, inputTotal: 0, outputTotal: 0 },
          cost: { amountMicros: 0, currency: 'USD', priced: true },
          attempts: 1,
        },
      ],
      text: 'x',
      outputs: [],
      createdAt: new Date(0),
    } as Parameters<typeof buildResult>[0]);
    expect(doc.chunks[0].end_s).toBe(10);
  });
});

describe('output calibration', () => {
  it('scales the priors by what was billed once enough requests back it, and the estimate follows', () => {
    expect(outputScale({ observed: 400, expected: 1300, requests: 4 })).toBeUndefined();
    const scale = outputScale({ observed: 400, expected: priorOutput('caption', 10, 171.5), requests: 10 })!;
    expect(scale).toBeCloseTo(400 / (10 * 60 + 171.5 * 4), 6);
    const files = [{ durationS: 30, chunkSeconds: [30] }];
    const opts = { model: 'qwen3-omni-30b-a3b-captioner', region: 'intl' as const, task: 'caption' as const };
    const plain = estimateRun(files, opts);
    const scaled = estimateRun(files, { ...opts, outputScale: scale });
    expect(scaled.output.expected).toBe(Math.ceil((60 + 4 * 30) * scale));
    expect(scaled.output.low).toBeLessThan(plain.output.low);
  });
});
