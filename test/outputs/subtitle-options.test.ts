/** The subtitle and language options as a run spec takes them: checked, told to the model, named. Pure. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { namedOutputKey, writtenOutputKey } from '../../src/outputs/naming.ts';
import { renderSegmentsJson, renderSrt } from '../../src/outputs/subtitles.ts';
import { buildRunSpec, newRunId, type RunRequest } from '../../src/producers/run.ts';
import { dominantLanguage, languagePrompt, takeLanguageTag } from '../../src/tasks/language.ts';

const cfg = loadConfig({ env: {} });
const spec = (r: Partial<RunRequest>) => buildRunSpec({ source: '/in', destination: '/out', task: 'transcribe', ...r }, cfg, newRunId());
const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('subtitle options in the run spec', () => {
  it('keeps what is valid and puts the language in the prompt', () => {
    const s = spec({
      language: 'pt-BR',
      translateTo: 'en',
      subtitles: { maxLineChars: 32, maxLines: 1, maxCueSeconds: 5, maxCps: 17 },
      outputName: '{name}.{lang}.{ext}',
    });
    expect(s).toMatchObject({ language: 'pt-BR', translateTo: 'en', subtitles: { maxLineChars: 32, maxLines: 1, maxCueSeconds: 5, maxCps: 17 } });
    expect(s.prompt).toContain('The speech is in Brazilian Portuguese (pt-BR).');
    expect(s.prompt).toContain('English (en)');
    expect(spec({}).prompt).toBe('Transcribe this audio verbatim, in the language that is spoken. Output only the transcript.');
  });

  it('refuses what no player or model could use, before any run exists', () => {
    expect(code(() => spec({ language: 'english please' }))).toBe('invalid_argument');
    expect(code(() => spec({ translateTo: 'auto' }))).toBe('invalid_argument');
    expect(code(() => spec({ subtitles: { maxLines: 0 } }))).toBe('invalid_argument');
    expect(code(() => spec({ subtitles: { maxLineChars: 12.5 } }))).toBe('invalid_argument');
    expect(code(() => spec({ subtitles: { maxCps: 1000 } }))).toBe('invalid_argument');
    expect(code(() => spec({ outputName: '{name}.srt' }))).toBe('invalid_argument');
    expect(code(() => spec({ outputName: '../{name}.{ext}' }))).toBe('invalid_argument');
    expect(code(() => spec({ outputName: '{name}.{language}.{ext}' }))).toBe('invalid_argument');
    // The captioner takes no prompt: a language could not be told to it.
    expect(code(() => spec({ task: 'caption', language: 'de' }))).toBe('invalid_argument');
    // Subtitle limits on a task that writes no subtitles.
    expect(code(() => spec({ task: 'describe', subtitles: { maxCps: 17 } }))).toBe('invalid_argument');
  });
});

describe('language tags and names', () => {
  it('takes the tag the model was asked for off the text, and only a tag at the start', () => {
    expect(takeLanguageTag('[de] Guten Abend.')).toEqual({ language: 'de', text: 'Guten Abend.' });
    expect(takeLanguageTag('Guten Abend [de].')).toEqual({ text: 'Guten Abend [de].' });
    expect(
      dominantLanguage([
        { language: 'en', startS: 0, endS: 10 },
        { language: 'de', startS: 10, endS: 40 },
        { startS: 40, endS: 90 },
      ]),
    ).toBe('de');
    expect(dominantLanguage([{ startS: 0, endS: 10 }])).toBeUndefined();
    expect(languagePrompt('Transcribe.', { language: 'auto' })).toMatch(/ISO 639-1/u);
  });

  it('names outputs from the template, in the source key folder', () => {
    expect(namedOutputKey('a/b/talk.mp4', 'srt', '{name}.{lang}.{ext}', 'en')).toBe('a/b/talk.en.srt');
    expect(namedOutputKey('talk', 'segments.json', '{name}.{lang}.{ext}', 'und')).toBe('talk.und.segments.json');
    expect(namedOutputKey('a/talk.mp4', 'srt', undefined, 'en')).toBe('a/talk.mp4.srt');
  });

  it('finds where an output was written from the run and its result: the text outputs by the template, in their language', () => {
    const run = { task: 'transcribe', outputName: '{name}.{lang}.{ext}', textOutputs: ['txt', 'srt', 'vtt', 'segments.json'] };
    expect(writtenOutputKey('a/talk.mp4', 'srt', run, { language: 'en' })).toBe('a/talk.en.srt');
    // a translation names the outputs, not the spoken language
    expect(writtenOutputKey('a/talk.mp4', 'vtt', run, { language: 'en', translated_to: 'de' })).toBe('a/talk.de.vtt');
    expect(writtenOutputKey('a/talk.mp4', 'txt', run, {})).toBe('a/talk.und.txt');
    // the result, a review, the speech and a moderation verdict keep `<key>.<ext>`; so does every output without a template
    expect(writtenOutputKey('a/talk.mp4', 'json', run, { language: 'en' })).toBe('a/talk.mp4.json');
    expect(writtenOutputKey('a/talk.mp4', 'review.json', run, { language: 'en' })).toBe('a/talk.mp4.review.json');
    expect(writtenOutputKey('a/talk.mp4', 'moderation.json', { ...run, task: 'moderate', textOutputs: ['moderation.json'] }, undefined)).toBe(
      'a/talk.mp4.moderation.json',
    );
    expect(writtenOutputKey('a/talk.mp4', 'srt', { ...run, outputName: undefined }, { language: 'en' })).toBe('a/talk.mp4.srt');
  });

  it('the segments JSON holds the SRT cues, time for time', () => {
    const cues = [
      { startS: 0.5, endS: 2.25, text: 'Good evening.' },
      { startS: 3, endS: 5.5, text: 'Here is the news\nfrom the river.' },
    ];
    const doc = JSON.parse(renderSegmentsJson(cues, { durationS: 5, language: 'en' }));
    expect(doc).toEqual({
      schema: 'omnibatch.segments/v1',
      language: 'en',
      segments: [
        { id: 1, start: 0.5, end: 2.25, text: 'Good evening.' },
        { id: 2, start: 3, end: 5, text: 'Here is the news\nfrom the river.' },
      ],
    });
    expect(renderSrt(cues, { durationS: 5 })).toContain('00:00:03,000 --> 00:00:05,000');
  });
});
