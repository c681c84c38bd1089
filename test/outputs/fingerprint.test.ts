import { describe, expect, it } from 'vitest';
import { canonicalJson, type FingerprintInput, taskFingerprint } from '../../src/outputs/fingerprint.ts';

const base: FingerprintInput = {
  task: 'transcribe',
  model: 'qwen3-omni-flash',
  prompt: 'Transcribe this audio verbatim.',
  voice: undefined,
  chunkPolicy: { targetS: 300, searchWindowS: 15, overlapS: 0, minChunkS: 10 },
};

describe('taskFingerprint', () => {
  it('is a stable 16-hex value (frozen: a change here invalidates every existing result)', () => {
    expect(taskFingerprint(base)).toMatch(/^[0-9a-f]{16}$/u);
    expect(taskFingerprint(base)).toBe('7cbd25b85f3b34da'); // sha256 of the sorted-key JSON, computed independently;
  });

  it('ignores key order and absent vs undefined vs empty prompt/voice', () => {
    const reordered: FingerprintInput = {
      chunkPolicy: { minChunkS: 10, overlapS: 0, searchWindowS: 15, targetS: 300 },
      prompt: base.prompt,
      model: base.model,
      task: base.task,
    };
    expect(taskFingerprint(reordered)).toBe(taskFingerprint(base));
    expect(taskFingerprint({ ...base, voice: '' })).toBe(taskFingerprint(base));
    expect(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }] })).toBe('{"a":[1,{"c":"x"}],"b":1}');
  });

  it('changes with anything that changes the answer', () => {
    const fp = taskFingerprint(base);
    const variants: FingerprintInput[] = [
      { ...base, task: 'custom' },
      { ...base, model: 'qwen-omni-turbo' },
      { ...base, prompt: 'Transcribe this audio verbatim!' },
      { ...base, voice: 'Ethan' },
      { ...base, chunkPolicy: { ...base.chunkPolicy, targetS: 120 } },
      { ...base, chunkPolicy: { ...base.chunkPolicy, overlapS: 2 } },
      { ...base, protocol: 'dashscope' },
      { ...base, outputs: { language: 'de' } },
      { ...base, outputs: { language: 'auto' } },
      { ...base, outputs: { translateTo: 'en' } },
      { ...base, outputs: { subtitles: { maxLineChars: 32 } } },
      { ...base, outputs: { subtitles: { maxLines: 1 } } },
      { ...base, outputs: { subtitles: { maxCueSeconds: 5 } } },
      { ...base, outputs: { subtitles: { maxCps: 17 } } },
      { ...base, outputs: { outputName: '{name}.{lang}.{ext}' } },
    ];
    const all = variants.map(taskFingerprint);
    for (const v of all) expect(v).not.toBe(fp);
    expect(new Set(all).size).toBe(all.length);
  });

  it('a run without output options keeps the fingerprint it always had', () => {
    expect(taskFingerprint({ ...base, outputs: {} })).toBe('7cbd25b85f3b34da');
    expect(taskFingerprint({ ...base, outputs: { language: undefined, subtitles: undefined } })).toBe('7cbd25b85f3b34da');
  });
});
