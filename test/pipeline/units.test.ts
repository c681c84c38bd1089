/** The pure decisions around the pipeline: filters, manifests, run specs, progress, exit codes, re-planning. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeFor, formatDuration, formatProgress } from '../../src/cli/progress.ts';
import { parseStages } from '../../src/cli/worker.ts';
import { loadConfig } from '../../src/config/index.ts';
import { concatWavFiles } from '../../src/media/wav-concat.ts';
import { base64Ceiling, MODELS } from '../../src/models/catalog.ts';
import { parseWavHeader, WavWriter } from '../../src/models/wav.ts';
import { compileFilter, extensionOf, outputsOf } from '../../src/producers/filter.ts';
import { keyUnderSource, parseManifestLine } from '../../src/producers/manifest.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import type { RunState } from '../../src/runs/types.ts';
import { shrunk } from '../../src/workers/prepare.ts';

const cfg = loadConfig({ env: {} });

describe('source filter', () => {
  it('takes media extensions by default, case-insensitively, and honours --include/--exclude', () => {
    const f = compileFilter({});
    expect(f('a/b.MP3')).toBe(true);
    expect(f('a/notes.txt')).toBe(false);
    // neither a media name nor surely something else: read, and its content decides (issue 22)
    expect(f('noext')).toBe(true);
    expect(extensionOf('dir.v2/file')).toBe('');
    const g = compileFilter({ include: ['**/*.txt'], exclude: ['private/**'] });
    expect(g('a/notes.txt')).toBe(true);
    expect(g('a/b.mp3')).toBe(false);
    expect(g('private/x.txt')).toBe(false);
    expect(compileFilter({ exclude: ['**/*.wav'] })('x/y.wav')).toBe(false);
  });
});

describe('a destination inside the source', () => {
  it("claims an output only through the run's records, never by name; keys outside the destination are never sliced", () => {
    const same = outputsOf('file:///data/', 'file:///data/');
    expect(same('_runs/r1/report.json')).toEqual([
      { kind: 'run', runId: 'r1' },
      { kind: 'result', resultKey: '_runs/r1/report.json', name: 'report.json' },
    ]);
    expect(same('_staging/r1/f/0/chunk.mp3')[0]).toEqual({ kind: 'run', runId: 'r1' });
    // an upload named like a spoken summary is only a claim: it is media unless a signed a.flac.json lists it
    expect(same('talks/a.flac.wav')).toEqual([
      { kind: 'result', resultKey: 'talks/a.json', name: 'a.flac.wav' },
      { kind: 'result', resultKey: 'talks/a.flac.json', name: 'a.flac.wav' },
    ]);
    expect(same('_runs/evil.wav')).toEqual([{ kind: 'result', resultKey: '_runs/evil.json', name: 'evil.wav' }]);
    expect(same('talks/noext')).toEqual([]);
    const nested = outputsOf('s3://b/in/', 's3://b/in/out/');
    expect(nested('out/x.mp3.json')).toEqual([
      { kind: 'result', resultKey: 'x.json', name: 'x.mp3.json' },
      { kind: 'result', resultKey: 'x.mp3.json', name: 'x.mp3.json' },
    ]);
    expect(nested('out/_runs/r/report.json')[0]).toEqual({ kind: 'run', runId: 'r' });
    expect(nested('x.mp3')).toEqual([]);
    // issue 19: 'xxxxxxxxxxx_runs/evil.wav' was sliced to '_runs/evil.wav' and skipped
    const eleven = outputsOf('s3://b/', 's3://b/destination/');
    expect(eleven('xxxxxxxxxxx_runs/evil.wav')).toEqual([]);
    expect(eleven('xxxxxxxxxxx_staging/r/x.wav')).toEqual([]);
    const apart = outputsOf('s3://b/in/', 's3://b/out/');
    expect(apart('a.flac.wav')).toEqual([]);
  });
});

describe('manifests', () => {
  it('reads JSON lines, bare strings and CSV with quotes and a header', () => {
    expect(parseManifestLine('{"uri": "s3://b/in/a.mp3"}')).toBe('s3://b/in/a.mp3');
    expect(parseManifestLine('"s3://b/in/a b.mp3"')).toBe('s3://b/in/a b.mp3');
    expect(parseManifestLine('uri,size')).toBeUndefined();
    expect(parseManifestLine('"s3://b/in/x,""y"".mp3",12')).toBe('s3://b/in/x,"y".mp3');
    expect(parseManifestLine('s3://b/in/c.mp3,100')).toBe('s3://b/in/c.mp3');
    expect(parseManifestLine('   ')).toBeUndefined();
    expect(() => parseManifestLine('{"size": 3}')).toThrow(/uri/);
    expect(() => parseManifestLine('{"uri": "s3://b/in/a.mp3"')).toThrow(expect.objectContaining({ code: 'manifest_invalid', retryable: false }));
  });
  it('places a URI under the source, or refuses it', () => {
    expect(keyUnderSource('s3://b/in/a/b.mp3', 's3://b/in/')).toBe('a/b.mp3');
    expect(keyUnderSource('s3://b/other/a.mp3', 's3://b/in/')).toBeUndefined();
    expect(keyUnderSource('/data/in/x.wav', 'file:///data/in/')).toBe('x.wav');
  });
});

describe('run specs', () => {
  it('fills the task defaults and fingerprints what changes the answer', () => {
    const a = buildRunSpec({ source: 's3://b/in/', destination: 's3://b/out/', task: 'caption' }, cfg, newRunId());
    expect(a.model).toBe('qwen3-omni-30b-a3b-captioner');
    expect(a.prompt).toBeUndefined();
    const b = buildRunSpec({ source: 's3://b/in/', destination: 's3://b/out/', task: 'caption', chunkSeconds: 20 }, cfg, newRunId());
    expect(b.fingerprint).not.toBe(a.fingerprint);
    const c = buildRunSpec({ source: 'x', destination: 'y', task: 'caption', maxFiles: 3 }, cfg, newRunId());
    expect(c.fingerprint).toBe(a.fingerprint); // where and how many do not change the answer
    expect(buildRunSpec({ source: 'x', destination: 'y', task: 'speak' }, cfg, newRunId()).voice).toBe('Cherry');
  });
  it('refuses what cannot work, with a code', () => {
    const bad = (req: object) => {
      try {
        buildRunSpec({ source: 'x', destination: 'y', ...req } as never, cfg, newRunId());
        return 'ok';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(bad({ task: 'sing' })).toBe('invalid_task');
    expect(bad({ task: 'caption', model: 'gpt-5' })).toBe('model_unknown');
    expect(bad({ task: 'custom' })).toBe('invalid_argument');
    expect(bad({ task: 'caption', prompt: 'hi' })).toBe('invalid_argument');
    expect(bad({ task: 'speak', model: 'qwen3-omni-30b-a3b-captioner' })).toBe('invalid_argument');
    // A complete voice list refuses before sending (turbo: "仅支持 4 种"; flash: all 17 of "17 种"); where the
    // seed names a few of many (qwen3.5-omni-plus: 6 of 55) the service decides.
    expect(bad({ task: 'speak', model: 'qwen-omni-turbo', voice: 'Nobody' })).toBe('voice_unsupported');
    expect(bad({ task: 'speak', voice: 'Nobody' })).toBe('voice_unsupported');
    expect(bad({ task: 'speak', model: 'qwen3.5-omni-plus', voice: 'Nobody' })).toBe('ok');
    expect(bad({ task: 'caption', model: 'qwen3.5-omni-plus', budgetMicros: 1_000_000 })).toBe('budget_unpriced');
    expect(bad({ task: 'caption', budgetMicros: 1_000_000 })).toBe('ok');
    // The operator's price override is handed in (read once by the caller), never read from a file here.
    const priced = { 'qwen3.5-omni-plus': { intl: { currency: 'USD', inputAudio: 1, inputText: 1, outputTextMultimodal: 1 } } };
    const budgeted = { source: 'x', destination: 'y', task: 'caption', model: 'qwen3.5-omni-plus', budgetMicros: 1_000_000 };
    expect(buildRunSpec(budgeted, cfg, newRunId(), new Date(), undefined, priced).budgetMicros).toBe(1_000_000);
    // Video moderation on intl, where video input has no published price: refused before the run (README), not
    // accepted and then failing every video file at its reservation.
    expect(bad({ task: 'moderate', budgetMicros: 1_000_000 })).toBe('budget_unpriced');
    expect(bad({ task: 'moderate' })).toBe('ok');
    const urlCfg = loadConfig({ env: { OMNIBATCH_INPUT_MODE: 'url' } });
    expect(() => buildRunSpec({ source: 's3://b/in/', destination: './out', task: 'caption' }, urlCfg, newRunId())).toThrow(/s3:\/\/ destination/);
  });
  it('makes sortable, unique run ids', () => {
    const a = newRunId(new Date('2026-11-23T13:05:01.123Z'));
    expect(a).toMatch(/^20261123T130501Z-[0-9a-f]{6}$/);
    expect(newRunId()).not.toBe(newRunId());
  });
});

describe('progress and exit codes', () => {
  const state = (over: Partial<RunState['counts']>, status: RunState['status'] = 'running', scanDone = true): RunState => ({
    spec: { runId: 'r1' } as RunState['spec'],
    status,
    scanDone,
    generation: 0,
    counts: {
      total: 10,
      succeeded: 4,
      failed: 1,
      skipped: 0,
      not_run: 0,
      terminal: 5,
      media_ms: 3_600_000,
      requests: 7,
      retries: 2,
      est_micros: 0,
      est_low_micros: 0,
      est_high_micros: 0,
      ...over,
    },
  });
  it('shows files, media, requests, cost and an ETA', () => {
    const line = formatProgress({ state: state({}), costMicros: 1_234_567, currency: 'USD', elapsedS: 50 }, false);
    expect(line).toContain('5/10 files');
    expect(line).toContain('1h00m media');
    expect(line).toContain('cost 1.234567 USD');
    expect(line).toContain('eta 50s');
    // nothing had a price: no amount at all; some had none: the amount, and what it leaves out
    expect(formatProgress({ state: state({}, 'running', false), costMicros: 0, currency: null, elapsedS: 1, priced: false }, true)).toMatch(
      /^\[#+\.+\] 5\/10\+ files.*cost unpriced/,
    );
    expect(
      formatProgress(
        {
          state: state({}),
          costMicros: 9_249,
          currency: 'USD',
          elapsedS: 1,
          priced: false,
          unpricedNote: 'partly unpriced: 14082 input video tokens had no price',
        },
        false,
      ),
    ).toContain('cost 0.009249 USD (partly unpriced: 14082 input video tokens had no price)');
    expect(formatDuration(59)).toBe('59s');
    // by work once plans are known: 5 of 10 files done is 6 of 20 requests, and the rate is requests per second
    const now = 1_000_000;
    const byWork = formatProgress(
      {
        state: state({ prepared: 10, planned_requests: 20, work_started_ms: now - 30_000 }),
        costMicros: 0,
        currency: 'USD',
        elapsedS: 30,
        requestsDone: 6,
        now,
      },
      false,
    );
    expect(byWork).toContain('6/20 requests');
    expect(byWork).toContain('eta 1m10s');
    expect(formatDuration(3601)).toBe('1h00m');
  });
  it('maps final statuses to the documented exit codes', () => {
    expect(exitCodeFor('completed')).toBe(0);
    expect(exitCodeFor('completed_with_failures')).toBe(2);
    expect(exitCodeFor('stopped_budget')).toBe(3);
  });
});

describe('workers', () => {
  it('parses --stages and refuses unknown ones', () => {
    expect(parseStages('infer, finalize')).toEqual(['infer', 'finalize']);
    expect(parseStages(undefined)).toEqual(['scan', 'prepare', 'infer', 'finalize', 'report', 'notify', 'batch-line', 'batch-submit', 'batch-poll']);
    expect(() => parseStages('infer,cook')).toThrow(/cook/);
  });
  it('halves targets and the base64 ceiling when re-planning', () => {
    const flash = MODELS['qwen3-omni-flash'];
    const p = { targetS: 300, searchWindowS: 15 };
    expect(shrunk(p, flash, 0)).toBe(p);
    expect(shrunk(p, flash, 1)).toEqual({ targetS: 150, searchWindowS: 15, base64MaxChars: base64Ceiling(flash) / 2 });
  });
  it('joins chunk WAVs of any length into one valid file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wavcat-'));
    try {
      const parts: string[] = [];
      for (const seconds of [1.5, 0, 2.25]) {
        const w = await WavWriter.create(path.join(dir, `${parts.length}.wav`));
        await w.write(Buffer.alloc(Math.round(seconds * 48000), 7));
        await w.close();
        parts.push(w.path);
      }
      const r = await concatWavFiles(parts, path.join(dir, 'all.wav'));
      expect(r.seconds).toBeCloseTo(3.75, 5);
      const all = await readFile(path.join(dir, 'all.wav'));
      expect(parseWavHeader(all)?.dataBytes).toBe(3.75 * 48000);
      expect(all.subarray(44).every((b) => b === 7)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('secrets in URLs', () => {
  it('cuts the query string (signatures, tokens) off every URL in a text', async () => {
    const { redactUrls } = await import('../../src/util/redact.ts');
    const url = 'https://b.s3.amazonaws.com/in/a.mp3?X-Amz-Signature=abc123&X-Amz-Security-Token=tok';
    const out = redactUrls(`ffprobe -i ${url} failed: 403 for '${url}'`);
    expect(out).not.toContain('abc123');
    expect(out).not.toContain('tok');
    expect(out).toContain('https://b.s3.amazonaws.com/in/a.mp3?[redacted]');
    expect(redactUrls('/tmp/a?b.wav stays')).toBe('/tmp/a?b.wav stays');
  });
});
