// Forced and rate-drawn faults, read from the raw SSE bytes, and the limits (RPM, concurrency).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { media } from '../helpers/paths.ts';
import { CHAT, chatRequest, dataUrl, drain, frames, json, NATIVE, nativeRequest, post, RESPONSES, readUntil, responsesRequest } from './helpers.ts';

let emu: Emulator;
let jfk: string;
beforeAll(async () => {
  emu = await startEmulator();
  jfk = dataUrl(media('whisper__jfk.flac'));
});
afterAll(async () => {
  await emu.close();
});

const fault = (kind: string) => ({ 'x-emulator-fault': kind });

describe('forced pre-stream faults', () => {
  const cases: [string, number, string, string][] = [
    ['server_error', 500, 'internal_error', 'InternalError'],
    ['unavailable', 503, 'model_unavailable', 'ModelUnavailable'],
    ['rate_limit', 429, 'limit_requests', 'Throttling.RateQuota'],
    ['rate_limit_retry_after', 429, 'limit_requests', 'Throttling.RateQuota'],
    ['quota', 429, 'insufficient_quota', 'Throttling.AllocationQuota'],
    ['auth', 401, 'invalid_api_key', 'InvalidApiKey'],
    ['arrears', 400, 'Arrearage', 'Arrearage'],
    ['bad_request', 400, 'invalid_parameter_error', 'InvalidParameter'],
    ['too_large', 413, 'BadRequest.TooLarge', 'BadRequest.TooLarge'],
    ['model_not_found', 404, 'model_not_found', 'ModelNotFound'],
    ['inspect_input', 400, 'data_inspection_failed', 'DataInspectionFailed'],
  ];
  it.each(cases)('%s -> %i', async (kind, status, compatCode, nativeCode) => {
    const c = await post(emu.url, CHAT, chatRequest(), fault(kind));
    expect(c.status).toBe(status);
    expect(((await c.json()) as any).error.code).toBe(compatCode);
    expect(c.headers.get('retry-after')).toBe(kind === 'rate_limit_retry_after' ? '2' : null);
    const n = await post(emu.url, NATIVE, nativeRequest(jfk), fault(kind));
    expect(n.status).toBe(status);
    expect(((await n.json()) as any).code).toBe(nativeCode);
  });

  it('refuses an unknown fault kind', async () => {
    const r = await post(emu.url, CHAT, chatRequest(), fault('meteor'));
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).error.message).toMatch(/meteor/);
  });
});

describe('forced in-stream faults', () => {
  it('cut: 200 and some deltas, then the body ends without usage or [DONE]', async () => {
    const r = await post(emu.url, CHAT, chatRequest(), fault('cut'));
    expect(r.status).toBe(200);
    const f = frames(await r.text());
    expect(f.filter((x) => x.data !== '[DONE]' && json(x).choices[0]?.delta?.content).length).toBeGreaterThan(0);
    expect(f.some((x) => x.data === '[DONE]')).toBe(false);
    expect(f.some((x) => x.data !== '[DONE]' && json(x).usage)).toBe(false);
    expect(f.some((x) => json(x).choices[0]?.finish_reason === 'stop')).toBe(false);

    const resp = frames(await (await post(emu.url, RESPONSES, responsesRequest(), fault('cut'))).text());
    expect(resp.some((x) => x.event === 'response.output_text.delta')).toBe(true);
    expect(resp.some((x) => x.event === 'response.completed' || x.data === '[DONE]')).toBe(false);

    const nat = frames(await (await post(emu.url, NATIVE, nativeRequest(jfk), fault('cut'))).text());
    expect(nat.length).toBeGreaterThan(0);
    expect(nat.every((x) => json(x).output.choices[0].finish_reason === 'null')).toBe(true);
  });

  it('inspect_output: deltas, then an in-stream data_inspection_failed error (compat, native, responses)', async () => {
    const c = frames(await (await post(emu.url, CHAT, chatRequest(), fault('inspect_output'))).text());
    expect(c.at(-1)!.data).toBe('[DONE]');
    const err = json(c.at(-2)!);
    expect(err).toEqual({
      error: { code: 'data_inspection_failed', param: null, message: 'Output data may contain inappropriate content.', type: 'data_inspection_failed' },
      id: json(c[0]).id,
    });
    expect(c.slice(0, -2).some((x) => json(x).choices[0]?.delta?.content)).toBe(true);

    const n = await (await post(emu.url, NATIVE, nativeRequest(jfk), fault('inspect_output'))).text();
    const last = frames(n).at(-1)!;
    expect(last.event).toBe('error');
    expect(last.comments).toEqual(['HTTP_STATUS/400']);
    expect(json(last)).toEqual({ request_id: expect.any(String), code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' });

    const resp = frames(await (await post(emu.url, RESPONSES, responsesRequest(), fault('inspect_output'))).text());
    expect(resp.at(-1)!.event).toBe('error');
    expect(json(resp.at(-1)!)).toMatchObject({ type: 'error', code: 'data_inspection_failed' });
  });

  it('stream_rate_limit: 200, then event:error with :HTTP_STATUS/429 Throttling.AllocationQuota', async () => {
    const n = await post(emu.url, NATIVE, nativeRequest(jfk), fault('stream_rate_limit'));
    expect(n.status).toBe(200);
    const body = await n.text();
    expect(body).toMatch(
      /id:\d+\nevent:error\n:HTTP_STATUS\/429\ndata:\{"request_id":"[^"]+","code":"Throttling\.AllocationQuota","message":"Allocated quota exceeded, please increase your quota limit\."\}\n\n$/,
    );
    const c = frames(await (await post(emu.url, CHAT, chatRequest(), fault('stream_rate_limit'))).text());
    expect(json(c.at(-2)!).error.code).toBe('insufficient_quota');
  });

  it('stall: a few deltas, then silence until the client gives up', async () => {
    const ac = new AbortController();
    const r = await post(emu.url, CHAT, chatRequest(), fault('stall'), ac.signal);
    expect(r.status).toBe(200);
    const { text } = await readUntil(r, (t) => frames(t).some((f) => f.data !== '[DONE]' && json(f).choices[0]?.delta?.content));
    expect(text).not.toMatch(/\[DONE\]/);
    expect(emu.stats().inFlight).toBe(1);
    ac.abort();
    // The server notices the client left: its in-flight count goes back to zero.
    await expect.poll(() => emu.stats().inFlight, { timeout: 5000 }).toBe(0);
  });

  it('counts faults by kind and bills none of them', () => {
    const s = emu.stats();
    expect(s.faults).toMatchObject({ server_error: 2, cut: 3, inspect_output: 3, stream_rate_limit: 2, stall: 1, rate_limit_retry_after: 2 });
    expect(s.completed).toBe(0);
    expect(s.billed).toEqual({});
  });
});

describe('stall and close', () => {
  it('close() ends stalled streams promptly', async () => {
    const e = await startEmulator();
    const r = await post(e.url, NATIVE, nativeRequest(jfk), fault('stall'));
    const { text, reader } = await readUntil(r, (t) => t.includes('event:result'));
    await e.close();
    const rest = await drain(reader);
    expect(text + rest.text).not.toMatch(/"finish_reason":"stop"/);
  });
});

describe('rate-drawn faults and limits', () => {
  async function statuses(e: Emulator, n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = await post(e.url, CHAT, chatRequest());
      await r.text();
      out.push(r.status);
    }
    return out;
  }

  it('draws the same faults from the same seed', async () => {
    const [a, b] = await Promise.all([startEmulator({ fail5xx: 0.3, fail429: 0.2, seed: 11 }), startEmulator({ fail5xx: 0.3, fail429: 0.2, seed: 11 })]);
    const sa = await statuses(a, 30);
    expect(await statuses(b, 30)).toEqual(sa);
    expect(sa.filter((s) => s >= 500).length).toBeGreaterThan(2);
    expect(sa.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(sa.filter((s) => s === 200).length).toBe(a.stats().completed);
    await Promise.all([a.close(), b.close()]);
  });

  it('cut at rate 1 cuts every stream; 429s carry Retry-After when set', async () => {
    const e = await startEmulator({ cut: 1, fail429: 0.5, retryAfterS: 7, seed: 3 });
    let cut = 0;
    for (let i = 0; i < 10; i++) {
      const r = await post(e.url, CHAT, chatRequest());
      if (r.status === 429) {
        expect(r.headers.get('retry-after')).toBe('7');
        await r.text();
        continue;
      }
      expect(await r.text()).not.toMatch(/\[DONE\]/);
      cut++;
    }
    expect(cut).toBe(e.stats().faults.cut);
    expect(e.stats().completed).toBe(0);
    await e.close();
  });

  it('RPM: past the limit 429 Throttling.RateQuota, not billed', async () => {
    const e = await startEmulator({ rpm: 3, retryAfterS: 5 });
    expect(await statuses(e, 5)).toEqual([200, 200, 200, 429, 429]);
    const r = await post(e.url, NATIVE, nativeRequest(jfk));
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('5');
    expect(await r.json()).toMatchObject({ code: 'Throttling.RateQuota', message: 'Requests rate limit exceeded, please try again later.' });
    const s = e.stats();
    expect(s).toMatchObject({ requests: 6, completed: 3, byStatus: { 200: 3, 429: 3 } });
    expect(await (await fetch(`${e.url}/stats`)).json()).toEqual(s);
    expect((await fetch(`${e.url}/stats/reset`, { method: 'POST' })).status).toBe(200);
    expect(e.stats().requests).toBe(0);
    expect(await statuses(e, 1)).toEqual([200]); // reset also clears the window
    await e.close();
  });

  it('latency and time to first byte change the pace, never the content', async () => {
    const slow = await startEmulator({ latencyMs: 120, ttfbMs: 30 });
    const read = async (e: Emulator) =>
      frames(await (await post(e.url, CHAT, chatRequest())).text())
        .slice(0, -1)
        .map(json)
        .map((c) => c.choices[0]?.delta?.content ?? '')
        .join('');
    expect(await read(slow)).toBe(await read(emu));
    expect(slow.stats().completed).toBe(1);
    await slow.close();
  });

  it('max concurrency: a request beyond it gets 429 Throttling (burst)', async () => {
    const e = await startEmulator({ maxConcurrency: 1 });
    const ac = new AbortController();
    const held = await post(e.url, CHAT, chatRequest(), fault('stall'), ac.signal);
    await readUntil(held, (t) => t.includes('content'));
    const r = await post(e.url, NATIVE, nativeRequest(jfk));
    expect(r.status).toBe(429);
    expect(await r.json()).toMatchObject({ code: 'Throttling', message: 'Request rate increased too quickly' });
    ac.abort();
    await expect.poll(() => e.stats().inFlight, { timeout: 5000 }).toBe(0);
    expect((await post(e.url, NATIVE, nativeRequest(jfk))).status).toBe(200);
    expect(e.stats().maxInFlight).toBe(1);
    await e.close();
  });
});
