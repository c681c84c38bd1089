import { describe, expect, it } from 'vitest';
import { chooseCuts, pickSilence } from '../../src/media/cutpoints.ts';
import { base64Chars, chunkTokens, estimateBytes } from '../../src/media/limits.ts';
import { AUDIO_LADDER_KBPS, type PlanPolicy, planChunks } from '../../src/media/plan.ts';
import { taskPolicy } from '../../src/media/policy.ts';
import { planPrepare } from '../../src/media/prepare-plan.ts';
import type { Plan } from '../../src/media/types.ts';
import { base64Ceiling, MODEL_IDS, MODELS, type ModelSpec } from '../../src/models/catalog.ts';
import { TASK_SPECS, type Task } from '../../src/tasks/catalog.ts';
import { OmniError } from '../../src/util/errors.ts';
import { audioInfo, regularSilences, videoInfo } from './fixtures.ts';

const captioner = MODELS['qwen3-omni-30b-a3b-captioner'];
const flash = MODELS['qwen3-omni-flash'];
const turbo = MODELS['qwen-omni-turbo'];

function policy(task: Task, over: Partial<PlanPolicy> = {}): PlanPolicy {
  return { ...TASK_SPECS[task].policy, mode: TASK_SPECS[task].media, inputMode: 'base64', promptTokens: 40, ...over };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof OmniError ? e.code : `not an OmniError: ${String(e)}`;
  }
  return undefined;
}

/** Every invariant a plan must hold, whatever the input. */
function expectValid(plan: Plan, durationS: number, model: ModelSpec): void {
  const { chunks, limits, encode } = plan;
  expect(chunks.length).toBeGreaterThan(0);
  expect(chunks[0].startS).toBe(0);
  expect(chunks[chunks.length - 1].endS).toBeCloseTo(durationS, 9);
  for (const [i, c] of chunks.entries()) {
    expect(c.index).toBe(i);
    const len = c.endS - c.startS;
    expect(len).toBeGreaterThan(0);
    if (i > 0) expect(c.startS + c.overlapS).toBeCloseTo(chunks[i - 1].endS, 9); // contiguous once the overlap is removed
    expect(len).toBeLessThanOrEqual(plan.maxChunkS + 1e-9);
    expect(len).toBeLessThanOrEqual(limits.maxSeconds);
    const media = plan.mode === 'audio' ? model.limits.audio! : model.limits.video!;
    expect(len).toBeLessThanOrEqual(media.maxSeconds);
    const bytes = estimateBytes(len, encode);
    expect(bytes).toBeLessThanOrEqual(limits.maxBytes);
    expect(bytes).toBeLessThanOrEqual(media.maxBytes);
    expect(base64Chars(bytes)).toBeLessThan(base64Ceiling(model));
    expect(chunkTokens(len, encode, model, limits.promptTokens)).toBeLessThanOrEqual(limits.maxInputTokens);
  }
}

describe('planChunks on 2-hour and 6-hour inputs', () => {
  const cases: [string, Task][] = [];
  for (const id of MODEL_IDS) {
    const tasks: Task[] = id === 'qwen3-omni-30b-a3b-captioner' ? ['caption', 'describe'] : ['caption', 'transcribe', 'moderate', 'describe'];
    for (const t of tasks) cases.push([id, t]);
  }
  for (const hours of [2, 6]) {
    const durationS = hours * 3600;
    it.each(cases)(`${hours} h of audio for %s / %s stays within every limit`, (id, task) => {
      const model = MODELS[id];
      const plan = planChunks(audioInfo(durationS), model, policy(task), regularSilences(durationS, 9.5, 0.7));
      expect(plan.mode).toBe('audio');
      expect(plan.encode).toMatchObject({ kind: 'audio', format: 'mp3', sampleRate: 16_000, channels: 1 });
      expectValid(plan, durationS, model);
      expect(plan.chunks.length).toBeGreaterThanOrEqual(Math.ceil(durationS / plan.maxChunkS));
    });
    it.each(cases)(`${hours} h of video for %s / %s stays within every limit`, (id, task) => {
      const model = MODELS[id];
      const plan = planChunks(videoInfo(durationS), model, policy(task), regularSilences(durationS, 13, 1));
      const wantsVideo = TASK_SPECS[task].media === 'video' && model.inputs.includes('video');
      expect(plan.mode).toBe(wantsVideo ? 'video' : 'audio');
      expectValid(plan, durationS, model);
      if (wantsVideo) {
        expect(plan.encode).toMatchObject({ kind: 'video', format: 'mp4', videoStream: 0, audioStream: 1 });
        expect(plan.encode.video).toMatchObject({ fps: 2, width: 640, height: 360 });
      }
    });
  }

  it('uses the task targets: ~30 s captions, ~300 s transcripts, 120 s video', () => {
    const silences = regularSilences(7200, 9.5, 0.7);
    const cap = planChunks(audioInfo(7200), captioner, policy('caption'), silences);
    const tr = planChunks(audioInfo(7200), flash, policy('transcribe'), silences);
    const vid = planChunks(videoInfo(7200), flash, policy('describe'), silences);
    const mean = (p: Plan): number => 7200 / p.chunks.length;
    expect(mean(cap)).toBeGreaterThan(25);
    expect(mean(cap)).toBeLessThanOrEqual(35);
    expect(mean(tr)).toBeGreaterThan(285);
    expect(mean(tr)).toBeLessThanOrEqual(315);
    expect(mean(vid)).toBeGreaterThan(110);
    expect(mean(vid)).toBeLessThanOrEqual(130);
    expect(cap.encode.audioBitrateKbps).toBe(64); // 35 s at 64 kbps is far under 10 MB: no need to compress harder
  });

  it('keeps video chunks within 150 s for flash and 40 s for turbo, whatever the target', () => {
    for (const [model, max] of [
      [flash, 150],
      [turbo, 40],
    ] as const) {
      const plan = planChunks(videoInfo(3600), model, policy('describe', { targetS: 600 }));
      expect(plan.mode).toBe('video');
      expect(plan.maxChunkS).toBeLessThanOrEqual(max - 0.5);
      expect(plan.reason).toMatch(/video limit/);
      expectValid(plan, 3600, model);
    }
  });

  it('caps audio chunks at the model limit and says why (turbo: 3 min)', () => {
    const plan = planChunks(audioInfo(7200), turbo, policy('transcribe'));
    expect(plan.targetS).toBeLessThan(180);
    expect(plan.reason).toContain('audio limit of 180 s');
    expect(plan.notes.join(' ')).toMatch(/lowered/);
    expectValid(plan, 7200, turbo);
  });
});

describe('cut placement', () => {
  it('puts every cut inside a silence when one is within the search window', () => {
    const silences = regularSilences(3600, 8, 0.6, 3);
    const plan = planChunks(audioInfo(3600), captioner, policy('caption'), silences);
    for (const c of plan.chunks.slice(1)) {
      expect(silences.some((s) => c.startS > s.startS && c.startS < s.endS)).toBe(true);
    }
    expect(plan.notes.join(' ')).not.toMatch(/no silence/);
  });

  it('falls back to the target when the only silences are far from it', () => {
    // Silences at 15, 45, 75 ... s: never within 5 s of a 30 s target.
    const silences = regularSilences(600, 30, 0.5, 15);
    const plan = planChunks(audioInfo(600), captioner, policy('caption'), silences);
    expect(plan.chunks.map((c) => c.startS)).toEqual(Array.from({ length: 20 }, (_, i) => i * 30));
    expect(plan.notes.join(' ')).toMatch(/19 of 19 cuts found no silence/);
  });

  it('prefers the longest pause in the window, then the nearest', () => {
    const s = [
      { startS: 26, endS: 26.4 },
      { startS: 33, endS: 34.5 },
      { startS: 29.8, endS: 30.3 },
    ];
    expect(pickSilence(s, 25, 35, 30)).toBeCloseTo(33.75, 6);
    expect(
      pickSilence(
        [
          { startS: 26, endS: 26.5 },
          { startS: 31, endS: 31.5 },
        ],
        25,
        35,
        30,
      ),
    ).toBeCloseTo(31.25, 6);
    expect(pickSilence(s, 40, 50, 45)).toBeUndefined();
  });

  it('never leaves a sliver at the end: the last two chunks share what is left', () => {
    const cuts = chooseCuts(62, { targetS: 30, windowS: 0, minChunkS: 5, maxS: 30 });
    expect(cuts.map((c) => c.atS)).toEqual([30, 46]);
    const none = chooseCuts(34, { targetS: 30, windowS: 5, minChunkS: 5, maxS: 35 });
    expect(none).toEqual([]);
  });

  it('overlaps neighbours by the asked seconds, within the limits', () => {
    const plan = planChunks(audioInfo(1800), flash, policy('transcribe', { overlapS: 3 }), regularSilences(1800, 9, 0.7));
    expect(plan.chunks.slice(1).every((c) => c.overlapS === 3)).toBe(true);
    expect(plan.chunks[0].overlapS).toBe(0);
    expectValid(plan, 1800, flash);
  });
});

describe('compression and impossibility', () => {
  it('drops the bitrate just enough to fit 40-minute captioner chunks in 10 MB of base64', () => {
    const plan = planChunks(audioInfo(7200), captioner, policy('caption', { targetS: 2400, searchWindowS: 0 }));
    expect(plan.encode.audioBitrateKbps).toBe(24); // 32 kbps would be 9.6 MB raw, 12.8 MB as base64
    expect(plan.notes.join(' ')).toMatch(/compressed to 24 kbps/);
    expectValid(plan, 7200, captioner);
    // Sent by URL, the same chunks need no compression beyond the default.
    const url = planChunks(audioInfo(7200), captioner, policy('caption', { targetS: 2400, searchWindowS: 0, inputMode: 'url' }));
    expect(url.encode.audioBitrateKbps).toBe(AUDIO_LADDER_KBPS[0]);
  });

  it('drops the bitrate when a small base64 ceiling binds at the target length', () => {
    const plan = planChunks(audioInfo(600), captioner, policy('caption', { base64MaxChars: 300_000 }));
    expect(plan.encode.audioBitrateKbps).toBeLessThan(64);
    expect(plan.limits.maxBase64Chars).toBeLessThan(300_000);
    for (const c of plan.chunks) expect(base64Chars(estimateBytes(c.endS - c.startS, plan.encode))).toBeLessThan(300_000 - 64);
  });

  it('shortens chunks when even the lowest bitrate cannot carry the target', () => {
    const plan = planChunks(audioInfo(600), captioner, policy('caption', { base64MaxChars: 80_000 }));
    expect(plan.encode.audioBitrateKbps).toBe(16);
    expect(plan.maxChunkS).toBeLessThan(30);
    expect(plan.reason).toMatch(/base64 limit of 80000 chars/);
    for (const c of plan.chunks) expect(base64Chars(estimateBytes(c.endS - c.startS, plan.encode))).toBeLessThan(80_000 - 64);
  });

  it('refuses what cannot fit, with the reason', () => {
    let err: OmniError | undefined;
    try {
      planChunks(audioInfo(600), captioner, policy('caption', { base64MaxChars: 12_000 }));
    } catch (e) {
      err = e as OmniError;
    }
    expect(err?.code).toBe('plan_impossible');
    expect(err?.message).toMatch(/base64 limit of 12000 chars at 16 kbps allows at most .* less than the 5 s minimum chunk/);
    expect(codeOf(() => planChunks(audioInfo(600), turbo, policy('transcribe', { promptTokens: 31_000 })))).toBe('plan_impossible');
    expect(codeOf(() => planChunks(audioInfo(600), flash, policy('transcribe', { targetS: 20, overlapS: 10 })))).toBe('plan_impossible');
    expect(codeOf(() => planChunks(audioInfo(600), flash, policy('transcribe', { targetS: 0 })))).toBe('plan_impossible');
  });

  it('lets the prompt eat into the token budget: chunks shrink to what the tokens allow', () => {
    const plan = planChunks(audioInfo(600), turbo, policy('transcribe', { promptTokens: 30_000 }));
    // 720 tokens left at 25 tokens/s: under 29 s of audio per request.
    expect(plan.maxChunkS).toBeLessThanOrEqual(28.8);
    expect(plan.reason).toMatch(/input limit of 30720 tokens/);
    expectValid(plan, 600, turbo);
  });
});

describe('modes and media errors', () => {
  it('sends only the audio track for audio tasks on a video source', () => {
    const plan = planChunks(videoInfo(300), flash, policy('transcribe'));
    expect(plan.mode).toBe('audio');
    expect(plan.encode.audioStream).toBe(1);
    expect(plan.encode.videoStream).toBeUndefined();
  });

  it('falls back to audio when the model takes no video, or the source has none', () => {
    const cap = planChunks(videoInfo(300), captioner, policy('describe'));
    expect(cap.mode).toBe('audio');
    expect(cap.notes.join(' ')).toMatch(/takes no video/);
    const pic = planChunks(
      audioInfo(300, { video: [{ index: 1, codec: 'mjpeg', width: 600, height: 600, fps: 0, attachedPic: true }] }),
      flash,
      policy('describe'),
    );
    expect(pic.mode).toBe('audio');
  });

  it('sends a video without audio as picture only, and refuses it for audio tasks', () => {
    const silent = videoInfo(300, { audio: [] });
    const plan = planChunks(silent, flash, policy('describe'));
    expect(plan.mode).toBe('video');
    expect(plan.encode.audioStream).toBeUndefined();
    expect(codeOf(() => planChunks(silent, flash, policy('transcribe')))).toBe('media_no_audio');
  });

  it('plans a silence-only file like any other audio', () => {
    const plan = planChunks(audioInfo(2), captioner, policy('caption'), [{ startS: 0, endS: 2 }]);
    expect(plan.chunks).toEqual([{ index: 0, startS: 0, endS: 2, overlapS: 0 }]);
  });

  it('refuses media shorter than 0.1 s', () => {
    expect(codeOf(() => planChunks(audioInfo(0.05), captioner, policy('caption')))).toBe('media_too_short');
  });

  it('taskPolicy applies overrides and counts the prompt only where the model takes one', () => {
    const p = taskPolicy('transcribe', flash, { chunkSeconds: 90, overlapSeconds: 2, inputMode: 'url' });
    expect(p).toMatchObject({ targetS: 90, overlapS: 2, inputMode: 'url', mode: 'audio' });
    expect(p.promptTokens).toBeGreaterThan(5);
    expect(taskPolicy('caption', captioner).promptTokens).toBe(0);
  });
});

describe('planPrepare: as it is, or encoded, decided once for the decider and the executor', () => {
  // 10 s of 16 kHz mono mp3 at 32 kbps whose header agrees with its bytes: one chunk, sendable unchanged
  const mp3 = {
    ...audioInfo(10),
    container: 'mp3',
    sizeBytes: 40_000,
    headerDurationS: 10,
    audio: [{ index: 0, codec: 'mp3', sampleRate: 16_000, channels: 1 }],
  };

  it('a small mp3 goes as it is; longer than a chunk, another codec or with video, it is encoded in the mode the task wants', () => {
    expect(planPrepare(mp3, captioner, policy('caption'))).toMatchObject({
      kind: 'as-is',
      plan: { chunks: [{ startS: 0, endS: 10 }], encode: { format: 'mp3' } },
    });
    expect(planPrepare({ ...mp3, durationS: 7200, headerDurationS: 7200, sizeBytes: 7200 * 4000 }, captioner, policy('caption'))).toEqual({
      kind: 'encode',
      mode: 'audio',
    });
    expect(planPrepare({ ...mp3, audio: [{ ...mp3.audio[0], codec: 'flac' }] }, captioner, policy('caption'))).toEqual({ kind: 'encode', mode: 'audio' });
    expect(planPrepare(videoInfo(60), flash, policy('describe'))).toEqual({ kind: 'encode', mode: 'video' });
  });
});
