/** prepare's choices without ffmpeg or Redis: whether it runs, and as-is vs probe vs refuse. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FILE_LIMITS } from '../../src/media/limits.ts';
import { taskPolicy } from '../../src/media/policy.ts';
import type { MediaInfo } from '../../src/media/types.ts';
import { findModel } from '../../src/models/catalog.ts';
import { decidePrepareMedia, decidePrepareStart, type PrepareStartFacts } from '../../src/workers/prepare-decide.ts';

describe('decidePrepareStart', () => {
  const open: PrepareStartFacts = { fileOpen: true, flowExists: false, key: 'a.mp3', size: 10 };

  it('skips a finished file, ends it as not run when the run stops, skips a flow already added', () => {
    expect(decidePrepareStart({ ...open, fileOpen: false, stop: 'cancelled', flowExists: true })).toEqual({ kind: 'skip', reason: 'file already finished' });
    expect(decidePrepareStart({ ...open, stop: 'cancelled', flowExists: true })).toEqual({ kind: 'not-run', stop: 'cancelled' });
    expect(decidePrepareStart({ ...open, flowExists: true, size: -1 })).toEqual({ kind: 'skip', reason: 'flow exists' });
  });

  it('refuses an object that was gone when listed, permanently; otherwise prepares', () => {
    const d = decidePrepareStart({ ...open, size: -1 });
    expect(d.kind === 'refuse' && d.error).toMatchObject({ code: 'storage_not_found', retryable: false, message: expect.stringContaining('a.mp3') });
    expect(decidePrepareStart(open)).toEqual({ kind: 'prepare' });
  });
});

describe('decidePrepareMedia', () => {
  const model = findModel('qwen3-omni-30b-a3b-captioner')!;
  const policy = taskPolicy('caption', model);
  const limits = { ...DEFAULT_FILE_LIMITS };
  // 10 s of 16 kHz mono mp3 at 32 kbps: small, one chunk, sendable unchanged
  const mp3: MediaInfo = {
    durationS: 10,
    headerDurationS: 10,
    sizeBytes: 40_000,
    container: 'mp3',
    audio: [{ index: 0, codec: 'mp3', sampleRate: 16_000, channels: 1 }],
    video: [],
  };

  it('plans a small mp3 from its sniffed header, without ffprobe', () => {
    expect(decidePrepareMedia({ sniffed: mp3, model, policy, limits })).toEqual({
      kind: 'plan',
      info: mp3,
      read: 'as-is',
      prepare: { kind: 'as-is', plan: expect.objectContaining({ encode: expect.objectContaining({ format: 'mp3', audioCodec: 'mp3' }) }) },
    });
  });

  it('asks for ffprobe when nothing was sniffed or the sniffed file cannot go as it is, then plans from the probe', () => {
    expect(decidePrepareMedia({ model, policy, limits })).toEqual({ kind: 'probe' });
    const long = { ...mp3, durationS: 4 * 3600, sizeBytes: 4 * 3600 * 4000 };
    expect(decidePrepareMedia({ sniffed: long, model, policy, limits })).toEqual({ kind: 'probe' });
    const flac = { ...mp3, container: 'flac', audio: [{ index: 0, codec: 'flac', sampleRate: 16_000, channels: 1 }] };
    expect(decidePrepareMedia({ sniffed: mp3, probed: flac, model, policy, limits })).toEqual({
      kind: 'plan',
      info: flac,
      read: 'probe',
      prepare: { kind: 'encode', mode: 'audio' },
    });
    // A probed file the model takes as it is goes unchanged too (the probe knows formats the sniffer does not).
    expect(decidePrepareMedia({ probed: mp3, model, policy, limits })).toMatchObject({ read: 'probe', prepare: { kind: 'as-is' } });
  });

  it('refuses media over a per-file limit, sniffed or probed, before anything decodes', () => {
    const short = { ...limits, maxMediaSeconds: 5 };
    const sniffed = decidePrepareMedia({ sniffed: mp3, model, policy, limits: short });
    expect(sniffed.kind === 'refuse' && sniffed.error).toMatchObject({ code: 'media_too_long', retryable: false });
    const huge: MediaInfo = {
      ...mp3,
      container: 'matroska',
      video: [{ index: 1, codec: 'h264', width: 100_000, height: 100_000 } as MediaInfo['video'][number]],
    };
    const probed = decidePrepareMedia({ probed: huge, model, policy, limits });
    expect(probed.kind === 'refuse' && probed.error).toMatchObject({ code: 'media_too_many_pixels', retryable: false });
  });
});
