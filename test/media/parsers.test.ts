/** The small parsers the cutter relies on: silencedetect's log, the mp3 LAME tag, ffprobe's packet tail. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ffprobeJson, runFfmpeg } from '../../src/media/ffmpeg.ts';
import { parsePriming } from '../../src/media/lame-tag.ts';
import { lastOutTime, tailEnd } from '../../src/media/probe.ts';
import { SilenceCollector } from '../../src/media/silence.ts';

describe('SilenceCollector', () => {
  it('pairs starts and ends across arbitrary chunk splits, and closes a trailing silence', () => {
    const log = [
      "Input #0, wav, from 'x.wav':",
      '[silencedetect @ 0x55d0] silence_start: -0.00125',
      '[silencedetect @ 0x55d0] silence_end: 1.5 | silence_duration: 1.50125',
      'size=N/A time=00:00:02.00 bitrate=N/A speed= 800x',
      '[silencedetect @ 0x55d0] silence_start: 7.25',
      '[silencedetect @ 0x55d0] silence_end: 8.0625 | silence_duration: 0.8125',
      '[silencedetect @ 0x55d0] silence_start: 12.5',
      '',
    ].join('\n');
    const c = new SilenceCollector();
    for (let i = 0; i < log.length; i += 7) c.push(log.slice(i, i + 7));
    expect(c.finish(14)).toEqual([
      { startS: 0, endS: 1.5 },
      { startS: 7.25, endS: 8.0625 },
      { startS: 12.5, endS: 14 },
    ]);
  });
});

describe('parsePriming', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibatch-parsers-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the encoder delay ffmpeg's own demuxer reports (start_time), at 16 and 44.1 kHz", async () => {
    for (const [rate, ch] of [
      [16_000, 1],
      [44_100, 2],
    ]) {
      const f = path.join(dir, `t${rate}.mp3`);
      await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', `sine=r=${rate}:d=2`, '-ac', String(ch), '-c:a', 'libmp3lame', '-b:a', '64k', '-y', f]);
      const startTime = Number(((await ffprobeJson(f)).streams as { start_time: string }[])[0].start_time);
      const samples = parsePriming(readFileSync(f))!;
      expect(samples / rate).toBeCloseTo(startTime, 5);
    }
  });

  it('is undefined for data without a LAME/Info tag', () => {
    expect(parsePriming(Buffer.from('RIFF....WAVEfmt '))).toBeUndefined();
    expect(parsePriming(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('probe helpers', () => {
  it('tailEnd: latest pts + duration of one stream; undefined when a packet has no timestamp', () => {
    const packets = [
      { stream_index: 0, pts_time: '29.5', duration_time: '0.5' },
      { stream_index: 1, pts_time: '29.9', duration_time: '0.046' },
      { stream_index: 0, pts_time: '29.0', duration_time: '0.5' },
    ];
    expect(tailEnd(packets, 0)).toBe(30);
    expect(tailEnd(packets, 1)).toBeCloseTo(29.946, 6);
    expect(tailEnd(packets, 2)).toBeUndefined();
    expect(tailEnd([{ stream_index: 0, pts_time: 'N/A', duration_time: 'N/A' }, ...packets], 0)).toBeUndefined();
  });

  it('lastOutTime: the final out_time_us of -progress output', () => {
    expect(lastOutTime('out_time_us=1000\nprogress=continue\nout_time_us=25499500\nprogress=end\n')).toBe(25.4995);
    expect(lastOutTime('progress=end\n')).toBe(0);
  });
});
