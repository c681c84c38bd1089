/**
 * A 20-minute spoken answer (57.6 MB of PCM, ~77 MB of base64 on the wire) through the chat client stays
 * within a small bounded memory: audio is decoded delta by delta and written to disk as it arrives.
 * The emulator runs in its own process so only the client's memory is measured here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient } from '../../src/models/client.ts';
import type { ModelResult } from '../../src/models/types.ts';
import { parseWavHeader } from '../../src/models/wav.ts';

const KEY = 'test-key-memory';
const here = path.dirname(fileURLToPath(import.meta.url));
let child: ChildProcess;
let url: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'omni-memory-'));
  child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'emulator-child.ts'), KEY], { stdio: ['pipe', 'pipe', 'inherit'] });
  url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`emulator exited ${code}`)));
    child.stdout!.once('data', (d: Buffer) => resolve(String(d).trim()));
  });
});
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin!.end();
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

function collectGarbage(): void {
  // vitest's workers run without --expose-gc: enable it for this process and take the function
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
}

it('a 1200 s audio answer grows the heap + buffers and the RSS by under 64 MB; the WAV is 1200 s', async () => {
  const client = createClient({
    protocol: 'chat',
    baseUrl: `${url}/compatible-mode/v1`,
    apiKey: KEY,
    authStyle: 'bearer',
    connectTimeoutMs: 2000,
    firstByteTimeoutMs: 30_000,
    idleTimeoutMs: 30_000,
  });
  try {
    // warm-up (a 2-minute answer): code compiled, sockets, pools and the young generation sized, before the baseline
    await client.complete({
      model: 'qwen3-omni-flash',
      prompt: 'warm up',
      audioOut: { voice: 'Cherry', file: path.join(dir, 'warm.wav') },
      headers: { 'x-emulator-audio-seconds': '120' },
    });
    collectGarbage();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakOwned = base.heapUsed + base.arrayBuffers;
    let samples = 0;
    const sample = (): void => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakOwned = Math.max(peakOwned, m.heapUsed + m.arrayBuffers);
      samples++;
    };
    const timer = setInterval(sample, 5);
    const file = path.join(dir, 'long.wav');
    let result: ModelResult;
    try {
      result = await client.complete(
        {
          model: 'qwen3-omni-flash',
          prompt: 'Tell a very long story.',
          audioOut: { voice: 'Cherry', file },
          headers: { 'x-emulator-audio-seconds': '1200' },
        },
        { onText: sample },
      );
    } finally {
      clearInterval(timer);
    }
    sample();
    const MB = 1024 * 1024;
    const rssGrowth = (peakRss - base.rss) / MB;
    const ownedGrowth = (peakOwned - base.heapUsed - base.arrayBuffers) / MB;
    console.log(`20-min audio: rss +${rssGrowth.toFixed(1)} MB, heap+buffers +${ownedGrowth.toFixed(1)} MB, ${samples} samples`);
    expect(samples).toBeGreaterThan(3);
    expect(rssGrowth).toBeLessThan(64);
    expect(ownedGrowth).toBeLessThan(64);

    expect(result.audio).toEqual({ file, bytes: 1200 * 48_000, seconds: 1200 });
    expect(result.usage.output.audio).toBe(15_000);
    expect(statSync(file).size).toBe(44 + 1200 * 48_000);
    const head = Buffer.alloc(44);
    const fd = openSync(file, 'r');
    readSync(fd, head, 0, 44, 0);
    closeSync(fd);
    expect(parseWavHeader(head)).toMatchObject({ format: { sampleRate: 24_000, channels: 1, bitsPerSample: 16 }, dataOffset: 44 });
    expect(head.readUInt32LE(40)).toBe(1200 * 48_000);
  } finally {
    await client.close();
  }
});
