/** transcribe, moderate, describe and speak end to end on a small set, on local folders. */
import { cp, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWavHeader } from '../../src/models/wav.ts';
import { media } from '../helpers/paths.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

describe('every task end to end', () => {
  let h: Harness;
  let audioDir: string;
  let videoDir: string;
  beforeAll(async () => {
    h = await startHarness();
    audioDir = path.join(h.tmp, 'audio');
    videoDir = path.join(h.tmp, 'video');
    await mkdir(audioDir, { recursive: true });
    await mkdir(videoDir, { recursive: true });
    await cp(media('whisper__jfk.flac'), path.join(audioDir, 'jfk.flac'));
    await cp(media('wenet__librispeech-1995-1837-0001.wav'), path.join(audioDir, 'libri.wav'));
    await cp(media('fp__bmff.mp4'), path.join(videoDir, 'bmff.mp4'));
    await cp(media('pydub__creative_common.mp4'), path.join(videoDir, 'creative.mp4'));
    await h.startWorkers({ inferConcurrency: 4 });
  });
  afterAll(async () => h?.close());

  it('transcribe: text, SRT and VTT on the source timeline', async () => {
    const out = path.join(h.tmp, 'out-transcribe');
    const s = await h.run({ source: audioDir, destination: out, task: 'transcribe' });
    expect(s.status).toBe('completed');
    const doc = JSON.parse(await readFile(path.join(out, 'jfk.flac.json'), 'utf8'));
    expect(doc.model).toBe('qwen3-omni-flash');
    expect(doc.usage.input.audio).toBeGreaterThan(0);
    expect(doc.usage.input.text).toBeGreaterThan(0); // the prompt
    const vtt = await readFile(path.join(out, 'jfk.flac.vtt'), 'utf8');
    expect(vtt.startsWith('WEBVTT')).toBe(true);
    expect((await readFile(path.join(out, 'libri.wav.txt'), 'utf8')).length).toBeGreaterThan(10);
  });

  it('moderate: a validated verdict per file and flagged counts in the report', async () => {
    const out = path.join(h.tmp, 'out-moderate');
    const s = await h.run({ source: videoDir, destination: out, task: 'moderate' });
    expect(s.status).toBe('completed');
    const v = JSON.parse(await readFile(path.join(out, 'bmff.mp4.moderation.json'), 'utf8'));
    expect(v.schema).toBe('omnibatch.moderation/v1');
    expect(typeof v.flagged).toBe('boolean');
    for (const seg of v.segments) expect(seg.end_s).toBeLessThanOrEqual(30.1);
    const report = JSON.parse(await readFile(path.join(out, '_runs', s.spec.runId, 'report.json'), 'utf8'));
    const verdicts = await Promise.all(
      ['bmff.mp4', 'creative.mp4'].map(async (f) => JSON.parse(await readFile(path.join(out, `${f}.moderation.json`), 'utf8'))),
    );
    const flagged = verdicts.filter((x) => x.flagged);
    expect(report.moderation.flagged_files).toBe(flagged.length);
    const byCategory: Record<string, number> = {};
    for (const x of flagged) for (const c of x.categories) byCategory[c.name] = (byCategory[c.name] ?? 0) + 1;
    expect(report.moderation.by_category).toEqual(byCategory);
    const doc = JSON.parse(await readFile(path.join(out, 'bmff.mp4.json'), 'utf8'));
    expect(doc.usage.input.video).toBeGreaterThan(0); // the picture was sent, not only the sound
  });

  it('describe: the video files get a description of picture and sound', async () => {
    const out = path.join(h.tmp, 'out-describe');
    const s = await h.run({ source: videoDir, destination: out, task: 'describe' });
    expect(s.status).toBe('completed');
    const txt = await readFile(path.join(out, 'creative.mp4.txt'), 'utf8');
    // The picture (scaled for the model) and the sound both reached the model.
    expect(txt).toMatch(/^Video clip, [\d.]+ s, \d+x\d+, audio 1 channel, 16000 Hz/);
    const doc = JSON.parse(await readFile(path.join(out, 'creative.mp4.json'), 'utf8'));
    expect(doc.usage.input.video).toBeGreaterThan(0);
    expect(doc.usage.input.audio).toBeGreaterThan(0);
  });

  it('speak: one valid WAV for the whole source', async () => {
    const out = path.join(h.tmp, 'out-speak');
    const s = await h.run({ source: audioDir, destination: out, task: 'speak', voice: 'Ethan' });
    expect(s.status).toBe('completed');
    const wav = await readFile(path.join(out, 'jfk.flac.wav'));
    const head = parseWavHeader(wav);
    expect(head?.format).toEqual({ sampleRate: 24000, channels: 1, bitsPerSample: 16 });
    expect(head!.dataBytes).toBe(wav.length - head!.dataOffset);
    const doc = JSON.parse(await readFile(path.join(out, 'jfk.flac.json'), 'utf8'));
    expect(doc.usage.output.audio).toBe(Math.ceil(Math.max(1, head!.dataBytes / 48000) * 12.5));
    expect((await stat(path.join(out, 'jfk.flac.txt'))).size).toBeGreaterThan(0);
  });
});
