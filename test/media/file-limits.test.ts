/**
 * The per-file limit decisions, pure: what a stranger's file may make a worker download, decode and pay for;
 * the key names a folder cannot hold; the output cap every request carries; how a run that could not write its
 * report ends. No ffmpeg, no Redis, no network.
 */
import { describe, expect, it } from 'vitest';
import { stopLine, waitExitCode } from '../../src/cli/wait.ts';
import { loadConfig } from '../../src/config/index.ts';
import { OUTPUT_PRIORS } from '../../src/cost/estimate.ts';
import { chunkCountViolation, DEFAULT_FILE_LIMITS, fileLimitsOf, mediaViolation, pixelRefusal, sizeViolation } from '../../src/media/limits.ts';
import { type PlanPolicy, planChunks } from '../../src/media/plan.ts';
import { MODELS } from '../../src/models/catalog.ts';
import { localNameProblem, MAX_SEGMENT_BYTES } from '../../src/storage/keys.ts';
import { outputCapTokens, TASK_SPECS, TASKS, type Task } from '../../src/tasks/catalog.ts';
import { OmniError } from '../../src/util/errors.ts';
import { audioInfo, videoInfo } from './fixtures.ts';

const L = DEFAULT_FILE_LIMITS;
const flash = MODELS['qwen3-omni-flash'];

function policy(task: Task, over: Partial<PlanPolicy> = {}): PlanPolicy {
  return { ...TASK_SPECS[task].policy, mode: TASK_SPECS[task].media, inputMode: 'base64', promptTokens: 40, ...over };
}

describe('per-file media limits', () => {
  it('the 10 h FLAC of silence in 72 KB (or 16 KB) is media_suspicious; real low-bitrate speech is not', () => {
    const flac = audioInfo(36_000, { sizeBytes: 72_037, container: 'flac', audio: [{ index: 0, codec: 'flac', sampleRate: 8000, channels: 1 }] });
    expect(mediaViolation(flac, L)?.code).toBe('media_suspicious');
    expect(mediaViolation({ ...flac, sizeBytes: 16 * 1024 }, L)?.code).toBe('media_suspicious');
    // 10 h at the leanest real codecs: AMR-NB 4.75 kbit/s, codec2 700 bit/s, AMR's DTX silence (50 B/s)
    for (const bytesPerS of [594, 87.5, 50]) expect(mediaViolation(audioInfo(36_000, { sizeBytes: 36_000 * bytesPerS }), L)).toBeUndefined();
  });

  it('a 16000x16000 frame is media_too_many_pixels; 8K passes; every video stream counts', () => {
    const big = videoInfo(1, { video: [{ index: 0, codec: 'h264', width: 16_000, height: 16_000, fps: 1, attachedPic: false }] });
    const v = mediaViolation(big, L);
    expect(v?.code).toBe('media_too_many_pixels');
    expect(v?.message).toContain('16000x16000');
    expect(mediaViolation(videoInfo(60, { video: [{ index: 0, codec: 'h264', width: 8192, height: 4320, fps: 30, attachedPic: false }] }), L)).toBeUndefined();
    const cover = videoInfo(60);
    cover.video[1] = { ...cover.video[1], width: 20_000, height: 20_000 };
    expect(mediaViolation(cover, L)?.code).toBe('media_too_many_pixels');
  });

  it("reads the frame a decoder refused under -max_pixels from ffmpeg's stderr", () => {
    const line =
      '[h264 @ 0x5555e4fa7e80] [IMGUTILS @ 0x7ffd4087b960] Picture size 16000x16000 exceeds specified max pixel count 35389440, see the documentation if you wish to increase it';
    expect(pixelRefusal(`frame=1\n${line}\nError while opening decoder`)).toBe('16000x16000');
    expect(pixelRefusal('[h264 @ 0x1] decode_slice_header error')).toBeUndefined();
  });

  it('longer than the limit is media_too_long; the limit itself passes', () => {
    expect(mediaViolation(audioInfo(L.maxMediaSeconds + 1), L)?.code).toBe('media_too_long');
    expect(mediaViolation(audioInfo(L.maxMediaSeconds), L)).toBeUndefined();
    expect(mediaViolation(audioInfo(3600), { ...L, maxMediaSeconds: 1800 })?.code).toBe('media_too_long');
  });

  it('size: over the download cap is media_too_large, before and after the probe', () => {
    expect(sizeViolation(L.maxDownloadBytes + 1, L)?.code).toBe('media_too_large');
    expect(sizeViolation(L.maxDownloadBytes, L)).toBeUndefined();
    expect(mediaViolation(audioInfo(600, { sizeBytes: 2000 }), { ...L, maxDownloadBytes: 1000, maxSecondsPerByte: 10 })?.code).toBe('media_too_large');
  });

  it('chunk count: plan_too_many_chunks, refused by the planner before it lists the cuts', () => {
    expect(chunkCountViolation(3001, L)?.code).toBe('plan_too_many_chunks');
    expect(chunkCountViolation(3000, L)).toBeUndefined();
    // 10 h of captions is 1,200 requests: refused at a limit of 1,000, planned at the default
    const tenHours = audioInfo(36_000);
    const refused = (() => {
      try {
        planChunks(tenHours, MODELS['qwen3-omni-30b-a3b-captioner'], policy('caption', { maxChunks: 1000 }));
      } catch (e) {
        return e;
      }
    })();
    expect(refused).toBeInstanceOf(OmniError);
    expect((refused as OmniError).code).toBe('plan_too_many_chunks');
    expect((refused as OmniError).retryable).toBe(false);
    expect(planChunks(tenHours, MODELS['qwen3-omni-30b-a3b-captioner'], policy('caption', { maxChunks: L.maxChunksPerFile })).chunks.length).toBeGreaterThan(
      1000,
    );
    // a header claiming a century is refused at once (no millions of cuts in memory)
    const century = audioInfo(100 * 365 * 86_400);
    expect(() => planChunks(century, flash, policy('transcribe', { maxChunks: 3000 }))).toThrow(/requests, more than the limit of 3000/);
  });

  it('the settings default to the documented limits and can be changed', () => {
    const cfg = loadConfig({ env: {} });
    expect(fileLimitsOf(cfg)).toEqual(L);
    const tight = loadConfig({
      env: {
        OMNIBATCH_MAX_DOWNLOAD_BYTES: '1000',
        OMNIBATCH_MAX_MEDIA_SECONDS: '60',
        OMNIBATCH_MAX_PIXELS: '100',
        OMNIBATCH_MAX_PIXELS_PER_SECOND: '3000',
        OMNIBATCH_MAX_CHUNKS: '2',
        OMNIBATCH_MAX_SECONDS_PER_BYTE: '0.5',
      },
    });
    expect(fileLimitsOf(tight)).toEqual({
      maxDownloadBytes: 1000,
      maxMediaSeconds: 60,
      maxPixels: 100,
      maxPixelsPerSecond: 3000,
      maxChunksPerFile: 2,
      maxSecondsPerByte: 0.5,
    });
    expect(() => loadConfig({ env: { OMNIBATCH_MAX_SECONDS_PER_BYTE: '0' } })).toThrow(/maxSecondsPerByte/);
  });
});

describe('names a folder cannot hold', () => {
  it('a 252-byte name is too long once ".moderation.json" is added; 239 bytes is the longest that fits', () => {
    expect(localNameProblem(`${'n'.repeat(248)}.mp3`)).toMatch(/268 bytes: a folder takes at most 255/);
    expect(localNameProblem(`${'n'.repeat(235)}.mp3`)).toBeUndefined();
    expect(localNameProblem(`a/${'n'.repeat(236)}.mp3`)).toMatch(/at most 255/);
    expect(localNameProblem(`${'d'.repeat(256)}/x.mp3`)).toMatch(/folder name/);
    // bytes, not characters: 120 three-byte characters are 360 bytes
    expect(localNameProblem(`${'語'.repeat(80)}.mp3`)).toMatch(/at most 255/);
    expect(MAX_SEGMENT_BYTES).toBe(255);
  });
});

describe('the output cap of every request', () => {
  it('each task has a finite cap, twice the high prior, within the model ceiling', () => {
    for (const task of TASKS) {
      for (const s of [1, 30, 120, 300]) {
        const cap = outputCapTokens(task, s, flash.limits.maxOutputTokens);
        const high = OUTPUT_PRIORS[task].high;
        expect(cap).toBeGreaterThanOrEqual(Math.min(flash.limits.maxOutputTokens, 2 * (high.perRequest + high.perSecond * s)));
        expect(cap).toBeLessThanOrEqual(flash.limits.maxOutputTokens);
      }
    }
    // 5 minutes of transcript: 3,640 tokens, far below the model's 16,384
    expect(outputCapTokens('transcribe', 300, flash.limits.maxOutputTokens)).toBe(3640);
    expect(outputCapTokens('custom', 300, 2048)).toBe(2048);
  });
});

describe('a run whose report could not be written', () => {
  it('says so in one line; a stop reason alone is shown too; a completed run says nothing', () => {
    expect(
      stopLine({
        status: 'stopped_error',
        stopReason: 'error',
        stopMessage: 'the report could not be written: x',
        reportError: 's3://b/_runs/r/report.json: storage_unavailable: ECONNREFUSED',
      }),
    ).toBe('report_unwritable: s3://b/_runs/r/report.json: storage_unavailable: ECONNREFUSED');
    expect(stopLine({ status: 'cancelled', stopReason: 'cancelled', stopMessage: 'cancelled by the user' })).toBe('stopped (cancelled): cancelled by the user');
    expect(stopLine({ status: 'completed' })).toBeUndefined();
  });

  it('run --wait exits 1 when the report could not be written, whatever the files did', () => {
    expect(waitExitCode({ status: 'stopped_error', reportError: 'x' })).toBe(1);
    expect(waitExitCode({ status: 'completed' })).toBe(0);
    expect(waitExitCode({ status: 'completed_with_failures' })).toBe(2);
  });
});
