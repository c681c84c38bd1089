/**
 * `omnibatch ask` end to end: the real CLI (node bin/omnibatch.js) in a child process against an emulator
 * started here, plus the pure planning of what ask sends.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Probed, planAsk } from '../../src/cli/ask.ts';
import { costOf, formatMicros } from '../../src/cost/price.ts';
import { startEmulator } from '../../src/emulator/server.ts';
import { emptyUsage, type Usage } from '../../src/models/types.ts';
import { parseWavHeader } from '../../src/models/wav.ts';
import { type CliResult, runCli } from '../helpers/cli.ts';
import { media, REPO_ROOT } from '../helpers/paths.ts';

const KEY = 'test-key-ask';
/** JFK's 11 s inaugural excerpt, FLAC 44.1 kHz stereo, named relative to the CLI's working directory. */
const JFK = path.relative(REPO_ROOT, media('whisper__jfk.flac'));
let emu: Awaited<ReturnType<typeof startEmulator>>;
let dir: string;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY });
  dir = await mkdtemp(path.join(os.tmpdir(), 'omni-ask-'));
});
afterAll(async () => {
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => emu.resetStats());

function omnibatch(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OMNI_|OMNIBATCH_|DASHSCOPE_)/.test(k)));
  return runCli(args, {
    baseEnv: clean,
    env: {
      OMNI_API_KEY: KEY,
      OMNI_BASE_URL: `${emu.url}/compatible-mode/v1`,
      OMNI_PROTOCOL: 'chat',
      OMNI_REGION: 'intl',
      OMNIBATCH_TMP: dir,
      ...env,
    },
  });
}

function billedUsage(model: string): Usage {
  const b = emu.stats().billed[model];
  const u = emptyUsage();
  Object.assign(u.input, b.input);
  Object.assign(u.output, b.output);
  u.inputTotal = Object.values(u.input).reduce((a, n) => a + n, 0);
  u.outputTotal = Object.values(u.output).reduce((a, n) => a + n, 0);
  return u;
}

describe('omnibatch ask (CLI, real process)', () => {
  it('captions an 11 s FLAC (JFK) with the captioner: prints the caption, usage and a cost', async () => {
    const r = await omnibatch(['ask', JFK, '--model', 'qwen3-omni-30b-a3b-captioner']);
    expect(r.stderr).not.toMatch(/omnibatch: /);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Audio clip, 11\.\d+ s, 1 channel.*qwen3-omni-30b-a3b-captioner/);
    const billed = billedUsage('qwen3-omni-30b-a3b-captioner');
    expect(billed.input.audio).toBeGreaterThanOrEqual(138);
    expect(r.stderr).toContain(
      `usage: input ${billed.inputTotal} tokens (audio ${billed.input.audio}), output ${billed.outputTotal} tokens (text ${billed.output.text})`,
    );
    const cost = costOf(billed, 'qwen3-omni-30b-a3b-captioner', 'intl');
    expect(cost.priced).toBe(true);
    expect(cost.amountMicros).toBeGreaterThan(0);
    expect(r.stderr).toContain(`cost: ${formatMicros(cost.amountMicros)} USD`);
    expect(emu.stats().completed).toBe(1);
  });

  it('--task speak --json: one JSON object; the WAV is written', async () => {
    const wav = path.join(dir, 'speak.wav');
    const r = await omnibatch(['ask', JFK, '--task', 'speak', '--audio-out', wav, '--voice', 'Ethan', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, any>;
    expect(out).toMatchObject({ task: 'speak', model: 'qwen3-omni-flash', protocol: 'chat', region: 'intl', media: 'audio', finishReason: 'stop' });
    expect(out.usage).toEqual(billedUsage('qwen3-omni-flash'));
    expect(out.cost).toMatchObject({ currency: 'USD', priced: true });
    expect(out.cost.amount).toBe(formatMicros(out.cost.amountMicros));
    expect(out.audio.file).toBe(wav);
    const h = parseWavHeader(readFileSync(wav));
    expect(h?.dataBytes).toBe(out.audio.bytes);
    expect(out.usage.output.audio).toBe(Math.ceil(out.audio.seconds * 12.5));
  });

  it('a coded error exits 1 with "omnibatch: <code>: <message>"', async () => {
    const r = await omnibatch(['ask', JFK], { OMNI_API_KEY: 'wrong-key' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^omnibatch: auth: HTTP 401/m);
    expect(r.stderr).not.toContain('wrong-key');
  });
});

describe('planAsk (pure)', () => {
  const flac: Probed = { durationS: 11, hasAudio: true, hasVideo: false, sizeBytes: 350_000, ext: 'flac' };
  const mp3: Probed = { ...flac, ext: 'mp3' };
  const mp4: Probed = { durationS: 30, hasAudio: true, hasVideo: true, sizeBytes: 2_000_000, ext: 'mp4' };

  it('defaults to the captioner and no prompt; re-encodes containers it does not send as they are', () => {
    const p = planAsk({}, flac, 'a.flac');
    expect(p).toMatchObject({ task: 'caption', model: 'qwen3-omni-30b-a3b-captioner', kind: 'audio' });
    expect(p.prompt).toBeUndefined();
    expect(p.encode?.format).toBe('mp3');
    expect(planAsk({}, mp3, 'a.mp3').encode).toBeUndefined();
  });

  it('--prompt means custom; a prompted model without a task transcribes', () => {
    expect(planAsk({ prompt: 'who speaks?' }, mp3, 'a.mp3')).toMatchObject({ task: 'custom', model: 'qwen3-omni-flash', prompt: 'who speaks?' });
    expect(planAsk({ model: 'qwen3-omni-flash' }, mp3, 'a.mp3').task).toBe('transcribe');
    // DMXAPI serves the -all names: the default goes under that name there, a given name as given
    expect(planAsk({ prompt: 'who speaks?' }, mp3, 'a.mp3', 'responses').model).toBe('qwen3-omni-flash-all');
    expect(planAsk({ model: 'qwen3-omni-flash', prompt: 'x' }, mp3, 'a.mp3', 'responses').model).toBe('qwen3-omni-flash');
  });

  it('sends video only when the task wants it, else the audio track', () => {
    expect(planAsk({ task: 'describe' }, mp4, 'v.mp4')).toMatchObject({ kind: 'video', encode: undefined });
    const t = planAsk({ task: 'transcribe' }, mp4, 'v.mp4');
    expect(t.kind).toBe('audio');
    expect(t.encode?.args).toContain('-vn');
  });

  it('speech: default file and voice; refused with thinking or a model that cannot speak', () => {
    expect(planAsk({ task: 'speak' }, mp3, '/x/talk.mp3').audioOut).toEqual({ voice: 'Cherry', file: 'talk.speak.wav' });
    expect(() => planAsk({ task: 'speak', thinking: true }, mp3, 'a.mp3')).toThrow(/thinking/);
    expect(() => planAsk({ audioOut: 'o.wav' }, mp3, 'a.mp3')).toThrow(/does not speak/);
  });

  it('refuses what cannot work, with a code', () => {
    expect(() => planAsk({ prompt: 'x', model: 'qwen3-omni-30b-a3b-captioner' }, mp3, 'a.mp3')).toThrow(/takes no prompt/);
    expect(() => planAsk({ task: 'nope' }, mp3, 'a.mp3')).toThrow(/unknown task/);
    expect(() => planAsk({}, { ...mp3, hasAudio: false }, 'a.mp3')).toThrow(expect.objectContaining({ code: 'media_no_audio' }));
    expect(() => planAsk({}, { ...mp3, durationS: 41 * 60 }, 'a.mp3')).toThrow(expect.objectContaining({ code: 'input_too_large' }));
  });
});

it('leaves no temp files behind', () => {
  // ask's re-encode dir lives under OMNIBATCH_TMP (this test's dir) and is removed after each request
  expect(existsSync(dir)).toBe(true);
  expect(readdirSync(dir).filter((n) => n.startsWith('omnibatch-ask-'))).toEqual([]);
});
