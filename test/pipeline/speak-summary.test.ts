/**
 * speak on a file of several chunks, end to end (emulator over HTTP, real Redis, ffmpeg): one spoken summary
 * of the whole file from a final request over the chunks' summaries, not the chunks' summaries joined.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWavHeader } from '../../src/models/wav.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { toneWav } from '../helpers/wav.ts';

describe('speak: one summary per file', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('summarises the chunk summaries in one final spoken request', async () => {
    h = await startHarness();
    await h.startWorkers();
    const dir = path.join(h.tmp, 'in');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'long.wav'), toneWav(40, 440));
    await writeFile(path.join(dir, 'short.wav'), toneWav(5, 330));
    const out = path.join(h.tmp, 'out');
    const s = await h.run({ source: dir, destination: out, task: 'speak', chunkSeconds: 10 });
    expect(s.status).toBe('completed');

    const doc = JSON.parse(await readFile(path.join(out, 'long.wav.json'), 'utf8'));
    expect(doc.chunks.length).toBeGreaterThan(1);
    const txt = (await readFile(path.join(out, 'long.wav.txt'), 'utf8')).trim();
    // the final answer is about the chunks' text (a text prompt), not any one chunk's audio
    expect(txt).toMatch(/^Text prompt/);
    expect(txt).not.toContain('Audio clip');
    const wav = await readFile(path.join(out, 'long.wav.wav'));
    const head = parseWavHeader(wav);
    expect(head?.format).toEqual({ sampleRate: 24000, channels: 1, bitsPerSample: 16 });
    // the WAV is the final answer's audio alone, not the chunks' answers joined (the emulator speaks 12.5 tokens a second)
    const seconds = head!.dataBytes / 48000;
    const chunkAudioS = doc.chunks.reduce((a: number, c: { usage?: { output?: { audio?: number } } }) => a + (c.usage?.output?.audio ?? 0), 0) / 12.5;
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(chunkAudioS / 2);
    const report = JSON.parse(await readFile(path.join(out, '_runs', s.spec.runId, 'report.json'), 'utf8'));
    // every request was counted and paid: the long file's chunks and its final request, the short file's one chunk
    expect(report.requests).toBe(doc.chunks.length + 1 + 1);
    expect(report.counts.succeeded).toBe(2);
    // a one-chunk file needs no final request: its chunk's summary is the file's
    expect((await readFile(path.join(out, 'short.wav.txt'), 'utf8')).trim()).toMatch(/^Audio clip/);
  }, 120_000);
});
