/**
 * The prepare handler over in-memory fakes (test/fakes/): the run store, storage, the media adapters (the real
 * pure planner, no ffmpeg) and the flow it enqueues. Every branch, in milliseconds: no Redis, no ffmpeg.
 */
import { describe, expect, it } from 'vitest';
import type { PreparePayload } from '../../src/jobs/catalog.ts';
import { stagedKey } from '../../src/lifecycle/file-state.ts';
import type { MediaInfo } from '../../src/media/types.ts';
import { OmniError } from '../../src/util/errors.ts';
import { runPrepare } from '../../src/workers/prepare.ts';
import type { StagedFile } from '../../src/workers/prepare-flow.ts';
import { fakePrepare } from '../fakes/prepare.ts';

const job = (over: Partial<PreparePayload> = {}) => ({ data: { runId: 'r1', fileId: 'f1', key: 'in/a.mp3', etag: 'e', size: 5, ...over } });

// 10 s of 16 kHz mono mp3 at 32 kbps: one chunk, sent as it is
const mp3: MediaInfo = {
  durationS: 10,
  headerDurationS: 10,
  sizeBytes: 40_000,
  container: 'mp3',
  audio: [{ index: 0, codec: 'mp3', sampleRate: 16_000, channels: 1 }],
  video: [],
};
// 20 min of CD-quality WAV: too many bytes to go as it is, encoded and cut
const wav: MediaInfo = {
  durationS: 1200,
  sizeBytes: 1200 * 176_400,
  container: 'wav',
  audio: [{ index: 0, codec: 'pcm_s16le', sampleRate: 44_100, channels: 2 }],
  video: [],
};
const mp4: MediaInfo = {
  durationS: 300,
  sizeBytes: 300 * 250_000,
  container: 'mov,mp4,m4a,3gp,3g2,mj2',
  audio: [{ index: 1, codec: 'aac', sampleRate: 48_000, channels: 2 }],
  video: [{ index: 0, codec: 'h264', width: 1920, height: 1080, fps: 25, attachedPic: false }],
};

/** A fake run with one pending file whose object is in the source. */
function setup(opts: Parameters<typeof fakePrepare>[0] = {}) {
  const f = fakePrepare(opts);
  f.runs.addFile('f1');
  f.src.put('in/a.mp3', 'AUDIO');
  return f;
}

type Child = { name: string; data: Record<string, unknown>; opts: { jobId: string; failParentOnFailure?: boolean } };
const childrenOf = (f: ReturnType<typeof setup>) => f.flows[0].children as Child[];

describe('the prepare handler over fakes', () => {
  it('skips a finished file without reading anything', async () => {
    const f = setup();
    f.runs.status.set('f1', 'succeeded');
    expect(await runPrepare(job(), f.ports)).toEqual({ skipped: 'file already finished' });
    expect(f.media.calls.sniff).toBe(0);
    expect(f.flows).toEqual([]);
  });

  it('ends the file as not run when the run is stopping', async () => {
    const f = setup();
    f.runs.stopped = { reason: 'cancelled', message: 'x' };
    expect(await runPrepare(job(), f.ports)).toEqual({ skipped: 'run stopping (cancelled)' });
    expect(f.runs.notRun).toEqual([{ fileId: 'f1', reason: 'cancelled' }]);
    expect(f.media.calls.sniff).toBe(0);
  });

  it('a redone job whose flow was added has nothing to do: one flow, one estimate', async () => {
    const f = setup();
    f.media.sniffed = mp3;
    expect(await runPrepare(job(), f.ports)).toMatchObject({ chunks: 1 });
    expect(await runPrepare(job(), f.ports)).toEqual({ skipped: 'flow exists' });
    expect(f.flows).toHaveLength(1);
    expect(f.runs.estimates.size).toBe(1);
    expect(f.media.calls.sniff).toBe(1);
  });

  it('refuses an object that was gone when listed, permanently', async () => {
    const f = setup();
    await expect(runPrepare(job({ size: -1 }), f.ports)).rejects.toMatchObject({ code: 'storage_not_found', retryable: false });
  });

  it('sends a small mp3 as it is: no ffprobe, its bytes staged as the one chunk (with where its speech is), one infer child', async () => {
    const f = setup();
    f.media.sniffed = mp3;
    f.media.silences = [{ startS: 4, endS: 6.5 }];
    const r = await runPrepare(job(), f.ports);
    expect(r).toMatchObject({ chunks: 1, durationS: 10, reason: expect.stringContaining('as it is') });
    expect(f.media.calls.probe).toBe(0);
    const key = stagedKey('r1', 'f1', undefined, 0, 'chunk.mp3');
    expect(f.dst.text(key)).toBe('AUDIO');
    expect(f.dst.json<StagedFile>(stagedKey('r1', 'f1', undefined, 0, 'prepared.json'))).toEqual({
      durationS: 10,
      chunks: [
        {
          index: 0,
          startS: 0,
          endS: 10,
          key,
          format: 'mp3',
          kind: 'audio',
          speech: [
            [0, 4],
            [6.5, 10],
          ],
        },
      ],
    });
    // A subtitle task has its silences measured even when the file is sent as it is.
    expect(f.media.calls.chunks[0].silencesAlways).toBe(true);
    // The executor is handed the decision (media/prepare-plan.ts), not left to make it again.
    expect(f.media.calls.chunks[0].decision).toBe('as-is');
    expect(f.flows[0]).toMatchObject({ name: 'finalize', data: { runId: 'r1', fileId: 'f1', key: 'in/a.mp3', chunks: 1, generation: 0, durationS: 10 } }); // finalize reads no prepared.json
    expect(f.flows[0].opts?.jobId).toBe('fin.r1.f1');
    const [child] = childrenOf(f);
    expect(child.data).toEqual({
      runId: 'r1',
      fileId: 'f1',
      key: 'in/a.mp3',
      chunk: 0,
      chunks: 1,
      startS: 0,
      endS: 10,
      stagingKey: key,
      format: 'mp3',
      kind: 'audio',
      generation: 0,
      shrink: 0,
    });
    expect(child.opts).toMatchObject({ jobId: 'inf.r1.f1.0', failParentOnFailure: true });
    expect(f.runs.estimates.get('f1')).toMatchObject({ mediaMs: 10_000, est: expect.any(Number) });
    expect(f.runs.estimates.get('f1')!.est).toBeGreaterThan(0);
  });

  it('probes and encodes what cannot go as it is: one infer child per cut chunk, in order', async () => {
    const f = setup();
    f.media.probed = wav;
    const r = await runPrepare(job(), f.ports);
    expect(f.media.calls.probe).toBe(1);
    expect(f.media.calls.chunks[0].decision).toBe('encode');
    const kids = childrenOf(f);
    expect(r).toMatchObject({ chunks: kids.length, durationS: 1200 });
    expect(kids.length).toBeGreaterThan(2);
    expect(kids.map((c) => c.data.chunk)).toEqual(kids.map((_, i) => i));
    expect(kids.every((c) => c.data.format === 'mp3' && c.data.chunks === kids.length && c.data.kind === 'audio')).toBe(true);
    expect(kids.at(-1)!.data.endS).toBe(1200);
    for (const c of kids) expect(f.dst.text(c.data.stagingKey as string)).toMatch(/^mp3 /);
  });

  it('sends the picture size of a video plan with every chunk, and prices its frames into the estimate', async () => {
    // the catalog has no video price for this model: one (1 USD per million tokens) makes the frames show
    const pricing = { 'qwen3-omni-flash': { intl: { inputVideo: 1 } } };
    const f = setup({ spec: { task: 'describe' }, pricing });
    f.media.probed = mp4;
    await runPrepare(job(), f.ports);
    const kids = childrenOf(f);
    expect(kids[0].data).toMatchObject({ kind: 'video', format: 'mp4', video: { width: 640, height: 360 } });
    const audioOnly = setup({ spec: { task: 'describe' }, pricing });
    audioOnly.media.probed = { ...mp4, video: [] };
    await runPrepare(job(), audioOnly.ports);
    expect(childrenOf(audioOnly)[0].data.video).toBeUndefined();
    expect(f.runs.estimates.get('f1')!.est).toBeGreaterThan(audioOnly.runs.estimates.get('f1')!.est);
  });

  it('refuses a file over a per-file limit with its code, before the encode and without a flow', async () => {
    const tooBig = setup({ limits: { maxDownloadBytes: 4 } });
    await expect(runPrepare(job(), tooBig.ports)).rejects.toMatchObject({ code: 'media_too_large', retryable: false });
    expect(tooBig.media.calls.sniff).toBe(0);

    const tooLong = setup({ limits: { maxMediaSeconds: 5 } });
    tooLong.media.sniffed = mp3;
    await expect(runPrepare(job(), tooLong.ports)).rejects.toMatchObject({ code: 'media_too_long', retryable: false });
    expect(tooLong.media.calls.probe).toBe(0);

    const tooWide = setup();
    tooWide.media.probed = { ...mp4, video: [{ ...mp4.video[0], width: 100_000, height: 100_000 }] };
    await expect(runPrepare(job(), tooWide.ports)).rejects.toMatchObject({ code: 'media_too_many_pixels' });
    for (const f of [tooBig, tooLong, tooWide]) {
      expect(f.media.calls.chunks).toEqual([]);
      expect(f.flows).toEqual([]);
      expect(f.runs.estimates.size).toBe(0);
    }
  });

  it('refuses a file planned into more chunks than allowed (plan_too_many_chunks): the limit reaches the planner', async () => {
    const f = setup({ limits: { maxChunksPerFile: 2 } });
    f.media.probed = wav;
    await expect(runPrepare(job(), f.ports)).rejects.toMatchObject({ code: 'plan_too_many_chunks', retryable: false });
    expect(f.media.calls.chunks[0].maxChunks).toBe(2);
    expect(f.flows).toEqual([]);
    expect(f.dst.objects.size).toBe(0);
  });

  it('passes a probe failure on as it is, and stages nothing', async () => {
    const f = setup();
    f.media.probed = new OmniError('media_unreadable', 'not media');
    await expect(runPrepare(job(), f.ports)).rejects.toMatchObject({ code: 'media_unreadable' });
    expect(f.dst.objects.size).toBe(0);
  });

  it('re-plans a file after an overflow with halved targets, under its new generation', async () => {
    const first = setup();
    first.media.probed = wav;
    await runPrepare(job(), first.ports);
    const f = setup();
    f.media.probed = wav;
    await runPrepare(job({ generation: 1, shrink: 1 }), f.ports);
    const [was, now] = [first.media.calls.chunks[0], f.media.calls.chunks[0]];
    expect(now.targetS).toBe(was.targetS / 2);
    expect(now.base64MaxChars).toBeLessThan(was.base64MaxChars ?? Infinity);
    const kids = childrenOf(f);
    expect(kids.length).toBeGreaterThan(childrenOf(first).length);
    expect(f.flows[0].opts?.jobId).toBe('fin.r1.f1.r1');
    expect(kids[0].opts.jobId).toBe('inf.r1.f1.0.r1');
    expect(kids[0].data).toMatchObject({ generation: 1, shrink: 1, stagingKey: stagedKey('r1', 'f1', 1, 0, 'chunk.mp3') });
    expect(f.dst.json(stagedKey('r1', 'f1', 1, 0, 'prepared.json'))).toMatchObject({ durationS: 1200 });
  });

  it('a run stopped during the encode kills it and ends the file as not run', async () => {
    const f = setup({ stopPollMs: 5 });
    f.media.probed = wav;
    f.media.hang = true;
    const running = runPrepare(job(), f.ports);
    setTimeout(() => {
      f.runs.stopped = { reason: 'budget', message: 'x' };
    }, 20);
    expect(await running).toEqual({ skipped: 'run stopping (budget)' });
    expect(f.runs.notRun).toEqual([{ fileId: 'f1', reason: 'budget' }]);
    expect(f.flows).toEqual([]);
  });

  it("the job's own abort (shutdown, cancelJob) fails the job: the file stays open for the retry", async () => {
    const ac = new AbortController();
    const f = setup({ signal: ac.signal, stopPollMs: 5 });
    f.media.probed = wav;
    f.media.hang = true;
    const running = runPrepare(job(), f.ports);
    setTimeout(() => ac.abort(new Error('shutting down')), 20);
    await expect(running).rejects.toThrow('shutting down');
    expect(f.runs.notRun).toEqual([]);
    expect(f.runs.status.get('f1')).toBe('pending');
  });
});
