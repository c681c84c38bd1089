/**
 * Where the code disagreed with the seeds (issue 22, "from reading the code against the seeds"): each fact
 * as the seed states it, held by the client, by `omnibatch ask` as a real process, and by the emulator over
 * real HTTP, so the emulator catches the client drifting from the seed again.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { askRequest, type Probed, planAsk } from '../../src/cli/ask.ts';
import { loadConfig } from '../../src/config/index.ts';
import { parseRequest } from '../../src/emulator/parse.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { isApiError } from '../../src/emulator/types.ts';
import { checkRequest } from '../../src/emulator/validate.ts';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { effectiveLimits } from '../../src/media/limits.ts';
import { BUILT_IN, checkVoice, MODELS } from '../../src/models/catalog.ts';
import { buildBody, resolveMedia } from '../../src/models/request.ts';
import type { Protocol } from '../../src/models/types.ts';
import { buildRunSpec, newRunId } from '../../src/producers/run.ts';
import { OmniError } from '../../src/util/errors.ts';
import { CHAT, chatRequest, dataUrl, post, RESPONSES, responsesRequest } from '../emulator/helpers.ts';
import { type CliResult, runCli } from '../helpers/cli.ts';
import { media, REPO_ROOT } from '../helpers/paths.ts';

const KEY = 'sk-seed-items';
const AUTH = { authorization: `Bearer ${KEY}` };
/** 2.27 s of h264 + AAC: a video with a sound track */
const VIDEO = path.relative(REPO_ROOT, media('video-2.27s-640x480.mp4'));
let emu: Emulator;
let dir: string;
/** 45 s of 48 kHz stereo PCM: 8.6 MB, 11.5 M base64 characters (over 10 MiB, under the gateway's 20 MiB) */
let bigWav: string;
const png: Record<string, string> = {};

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY });
  dir = await mkdtemp(path.join(os.tmpdir(), 'omni-seed-items-'));
  bigWav = path.join(dir, 'big.wav');
  // even sides: the color source rounds odd ones down
  const sizes = { ok: '12x12', thin: '10x40', wide: '2600x12', wideOk: '2400x12' };
  await Promise.all([
    runFfmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '45', '-ac', '2', '-c:a', 'pcm_s16le', '-y', bigWav]),
    ...Object.entries(sizes).map(([name, s]) => {
      png[name] = path.join(dir, `${name}.png`);
      return runFfmpeg(['-f', 'lavfi', '-i', `color=c=red:s=${s}`, '-frames:v', '1', '-y', png[name]]);
    }),
  ]);
}, 120_000);
afterAll(async () => {
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => emu.resetStats());

function omnibatch(args: string[], protocol: Protocol): Promise<CliResult> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OMNI_|OMNIBATCH_|DASHSCOPE_)/.test(k)));
  const base = protocol === 'responses' ? `${emu.url}/v1` : `${emu.url}/compatible-mode/v1`;
  return runCli(args, {
    baseEnv: clean,
    env: { OMNI_API_KEY: KEY, OMNI_BASE_URL: base, OMNI_PROTOCOL: protocol, OMNI_REGION: 'intl', OMNIBATCH_TMP: dir },
  });
}

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof OmniError ? err.code : String(err);
  }
  return undefined;
};

describe("a video's sound track over the responses protocol (000:705, 001:642: billed apart, as audio)", () => {
  it('ask sends the length and the sound track with the request, so the unsplit total is split as billed', () => {
    const probe: Probed = { durationS: 2.27, hasAudio: true, hasVideo: true, sizeBytes: 1000, ext: 'mp4' };
    const plan = planAsk({ task: 'describe' }, probe, 'v.mp4', 'responses');
    expect(askRequest(plan, 'v.mp4', probe).media).toEqual({ kind: 'video', source: { file: 'v.mp4' }, seconds: 2.27, hasAudio: true });
  });

  it('omnibatch ask --protocol responses on a video: usage and cost as the emulator billed them', async () => {
    const r = await omnibatch(['ask', VIDEO, '--task', 'describe', '--json'], 'responses');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const billed = emu.stats().billed['qwen3-omni-flash'];
    expect(billed.input.audio).toBeGreaterThan(0);
    expect(out.usage.input.audio).toBe(billed.input.audio);
    expect(out.usage.input.video).toBe(billed.input.video);
    expect(out.usage.inferred).toBe(true);
  });
});

describe('voices as the seeds list them, per model and protocol (001:1440-1458, 000:1011-1059)', () => {
  const cfg = (protocol: Protocol) => loadConfig({ env: { OMNI_PROTOCOL: protocol } });
  const speak = (model: string, voice: string, protocol: Protocol) =>
    buildRunSpec({ source: 'x', destination: 'y', task: 'speak', model, voice }, cfg(protocol), newRunId());

  it('--voice Serena on chat qwen3-omni-flash is refused before any job, naming the 17 voices; DMXAPI -all takes it', () => {
    expect(codeOf(() => speak('qwen3-omni-flash', 'Serena', 'chat'))).toBe('voice_unsupported');
    const verdict = checkVoice('qwen3-omni-flash', 'Serena', 'chat');
    expect(verdict).toMatchObject({ ok: false, refuse: true });
    expect(!verdict.ok && verdict.message).toContain('Cherry, Ethan, Nofish, Jennifer');
    expect(speak('qwen3-omni-flash-all', 'Serena', 'responses').voice).toBe('Serena');
    // The name on the other endpoint: the list of the name that endpoint serves.
    expect(checkVoice('qwen3-omni-flash', 'Serena', 'responses')).toEqual({ ok: true });
    expect(codeOf(() => planAsk({ task: 'speak', voice: 'Serena', model: 'qwen3-omni-flash' }, probeOf(), 'a.mp3', 'chat'))).toBe('voice_unsupported');
  });

  it('what run refuses up front is exactly what the emulator refuses, for every served name and every seed voice', () => {
    const voices = new Set(Object.values(MODELS).flatMap((m) => [...m.voices.names, ...m.names.flatMap((n) => n.voices?.names ?? [])]));
    voices.add('Aurora');
    for (const m of Object.values(MODELS)) {
      if (!m.outputs.includes('audio')) continue;
      for (const n of m.names) {
        for (const voice of voices) {
          const body = { ...chatRequest({ model: n.name, modalities: ['text', 'audio'], audio: { voice, format: 'wav' } }) };
          const parsed = parseRequest('chat', body);
          if (isApiError(parsed)) throw new Error(parsed.message);
          const emulatorRefuses = checkRequest(parsed, m, BUILT_IN.voicesFor(n.name)) !== undefined;
          const verdict = checkVoice(n.name, voice, n.protocols[0]);
          expect(!verdict.ok && verdict.refuse, `${n.name} ${voice}`).toBe(emulatorRefuses);
        }
      }
    }
  });
});

const probeOf = (): Probed => ({ durationS: 5, hasAudio: true, hasVideo: false, sizeBytes: 1000, ext: 'mp3' });

describe('qwen3.5-omni-plus has a thinking mode, text output only (002:85)', () => {
  it('the client sends enable_thinking to it', () => {
    const body = buildBody('responses', { model: 'qwen3.5-omni-plus-all', prompt: 'hi', thinking: true });
    expect(body.enable_thinking).toBe(true);
  });

  it('omnibatch ask --thinking: the emulator thinks; with speech it is refused (text output only)', async () => {
    const r = await omnibatch(['ask', VIDEO, '--model', 'qwen3.5-omni-plus-all', '--thinking', '--json'], 'responses');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).reasoning).toMatch(/The user sent/);
    const withAudio = responsesRequest({
      model: 'qwen3.5-omni-plus-all',
      enable_thinking: true,
      modalities: ['text', 'audio'],
      audio: { voice: 'Tina', format: 'wav' },
    });
    expect((await post(emu.url, RESPONSES, withAudio, AUTH)).status).toBe(400);
  });
});

describe('base64 ceilings per model: only the captioner states one (003:396)', () => {
  it('the planner and the client hold qwen3-omni-flash to the gateway ceiling, the captioner to 10 MiB', async () => {
    const flash = effectiveLimits(MODELS['qwen3-omni-flash'], 'audio', { inputMode: 'base64' });
    const captioner = effectiveLimits(MODELS['qwen3-omni-30b-a3b-captioner'], 'audio', { inputMode: 'base64' });
    expect(captioner.maxBase64Chars).toBeLessThan(10 * 1024 * 1024);
    expect(flash.maxBase64Chars).toBeGreaterThan(10 * 1024 * 1024);
    await expect(resolveMedia({ kind: 'audio', source: { file: bigWav } }, MODELS['qwen3-omni-flash'].limits.base64MaxChars)).resolves.toBeDefined();
  });

  it('the emulator takes 11.5 M base64 characters for qwen3-omni-flash and refuses them for the captioner', async () => {
    const part = [{ type: 'input_audio', input_audio: { data: dataUrl(bigWav), format: 'wav' } }];
    expect(dataUrl(bigWav).length).toBeGreaterThan(10 * 1024 * 1024);
    const flash = await post(emu.url, CHAT, chatRequest({}, [...part, { type: 'text', text: 'What is this?' }]), AUTH);
    expect(flash.status).toBe(200);
    await flash.text();
    const captioner = await post(emu.url, CHAT, chatRequest({ model: 'qwen3-omni-30b-a3b-captioner' }, part), AUTH);
    expect(captioner.status).toBe(400);
    expect(((await captioner.json()) as { error: { message: string } }).error.message).toMatch(/base64 data exceeds the limit of 10485760/);
  });
});

describe('output modalities as seed 001 allows them (001:186,216,219)', () => {
  it.each([
    [['audio'], 400],
    [['text', 'image'], 400],
    [['audio', 'text'], 400],
    ['text', 400],
    [['text'], 200],
    [['text', 'audio'], 200],
  ])('modalities %j: %i', async (modalities, status) => {
    const extra = { modalities, ...(Array.isArray(modalities) && modalities.includes('audio') && { audio: { voice: 'Cherry', format: 'wav' } }) };
    const res = await post(emu.url, CHAT, chatRequest(extra), AUTH);
    await res.text();
    expect(res.status).toBe(status);
  });

  it('an audio parameter in thinking mode is refused even with modalities ["text"]', async () => {
    const res = await post(emu.url, CHAT, chatRequest({ enable_thinking: true, modalities: ['text'], audio: { voice: 'Cherry', format: 'wav' } }), AUTH);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/audio parameter is not supported in thinking mode/);
  });
});

describe('image rules (001:286, 004:159): both sides over 10 px, aspect at most 200:1', () => {
  it.each([
    ['ok', 200],
    ['thin', 400],
    ['wide', 400],
    ['wideOk', 200],
  ])('%s image: %i', async (name, status) => {
    const content = [
      { type: 'image_url', image_url: { url: `data:image/png;base64,${readFileSync(png[name]).toString('base64')}` } },
      { type: 'text', text: 'What is this?' },
    ];
    const res = await post(emu.url, CHAT, chatRequest({}, content), AUTH);
    const body = await res.text();
    expect(res.status, body).toBe(status);
    if (status === 400) expect(body).toMatch(/larger than 10 pixels|aspect ratio must not exceed 200:1/);
  });
});

describe("docs/protocols.md gives the captioner's prices as seed 003 does", () => {
  it('in USD for both regions (003:6, 003:10)', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs/protocols.md'), 'utf8');
    const row = doc.split('\n').find((l) => l.startsWith('| captioner'));
    expect(row).toBeDefined();
    expect(row).not.toMatch(/CNY/);
    const t = MODELS['qwen3-omni-30b-a3b-captioner'].prices;
    expect(t.cn?.currency).toBe('USD');
    for (const region of ['intl', 'cn'] as const) {
      expect(row).toContain(`${(t[region]!.inputAudio! / 1e6).toString()} USD`);
      expect(row).toContain(`${(t[region]!.outputTextMultimodal! / 1e6).toString()} USD`);
    }
  });
});
