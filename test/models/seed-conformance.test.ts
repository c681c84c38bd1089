/**
 * Every request body the seed documents show (test/models/fixtures/seed-requests.json, transcribed verbatim:
 * model names, voices, parts, parameters) is sent to the emulator, which must accept it as the real service
 * does; and every request a seed says the service refuses must be refused. The seeds' media live on Alibaba's
 * CDN, which no test may call: each remote URL is served instead from a loopback server under the same path,
 * with media generated here by ffmpeg, and each `{base64_*}` placeholder gets the generated file's base64.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { seedVideoArgs, sendSeed } from '../helpers/seed-requests.ts';
import { fixture } from './helpers.ts';

interface Accepted {
  source: string;
  protocol: 'chat' | 'responses' | 'native';
  sse?: boolean;
  body: Record<string, unknown>;
}
interface Refused {
  source: string;
  why: string;
  protocol: Accepted['protocol'];
  from: string;
  status: number;
  set?: Record<string, unknown>;
  prepend?: unknown;
  addPart?: unknown;
  dropFrames?: number;
  appendTurns?: boolean;
}
const SEEDS = JSON.parse(fixture('seed-requests.json').toString('utf8')) as { accepted: Accepted[]; refused: Refused[] };
const KEY = 'sk-seed-conformance';
/** the seed 003 base64 sample, cut short in the document ("實際使用時請傳入完整編碼") */
const TRUNCATED = 'data:;base64,SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4LjI5....';

let emu: Emulator;
let cdn: Server;
let cdnUrl: string;
let dir: string;
/** file name (as in the seed URLs) -> bytes */
const files = new Map<string, Buffer>();

async function make(name: string, args: string[]): Promise<void> {
  const out = path.join(dir, name);
  await runFfmpeg(['-v', 'error', ...args, '-y', `file:${out}`]);
  files.set(name, await readFile(out));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'omni-seeds-'));
  const tone = (s: number) => ['-f', 'lavfi', '-i', `sine=frequency=330:duration=${s}`];
  const picture = (size: string) => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=1:duration=1`, '-frames:v', '1'];
  await make('cherry.wav', [...tone(3), '-c:a', 'pcm_s16le']);
  await make('装修噪音.wav', ['-f', 'lavfi', '-i', 'anoisesrc=d=3:c=pink:r=16000:a=0.2', '-c:a', 'pcm_s16le']);
  await make('welcome.mp3', [...tone(2), '-c:a', 'libmp3lame', '-b:a', '64k']);
  await make('dog_and_girl.jpeg', picture('640x480'));
  for (const n of [1, 2, 3, 4]) await make(`football${n}.jpg`, picture('480x320'));
  await make('test.png', picture('320x240'));
  await make('1.mp4', seedVideoArgs());
  cdn = createServer((req, res) => {
    const name = decodeURIComponent(path.posix.basename((req.url ?? '').split('?')[0]));
    const body = files.get(name);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
  cdnUrl = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`;
  emu = await startEmulator({ apiKey: KEY });
}, 60_000);
afterAll(async () => {
  await emu?.close();
  await new Promise((resolve) => cdn?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const b64 = (name: string) => files.get(name)!.toString('base64');

/** The seed body with its media made reachable: remote URLs -> the loopback CDN, placeholders -> base64. */
function localize(v: unknown): unknown {
  if (typeof v === 'string') {
    if (v === TRUNCATED) return `data:;base64,${b64('welcome.mp3')}`;
    return v
      .replace(/^https:\/\/([^/]+)\//, `${cdnUrl}/$1/`)
      .replace('{base64_image}', b64('test.png'))
      .replace('{base64_audio}', b64('welcome.mp3'))
      .replace('{base64_video}', b64('1.mp4'));
  }
  if (Array.isArray(v)) return v.map(localize);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, localize(x)]));
  return v;
}

async function send(protocol: Accepted['protocol'], body: unknown, sse = false): Promise<{ status: number; text: string; type: string }> {
  const res = await sendSeed(emu.url, protocol, localize(body), { key: KEY, sse });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

function variant(r: Refused): Record<string, unknown> {
  const base = SEEDS.accepted.find((a) => a.source === r.from);
  if (!base) throw new Error(`no accepted body ${r.from}`);
  const body = structuredClone(base.body) as Record<string, any>;
  Object.assign(body, r.set ?? {});
  const list: any[] = body.messages ?? body.input?.messages ?? body.input;
  if (r.prepend) list.unshift(r.prepend);
  const first = list.find((m) => m.role === 'user');
  if (r.addPart) first.content.push(r.addPart);
  if (r.dropFrames) for (const part of first.content) if (part.type === 'video') part.video = part.video.slice(0, r.dropFrames);
  if (r.appendTurns) list.push({ role: 'assistant', content: [{ text: 'A drill.' }] }, { role: 'user', content: [{ audio: list[0].content[0].audio }] });
  return body;
}

describe("the seeds' request bodies", () => {
  it('cover every seed, both DMXAPI models, DashScope omni and the captioner on both its protocols', () => {
    const seeds = new Set(SEEDS.accepted.map((a) => a.source.slice(0, 3)));
    expect([...seeds].sort()).toEqual(['000', '001', '002', '003', '004']);
    const models = new Set(SEEDS.accepted.map((a) => `${a.protocol}:${a.body.model}`));
    for (const m of [
      'responses:qwen3-omni-flash-all',
      'responses:qwen3.5-omni-plus-all',
      'chat:qwen3-omni-flash',
      'chat:qwen-omni-turbo',
      'chat:qwen3-omni-30b-a3b-captioner',
      'native:qwen3-omni-30b-a3b-captioner',
    ])
      expect(models).toContain(m);
    const voices = new Set(SEEDS.accepted.map((a) => (a.body.audio as { voice?: string } | undefined)?.voice).filter(Boolean));
    expect([...voices].sort()).toEqual(['Cherry', 'Serena', 'Tina']);
  });

  it.each(SEEDS.accepted.map((a) => [a.source, a] as const))('%s is accepted', async (_s, a) => {
    const r = await send(a.protocol, a.body, a.sse);
    expect(r.status, r.text.slice(0, 300)).toBe(200);
    const streamed =
      a.body.stream === true || a.sse === true || (a.body.parameters as { incremental_output?: boolean } | undefined)?.incremental_output === true;
    if (!streamed) {
      expect(r.type).toMatch(/json/);
      return;
    }
    expect(r.type).toMatch(/event-stream/);
    expect(r.text).not.toMatch(/"error"|event:error/);
    if (a.protocol === 'responses') {
      expect(r.text).toContain('event: response.completed');
      const wantsAudio = (a.body.modalities as string[] | undefined)?.includes('audio');
      expect(r.text.includes('"output_audio"')).toBe(Boolean(wantsAudio));
    }
    if (a.protocol === 'chat') expect(r.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it.each(SEEDS.refused.map((r) => [`${r.source}: ${r.why}`, r] as const))('%s -> refused', async (_s, r) => {
    const res = await send(r.protocol, variant(r));
    expect(res.status, res.text.slice(0, 300)).toBe(r.status);
    const body = JSON.parse(res.text) as { error?: { code: string }; code?: string };
    expect(body.error?.code ?? body.code).toBeTruthy();
  });
});
