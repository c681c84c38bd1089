/**
 * The subtitle flags as users type them, on real processes: `run --wait` with every one of them (a real run over
 * the emulator), and `schedule add` storing them for its firings (and refusing a bad one before anything is stored).
 */

import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTimedSpeech } from '../../bench/lib/timed-speech.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { displayWidth } from '../../src/stitch/text.ts';
import { dropPrefix, runCli } from '../helpers/cli.ts';

describe('subtitle flags on run and schedule add', () => {
  let emulator: Emulator;
  let tmp: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env, timeoutMs: 120_000 });
  beforeAll(async () => {
    emulator = await startEmulator({ apiKey: 'sk-cli-subs' });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-cli-subs-'));
    env = {
      OMNI_BASE_URL: `${emulator.url}/compatible-mode/v1`,
      OMNI_API_KEY: 'sk-cli-subs',
      OMNIBATCH_PREFIX: `cli-subs-${randomUUID().slice(0, 8)}`,
      LOG_LEVEL: 'silent',
      OMNIBATCH_TMP: path.join(tmp, 'work'),
      // run --wait learns of the run's end within 100 ms, not 1 s
      OMNIBATCH_WAIT_POLL_MS: '100',
    };
    await mkdir(path.join(tmp, 'in'), { recursive: true });
    await makeTimedSpeech(path.join(tmp, 'in/talk.wav'), [
      { text: 'Good evening, here is the news from the river market.', voice: 'en-us', pauseS: 2 },
      { text: 'The council will open the new bridge this summer.', voice: 'en-us', pauseS: 1 },
    ]);
  }, 60_000);
  afterAll(async () => {
    await dropPrefix(env.OMNIBATCH_PREFIX);
    await emulator?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('run --wait with every subtitle flag writes named sidecars within the limits, and the language in the result', async () => {
    const out = path.join(tmp, 'out');
    const flags = ['--language', 'auto', '--translate-to', 'en', '--max-line-chars', '30', '--max-lines', '1', '--max-cue-seconds', '4', '--max-cps', '25'];
    const r = await cli(
      'run',
      path.join(tmp, 'in'),
      '--out',
      out,
      '--task',
      'transcribe',
      ...flags,
      '--output-name',
      '{name}.{lang}.{ext}',
      '--wait',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    expect((await readdir(out)).filter((f) => !f.startsWith('_')).sort()).toEqual([
      'talk.en.segments.json',
      'talk.en.srt',
      'talk.en.txt',
      'talk.en.vtt',
      'talk.wav.json',
    ]);
    const doc = JSON.parse(await readFile(path.join(out, 'talk.wav.json'), 'utf8'));
    expect(doc).toMatchObject({ language: 'en', language_source: 'detected', translated_to: 'en' });
    const { segments } = JSON.parse(await readFile(path.join(out, 'talk.en.segments.json'), 'utf8'));
    expect(segments.length).toBeGreaterThan(2);
    for (const s of segments) {
      expect(s.text).not.toContain('\n');
      expect(displayWidth(s.text)).toBeLessThanOrEqual(30);
      expect(s.end - s.start).toBeLessThanOrEqual(4.001);
      expect(s.text.length / (s.end - s.start)).toBeLessThanOrEqual(25.001);
    }
  });

  it('schedule add stores the flags for its firings; a bad one is refused and nothing is stored', async () => {
    const scheduleAdd = (name: string, ...flags: string[]) =>
      cli('schedule', 'add', name, path.join(tmp, 'in'), '--cron', '0 2 * * *', '--out', path.join(tmp, `out-${name}`), '--task', 'transcribe', ...flags);
    // independent: in parallel
    const [bad, add] = await Promise.all([
      scheduleAdd('bad', '--max-lines', '9'),
      scheduleAdd('subs', '--language', 'de', '--max-cps', '17', '--max-lines', '1', '--output-name', '{name}.{lang}.{ext}'),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid_argument: --max-lines 9/u);
    expect(add.code, add.stderr).toBe(0);
    const list = JSON.parse((await cli('schedule', 'list', '--json')).stdout) as { name: string; request: Record<string, unknown> }[];
    expect(list.map((s) => s.name)).not.toContain('bad');
    expect(list.find((s) => s.name === 'subs')?.request).toMatchObject({
      language: 'de',
      subtitles: { maxCps: 17, maxLines: 1 },
      outputName: '{name}.{lang}.{ext}',
    });
  });
});
