import { describe, expect, it } from 'vitest';
import { formatTimestamp, renderSrt, renderVtt } from '../../src/outputs/subtitles.ts';
import { renderTxt } from '../../src/outputs/txt.ts';
import type { Cue } from '../../src/stitch/types.ts';

const cues: Cue[] = [
  { startS: 0, endS: 2.5, text: 'Hello <world> & all.' },
  { startS: 2.5, endS: 3661.0005, text: 'Second line one\nsecond line two' },
  { startS: 3661.0005, endS: 3700, text: 'past the end' },
];

describe('timestamps', () => {
  it('rounds to the millisecond and grows hours past 99', () => {
    expect(formatTimestamp(0, ',')).toBe('00:00:00,000');
    expect(formatTimestamp(59.9995, '.')).toBe('00:01:00.000');
    expect(formatTimestamp(3661.0004, ',')).toBe('01:01:01,000');
    expect(formatTimestamp(1.0005, '.')).toBe('00:00:01.001');
    expect(formatTimestamp(360000, ',')).toBe('100:00:00,000');
    expect(formatTimestamp(-0.2, ',')).toBe('00:00:00,000');
  });
});

describe('SRT and VTT', () => {
  it('renders the frozen example exactly, clamped to the duration', () => {
    expect(renderSrt(cues, { durationS: 3680.25 })).toBe(
      '1\n00:00:00,000 --> 00:00:02,500\nHello <world> & all.\n\n' +
        '2\n00:00:02,500 --> 01:01:01,001\nSecond line one\nsecond line two\n\n' +
        '3\n01:01:01,001 --> 01:01:20,250\npast the end\n',
    );
    expect(renderVtt(cues, { durationS: 3680.25 })).toBe(
      'WEBVTT\n\n' +
        '00:00:00.000 --> 00:00:02.500\nHello &lt;world&gt; &amp; all.\n\n' +
        '00:00:02.500 --> 01:01:01.001\nSecond line one\nsecond line two\n\n' +
        '01:01:01.001 --> 01:01:20.250\npast the end\n',
    );
  });

  it('drops cues that start at or after the duration, and blank lines inside a cue', () => {
    const srt = renderSrt(
      [
        { startS: 1, endS: 2, text: 'a\n\nb' },
        { startS: 5, endS: 6, text: 'gone' },
      ],
      { durationS: 5 },
    );
    expect(srt).toBe('1\n00:00:01,000 --> 00:00:02,000\na\nb\n');
  });

  it('renders an empty file for no cues', () => {
    expect(renderSrt([])).toBe('');
    expect(renderVtt([])).toBe('WEBVTT\n');
  });
});

describe('TXT', () => {
  it('ends with one newline, and is empty for empty text', () => {
    expect(renderTxt('  hello\n')).toBe('hello\n');
    expect(renderTxt('  ')).toBe('');
  });
});
