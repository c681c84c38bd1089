// Where media comes from (data:, loopback http, file://) and how it is measured and billed.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaMeasurer } from '../../src/emulator/measure.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { isApiError } from '../../src/emulator/types.ts';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { writeVerdictSteering } from '../fixtures/hostile/verdict.ts';
import { media } from '../helpers/paths.ts';
import { CHAT, chatRequest, dataUrl, frames, json, NATIVE, nativeRequest, post, shortHash } from './helpers.ts';

const JFK = media('whisper__jfk.flac');
let emu: Emulator;
let files: Server;
let filesUrl: string;
let dir: string;
let png: string;

beforeAll(async () => {
  emu = await startEmulator();
  dir = await mkdtemp(path.join(os.tmpdir(), 'emu-media-'));
  png = path.join(dir, 'gray.png');
  await runFfmpeg(['-f', 'lavfi', '-i', 'color=c=gray:s=320x320', '-frames:v', '1', '-y', png]);
  // A loopback file server, as a presigned URL of local storage would be.
  files = createServer((req, res) => {
    if (req.url === '/jfk.flac') {
      res.writeHead(200, { 'content-type': 'audio/flac' });
      res.end(readFileSync(JFK));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await emu.close();
  await new Promise((r) => files.close(r));
  await rm(dir, { recursive: true, force: true });
});

const nativeText = (events: any[]) => events.map((e) => e.output.choices[0].message.content[0]?.text ?? '').join('');

describe('media sources', () => {
  it('fetches loopback http URLs and reads file:// URLs, measuring the same clip the same way', async () => {
    for (const url of [`${filesUrl}/jfk.flac`, pathToFileURL(JFK).href]) {
      const events = frames(await (await post(emu.url, NATIVE, nativeRequest(url))).text()).map(json);
      expect(nativeText(events)).toMatch(new RegExp(`^Audio clip, 11\\.00 s, 2 channels, 44100 Hz \\[${shortHash(JFK)}\\]`));
      expect(events.at(-1).usage.input_tokens).toBe(138);
    }
    const missing = await post(emu.url, NATIVE, nativeRequest(`${filesUrl}/nope.wav`));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ code: 'BadRequest.InputDownloadFailed', message: expect.stringMatching(/404/) });
  });

  it('bills a video by frames plus its audio track, and names both', async () => {
    const clip = media('pydub__creative_common.mp4');
    const v = frames(
      await (
        await post(
          emu.url,
          CHAT,
          chatRequest({}, [
            { type: 'video_url', video_url: { url: dataUrl(clip) } },
            { type: 'text', text: 'hi' },
          ]),
        )
      ).text(),
    );
    const usage = json(v.at(-2)!).usage;
    // 2.27 s at 2 fps -> 5 frames, rounded up to an even 6; 640x480 = 20x15 patches: 3 x 300 + 2.
    // Its audio track: ceil(2.27 x 12.5) = 29.
    expect(usage.prompt_tokens_details).toEqual({ video_tokens: 902, audio_tokens: 29, text_tokens: 1 });
    const text = v
      .slice(0, -2)
      .map(json)
      .map((c) => c.choices[0]?.delta?.content ?? '')
      .join('');
    expect(text).toMatch(new RegExp(`^Video clip, 2\\.27 s, 640x480, audio 2 channels, 48000 Hz \\[${shortHash(clip)}\\]`));
  });

  it('bills an image per patch, and an image-list video per frame pair', async () => {
    const img = frames(
      await (
        await post(emu.url, CHAT, chatRequest({}, [{ type: 'image_url', image_url: { url: `data:image/png;base64,${readFileSync(png).toString('base64')}` } }]))
      ).text(),
    );
    expect(json(img.at(-2)!).usage.prompt_tokens_details).toEqual({ image_tokens: 102 });
    const list = Array.from({ length: 4 }, () => pathToFileURL(png).href);
    const vid = frames(await (await post(emu.url, CHAT, chatRequest({}, [{ type: 'video', video: list }]))).text());
    // 4 frames -> 2 pairs x 10x10 patches + 2
    expect(json(vid.at(-2)!).usage.prompt_tokens_details).toEqual({ video_tokens: 202 });
    const tooFew = await post(emu.url, CHAT, chatRequest({}, [{ type: 'video', video: [pathToFileURL(png).href] }]));
    expect(tooFew.status).toBe(400);
  });

  it('decodes a WebM whose container states no duration', async () => {
    const events = frames(await (await post(emu.url, NATIVE, nativeRequest(dataUrl(media('mm__no-duration.webm'))))).text()).map(json);
    const seconds = Number(/^Audio clip, ([\d.]+) s/.exec(nativeText(events))![1]);
    expect(seconds).toBeGreaterThan(1);
    const tokens = events.at(-1).usage.input_tokens;
    expect(tokens).toBeGreaterThanOrEqual(Math.ceil((seconds - 0.005) * 12.5));
    expect(tokens).toBeLessThanOrEqual(Math.ceil((seconds + 0.005) * 12.5));
  });
});

describe('the measurement cache', () => {
  it('probes the same content once, whichever way it arrives', async () => {
    const m = new MediaMeasurer({ base64MaxChars: 10 * 1024 * 1024, urlMaxBytes: 1024 * 1024 * 1024 });
    const a = await m.measure({ kind: 'audio', urls: [dataUrl(JFK)] });
    const b = await m.measure({ kind: 'audio', urls: [dataUrl(JFK)] });
    const c = await m.measure({ kind: 'audio', urls: [pathToFileURL(JFK).href] });
    expect(isApiError(a)).toBe(false);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(m.probes).toBe(1);
    await m.measure({ kind: 'audio', urls: [dataUrl(media('mm__sample.amr'))] });
    expect(m.probes).toBe(2);
    await m.close();
  });

  it('listens for the pilot tone only when asked (a moderation request), once per content', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-marker-'));
    const m = new MediaMeasurer({ base64MaxChars: 10 * 1024 * 1024, urlMaxBytes: 1024 * 1024 * 1024 });
    try {
      const { file } = await writeVerdictSteering(dir);
      const part = { kind: 'audio' as const, urls: [dataUrl(file)] };
      const plain = await m.measure(part);
      expect(isApiError(plain) ? plain : plain.marker).toBeUndefined();
      const heard = await m.measure(part, undefined, true);
      expect(isApiError(heard) ? heard : heard.marker).toBe('verdictSteering');
      // the facts were cached by the first measure; the tone by the second
      expect(m.probes).toBe(1);
      expect(await m.measure(part, undefined, true)).toEqual(heard);
      const unmarked = await m.measure({ kind: 'audio', urls: [dataUrl(JFK)] }, undefined, true);
      expect(isApiError(unmarked) ? unmarked : unmarked.marker).toBeUndefined();
    } finally {
      await m.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
