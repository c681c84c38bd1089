import { describe, expect, it } from 'vitest';
import { flaggedCategories, mergeVerdicts, parseVerdict, providerBlockedVerdict, renderModerationJson, verdictError, verdictRepairPrompt, type Verdict } from '../../src/outputs/moderation.ts';

const verdict = {
  flagged: true,
  categories: [{ name: 'violence', severity: 'medium' }],
  segments: [{ start_s: 3.5, end_s: 7.25, category: 'violence', evidence: 'a fight {with braces}' }],
  summary: 'A fight.',
};

describe('parseVerdict', () => {
  it('reads a bare object, a ```json fence and an object inside prose', () => {
    const json = JSON.stringify(verdict);
    expect(parseVerdict(json)).toEqual({ ok: true, verdict });
    expect(parseVerdict(`Here you go:\n\`\`\`json\n${json}\n\`\`\`\nHope that helps.`)).toEqual({ ok: true, verdict });
    expect(parseVerdict(`Sure! My verdict is ${json} -- let me know.`)).toEqual({ ok: true, verdict });
  });

  it('normalizes case, fills the optional lists and forgives a trailing comma', () => {
    const r = parseVerdict('{"flagged": false, "categories": [{"name": "Self Harm", "severity": "HIGH"},], "summary": "ok"}');
    expect(r).toEqual({ ok: true, verdict: { flagged: false, categories: [{ name: 'self_harm', severity: 'high' }], segments: [], summary: 'ok' } });
  });

  it('fails with a code the caller can repair from', () => {
    expect(parseVerdict('Nothing here looks harmful to me.')).toMatchObject({ ok: false, code: 'verdict_no_json' });
    expect(parseVerdict('{"flagged": tru')).toMatchObject({ ok: false, code: 'verdict_invalid_json' });
    const bad = parseVerdict('{"flagged": "yes", "categories": []}');
    expect(bad).toMatchObject({ ok: false, code: 'verdict_schema', message: expect.stringContaining('flagged') });
    expect(parseVerdict('{"flagged": true, "categories": [{"name": "hate", "severity": "extreme"}]}')).toMatchObject({ ok: false, code: 'verdict_schema' });
    if (bad.ok) throw new Error('unreachable');
    expect(verdictRepairPrompt(bad)).toContain('JSON object only');
    expect(verdictError(bad)).toMatchObject({ code: 'verdict_schema', retryable: false });
  });
});

describe('mergeVerdicts', () => {
  const clean: Verdict = { flagged: false, categories: [], segments: [], summary: 'No policy violations were found.' };

  it('shifts chunk-relative times onto the source timeline, clamps them and keeps the highest severity', () => {
    const merged = mergeVerdicts([
      { index: 1, startS: 120.4, endS: 240.9, verdict: {
        flagged: true,
        categories: [{ name: 'violence', severity: 'high' }, { name: 'profanity', severity: 'low' }],
        segments: [{ start_s: 10, end_s: 500, category: 'violence', evidence: 'shots' }, { start_s: 2, end_s: 1, category: 'weapons', evidence: 'a gun' }],
        summary: 'Gunfire.' } },
      { index: 0, startS: 0, endS: 120.4, verdict: verdict as Verdict },
      { index: 2, startS: 240.9, endS: 300, verdict: clean },
    ], { durationS: 250 });
    expect(merged.flagged).toBe(true);
    expect(merged.status).toBe('reviewed');
    expect(merged.categories).toEqual([
      { name: 'violence', severity: 'high' },
      { name: 'profanity', severity: 'low' },
      { name: 'weapons', severity: 'low' },
    ]);
    expect(merged.segments).toEqual([
      { start_s: 3.5, end_s: 7.25, category: 'violence', evidence: 'a fight {with braces}', chunk: 0 },
      { start_s: 121.4, end_s: 122.4, category: 'weapons', evidence: 'a gun', chunk: 1 },
      { start_s: 130.4, end_s: 240.9, category: 'violence', evidence: 'shots', chunk: 1 },
    ]);
    expect(merged.summary).toBe('[00:00-02:00] A fight. [02:00-04:01] Gunfire.');
    expect(merged.chunks.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(flaggedCategories(merged)).toEqual(['violence', 'profanity', 'weapons']);
    expect(JSON.parse(renderModerationJson(merged))).toEqual(merged);
  });

  it('records a provider refusal as a flagged provider_blocked verdict over its chunk', () => {
    const merged = mergeVerdicts([
      { index: 0, startS: 0, endS: 60, verdict: clean },
      { index: 1, startS: 60, endS: 90, verdict: providerBlockedVerdict(30, 'Input data may contain inappropriate content.'), providerBlocked: true },
    ], { durationS: 90 });
    expect(merged).toMatchObject({
      status: 'provider_blocked',
      flagged: true,
      categories: [{ name: 'provider_blocked', severity: 'high' }],
      segments: [{ start_s: 60, end_s: 90, category: 'provider_blocked', chunk: 1 }],
    });
    expect(merged.chunks[1]).toMatchObject({ provider_blocked: true, flagged: true });
  });

  it('is not flagged, with one summary, when no chunk is', () => {
    const merged = mergeVerdicts([{ index: 0, startS: 0, endS: 60, verdict: clean }, { index: 1, startS: 60, endS: 90, verdict: clean }], { durationS: 90 });
    expect(merged).toMatchObject({ flagged: false, categories: [], segments: [], summary: 'No policy violations were found.' });
    expect(flaggedCategories(merged)).toEqual([]);
  });
});
