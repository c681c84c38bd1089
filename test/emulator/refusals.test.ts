// Every refusal of the real service, with its status and envelope, over real HTTP.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { ffprobeJson, runFfmpeg } from '../../src/media/ffmpeg.ts';
import { media } from '../helpers/paths.ts';
import { CHAT, chatRequest, dataUrl, NATIVE, nativeRequest, post, RESPONSES, responsesRequest } from './helpers.ts';

const JFK = media('whisper__jfk.flac');
let emu: Emulator;
let dir: string;
let longAudio: string; // 181 s: over qwen-omni-turbo's 3 minutes
let longVideo: string; // 41 s: over qwen-omni-turbo's 40 s

beforeAll(async () => {
  emu = await startEmulator({ apiKey: 'sk-right' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'emu-refusals-'));
  longAudio = path.join(dir, 'long.mp3');
  longVideo = path.join(dir, 'long.mp4');
  await Promise.all([
    runFfmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', '181', '-b:a', '8k', '-y', longAudio]),
    runFfmpeg(['-f', 'lavfi', '-i', 'color=c=gray:s=64x64:r=1', '-t', '41', '-c:v', 'libx264', '-y', longVideo]),
  ]);
});
afterAll(async () => {
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

const AUTH = { authorization: 'Bearer sk-right' };
const audioPart = (file: string) => ({ type: 'input_audio', input_audio: { data: dataUrl(file), format: 'mp3' } });

async function compatError(res: Response, status: number, code: string): Promise<any> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await res.json()) as any;
  expect(body).toEqual({ error: { message: expect.any(String), type: expect.any(String), param: null, code }, request_id: expect.any(String) });
  return body.error;
}
async function nativeError(res: Response, status: number, code: string): Promise<any> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as any;
  expect(body).toEqual({ code, message: expect.any(String), request_id: expect.any(String) });
  return body;
}

describe('refusals', () => {
  it('a wrong or missing key: 401 in both envelopes; Bearer and the raw key both pass', async () => {
    const e = await compatError(await post(emu.url, CHAT, chatRequest(), { authorization: 'Bearer sk-wrong' }), 401, 'invalid_api_key');
    expect(e.message).toMatch(/^Incorrect API key provided/);
    expect(e.type).toBe('invalid_request_error');
    await compatError(await post(emu.url, CHAT, chatRequest()), 401, 'invalid_api_key');
    expect((await nativeError(await post(emu.url, NATIVE, nativeRequest(dataUrl(JFK)), { authorization: 'sk-wrong' }), 401, 'InvalidApiKey')).message).toBe(
      'Invalid API-key provided.',
    );
    expect((await post(emu.url, CHAT, chatRequest(), AUTH)).status).toBe(200);
    expect((await post(emu.url, RESPONSES, responsesRequest(), { authorization: 'sk-right' })).status).toBe(200);
  });

  it('an unknown model: 404 model_not_found / ModelNotFound', async () => {
    await compatError(await post(emu.url, CHAT, chatRequest({ model: 'qwen9-omni' }), AUTH), 404, 'model_not_found');
    expect((await nativeError(await post(emu.url, NATIVE, nativeRequest(dataUrl(JFK), { model: 'qwen9-omni' }), AUTH), 404, 'ModelNotFound')).message).toBe(
      'Model can not be found.',
    );
  });

  it('stream not true on a stream-only omni model: 400', async () => {
    const e = await compatError(await post(emu.url, CHAT, chatRequest({ stream: false }), AUTH), 400, 'invalid_parameter_error');
    expect(e.message).toMatch(/only support stream mode/);
    await compatError(await post(emu.url, RESPONSES, responsesRequest({ stream: undefined }), AUTH), 400, 'invalid_parameter_error');
  });

  it('two non-text modalities in one user message: 400 InvalidParameter', async () => {
    const content = [audioPart(JFK), { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }, { type: 'text', text: 'hi' }];
    const e = await compatError(await post(emu.url, CHAT, chatRequest({}, content), AUTH), 400, 'invalid_parameter_error');
    expect(e.message).toMatch(/one non-text modality/);
  });

  it("a base64 item over the captioner's own limit (003:396): 400 naming the limit", async () => {
    const content = [{ type: 'input_audio', input_audio: { data: `data:;base64,${'A'.repeat(10 * 1024 * 1024)}` } }];
    const e = await compatError(
      await post(emu.url, CHAT, chatRequest({ model: 'qwen3-omni-30b-a3b-captioner' }, content), AUTH),
      400,
      'invalid_parameter_error',
    );
    expect(e.message).toBe('The base64 data exceeds the limit of 10485760 characters.');
  });

  it('audio and video over the model duration limits: 400 naming the limit', async () => {
    const e = await compatError(
      await post(emu.url, CHAT, chatRequest({ model: 'qwen-omni-turbo' }, [audioPart(longAudio)]), AUTH),
      400,
      'invalid_parameter_error',
    );
    expect(e.message).toBe('The audio duration exceeds the limit of 180 seconds.');
    // The same clip is within qwen3-omni-flash's 20 minutes.
    expect((await post(emu.url, CHAT, chatRequest({}, [audioPart(longAudio)]), AUTH)).status).toBe(200);
    const video = [{ type: 'video_url', video_url: { url: dataUrl(longVideo) } }];
    const v = await compatError(await post(emu.url, CHAT, chatRequest({ model: 'qwen-omni-turbo' }, video), AUTH), 400, 'invalid_parameter_error');
    expect(v.message).toBe('The video duration exceeds the limit of 40 seconds.');
  });

  it('the captioner: text, or anything but audio, is refused', async () => {
    const cap = { model: 'qwen3-omni-30b-a3b-captioner' };
    const e = await compatError(
      await post(emu.url, CHAT, chatRequest(cap, [audioPart(JFK), { type: 'text', text: 'describe' }]), AUTH),
      400,
      'invalid_parameter_error',
    );
    expect(e.message).toMatch(/does not accept text/);
    await compatError(
      await post(emu.url, CHAT, chatRequest(cap, [{ type: 'video_url', video_url: { url: dataUrl(longVideo) } }]), AUTH),
      400,
      'invalid_parameter_error',
    );
    const native = { model: 'qwen3-omni-30b-a3b-captioner', input: { messages: [{ role: 'user', content: [{ audio: dataUrl(JFK) }, { text: 'describe' }] }] } };
    await nativeError(await post(emu.url, NATIVE, native, AUTH), 400, 'InvalidParameter');
  });

  it('audio output in thinking mode: 400', async () => {
    const body = chatRequest({ enable_thinking: true, modalities: ['text', 'audio'], audio: { voice: 'Cherry', format: 'wav' } });
    expect((await compatError(await post(emu.url, CHAT, body, AUTH), 400, 'invalid_parameter_error')).message).toMatch(/thinking mode/);
  });

  it('input tokens over the model maximum: 400', async () => {
    const e = await compatError(await post(emu.url, CHAT, chatRequest({}, 'word '.repeat(40_000)), AUTH), 400, 'invalid_parameter_error');
    expect(e.message).toBe('<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 49152]');
  });

  it('URLs off loopback are refused without being fetched; undecodable media is refused', async () => {
    const remote = [{ type: 'input_audio', input_audio: { data: 'https://example.com/a.wav' } }];
    expect((await compatError(await post(emu.url, CHAT, chatRequest({}, remote), AUTH), 400, 'invalid_parameter_error')).message).toMatch(
      /only fetches loopback/,
    );
    expect(
      (await nativeError(await post(emu.url, NATIVE, nativeRequest('https://example.com/a.wav'), AUTH), 400, 'BadRequest.InputDownloadFailed')).message,
    ).toMatch(/example\.com/);
    await nativeError(await post(emu.url, NATIVE, nativeRequest(dataUrl(media('fp__invalid.flac'))), AUTH), 400, 'InvalidParameter');
    expect(
      (await nativeError(await post(emu.url, NATIVE, nativeRequest(dataUrl(media('pydub__test1_empty.wav'))), AUTH), 400, 'InvalidParameter')).message,
    ).toMatch(/empty/);
  });

  it('a body over the gateway limit: 413 BadRequest.TooLarge', async () => {
    const huge = chatRequest({}, 'x'.repeat(65 * 1024 * 1024));
    await nativeError(await post(emu.url, NATIVE, huge, AUTH), 413, 'BadRequest.TooLarge');
  });

  it('counts refusals by status and bills none of them', async () => {
    const s = emu.stats();
    expect(s.byStatus['401']).toBe(3);
    expect(s.byStatus['404']).toBe(2);
    expect(s.byStatus['413']).toBe(1);
    expect(s.byStatus['200']).toBe(3);
    expect(s.completed).toBe(3);
    expect(s.requests).toBe(Object.values(s.byStatus).reduce((a, b) => a + b, 0));
    // Only the three accepted requests were billed: two text prompts and the 181 s clip.
    const seconds = Number(((await ffprobeJson(longAudio)).format as { duration: string }).duration);
    expect(seconds).toBeGreaterThan(181);
    expect(s.billed['qwen3-omni-flash'].input.audio).toBe(Math.ceil(seconds * 12.5));
    expect(s.billed['qwen-omni-turbo']).toBeUndefined();
    expect(s.inFlight).toBe(0);
  });
});
