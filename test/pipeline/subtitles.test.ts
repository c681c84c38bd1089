/**
 * Subtitles through real runs (emulator, Redis, ffmpeg, local folders): cues over the measured speech, the
 * segments JSON, and each subtitle option (--language, --translate-to, --max-line-chars, --max-lines,
 * --max-cue-seconds, --max-cps, --output-name) changing what is written, and the fingerprint with it.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTimedSpeech, type TimedSpeech } from '../../bench/lib/timed-speech.ts';
import type { RunRequest } from '../../src/producers/run.ts';
import { cueCps } from '../../src/stitch/reading.ts';
import { displayWidth } from '../../src/stitch/text.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

interface Segment {
  id: number;
  start: number;
  end: number;
  text: string;
}

/** SRT -> [start, end, text] with times in seconds. */
function parseSrt(srt: string): Segment[] {
  const sec = (t: string) => {
    const [h, m, s] = t.replace(',', '.').split(':').map(Number);
    return Math.round((h * 3600 + m * 60 + s) * 1000) / 1000;
  };
  return srt
    .trim()
    .split(/\n\n+/u)
    .map((block) => {
      const [id, times, ...lines] = block.split('\n');
      const [a, b] = times.split(' --> ');
      return { id: Number(id), start: sec(a), end: sec(b), text: lines.join('\n') };
    });
}

describe('subtitles through real runs', () => {
  let h: Harness;
  let src: string;
  let speech: TimedSpeech;
  let n = 0;
  const run = async (extra: Partial<RunRequest> = {}, out = path.join(h.tmp, `out-${n++}`)) => {
    const state = await h.run({ source: src, destination: out, task: 'transcribe', ...extra });
    expect(state.status).toBe('completed');
    return { state, out };
  };
  const read = (out: string, name: string) => readFile(path.join(out, name), 'utf8');

  beforeAll(async () => {
    h = await startHarness();
    src = path.join(h.tmp, 'in');
    await mkdir(src, { recursive: true });
    // About 12 s: two sentences, a 3-s pause, two more.
    speech = await makeTimedSpeech(path.join(src, 'talk.wav'), [
      { text: 'Good evening, here is the news from the river market.', voice: 'en-us', pauseS: 0.6 },
      { text: 'The council will open the new bridge this summer.', voice: 'en-us', pauseS: 3 },
      { text: 'Visitors are welcome at the museum.', voice: 'en-us', pauseS: 0.5 },
      { text: 'Now the weather for the coast and the islands.', voice: 'en-us', pauseS: 0.5 },
    ]);
    await h.startWorkers({ inferConcurrency: 4 });
  }, 120_000);
  afterAll(async () => h?.close());

  it('defaults: cues only over the speech (none over the 3-s pause), the segments JSON holds the SRT cues, no language invented', async () => {
    const { out } = await run();
    const srt = parseSrt(await read(out, 'talk.wav.srt'));
    const seg = JSON.parse(await read(out, 'talk.wav.segments.json'));
    expect(seg.schema).toBe('omnibatch.segments/v1');
    expect(seg.language).toBeUndefined();
    expect(seg.segments).toEqual(srt);
    const pause = [speech.sentences[1].endS, speech.sentences[2].startS];
    for (const c of srt) expect(Math.min(c.end, pause[1]) - Math.max(c.start, pause[0])).toBeLessThanOrEqual(0.05);
    // silencedetect's window ends a silence up to ~0.1 s before the first loud sample
    expect(Math.abs(srt[0].start - speech.sentences[0].startS)).toBeLessThanOrEqual(0.2);
    const doc = JSON.parse(await read(out, 'talk.wav.json'));
    expect(doc.language).toBeUndefined();
    expect(doc.outputs).toEqual(['talk.wav.txt', 'talk.wav.srt', 'talk.wav.vtt', 'talk.wav.segments.json']);
  });

  it('--language auto: the model is asked, its answer names the language, the result records it; --output-name names the sidecars', async () => {
    const { out, state } = await run({ language: 'auto', outputName: '{name}.{lang}.{ext}' });
    expect(state.spec.prompt).toContain('ISO 639-1');
    const files = (await readdir(out)).filter((f) => !f.startsWith('_')).sort();
    expect(files).toEqual(['talk.en.segments.json', 'talk.en.srt', 'talk.en.txt', 'talk.en.vtt', 'talk.wav.json']);
    const doc = JSON.parse(await read(out, 'talk.wav.json'));
    expect(doc).toMatchObject({ language: 'en', language_source: 'detected', outputs: ['talk.en.txt', 'talk.en.srt', 'talk.en.vtt', 'talk.en.segments.json'] });
    // The tag the model put first is the result's field, not a word of the transcript.
    expect(await read(out, 'talk.en.txt')).not.toContain('[en]');
    expect(doc.chunks[0].text).not.toMatch(/^\[en\]/u);
    expect(JSON.parse(await read(out, 'talk.en.segments.json')).language).toBe('en');
  });

  it('--language de --translate-to fr: both told to the model; the result and the names carry them', async () => {
    const { out, state } = await run({ language: 'de', translateTo: 'fr', outputName: '{name}.{lang}.{ext}' });
    expect(state.spec.prompt).toContain('The speech is in German (de).');
    expect(state.spec.prompt).toContain('French (fr)');
    const doc = JSON.parse(await read(out, 'talk.wav.json'));
    expect(doc).toMatchObject({ language: 'de', language_source: 'given', translated_to: 'fr' });
    expect((await readdir(out)).filter((f) => f.endsWith('.srt'))).toEqual(['talk.fr.srt']);
  });

  it('--max-line-chars, --max-lines, --max-cue-seconds: every cue within them', async () => {
    const { out } = await run({ subtitles: { maxLineChars: 24, maxLines: 1, maxCueSeconds: 3 } });
    const cues = parseSrt(await read(out, 'talk.wav.srt'));
    expect(cues.length).toBeGreaterThan(3);
    for (const c of cues) {
      expect(c.text.split('\n')).toHaveLength(1);
      expect(displayWidth(c.text)).toBeLessThanOrEqual(24);
      expect(c.end - c.start).toBeLessThanOrEqual(3.001);
    }
  });

  it('--max-cps: no cue reads faster; a re-run with another limit redoes the file (the fingerprint changed)', async () => {
    const out = path.join(h.tmp, 'out-cps');
    const first = await run({}, out);
    const loose = parseSrt(await read(out, 'talk.wav.srt'));
    // The limit is one the whole text can meet inside the file (every cue at it); the default run breaks it.
    const chars = loose.reduce((n, c) => n + cueCps({ startS: 0, endS: 1, text: c.text }), 0);
    expect(chars / speech.durationS).toBeLessThan(14);
    expect(Math.max(...loose.map((c) => cueCps({ startS: c.start, endS: c.end, text: c.text })))).toBeGreaterThan(14);
    const again = await run({ subtitles: { maxCps: 14 } }, out);
    expect(again.state.spec.fingerprint).not.toBe(first.state.spec.fingerprint);
    expect(again.state.counts).toMatchObject({ succeeded: 1, skipped: 0 });
    const strict = parseSrt(await read(out, 'talk.wav.srt'));
    for (const c of strict) expect(cueCps({ startS: c.start, endS: c.end, text: c.text })).toBeLessThanOrEqual(14.001);
    expect(strict).not.toEqual(loose);
    // The same options again: nothing to redo.
    const same = await run({ subtitles: { maxCps: 14 } }, out);
    expect(same.state.counts).toMatchObject({ succeeded: 0, skipped: 1 });
  });
});
