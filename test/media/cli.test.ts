/** `omnibatch probe | plan | chunk` through the real binary: output shapes and the one-line coded errors. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { media } from '../helpers/paths.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibatch-cli-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const omnibatch = (...args: string[]) => runCli(args, { cwd: dir, env: { LOG_LEVEL: 'warn', OMNIBATCH_TMP: path.join(dir, 'tmp') } });

describe('media commands', () => {
  it('probe --json prints the measured MediaInfo of a truncated file', async () => {
    const r = await omnibatch('probe', media('filetype__fixture2.mkv'), '--json');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.durationS).toBeCloseTo(1.7, 1);
    expect(info).toMatchObject({ durationSource: 'measured', container: 'matroska,webm' });
  });

  it('a coded error is one line on stderr and exit code 1', async () => {
    // three independent processes: in parallel
    const [r, noAudio, impossible] = await Promise.all([
      omnibatch('probe', media('mm__corrupt.mkv')),
      omnibatch('plan', media("fluentff__te[s]t_ video ' _ .flv"), '--task', 'caption'),
      omnibatch('plan', media('funasr__0.wav'), '--task', 'caption', '--chunk-seconds', '0'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^omnibatch: media_unreadable: /)]);
    expect(noAudio.stderr.trim()).toMatch(/^omnibatch: media_no_audio: [^\n]+$/);
    expect(impossible.stderr.trim()).toMatch(/^omnibatch: plan_impossible: [^\n]+$/);
  });

  it('plan --json honours --model, --chunk-seconds, --overlap-seconds and --input-mode', async () => {
    const r = await omnibatch(
      'plan',
      media('funasr__0.wav'),
      '--task',
      'transcribe',
      '--model',
      'qwen-omni-turbo',
      '--chunk-seconds',
      '20',
      '--overlap-seconds',
      '1',
      '--input-mode',
      'url',
      '--json',
    );
    expect(r.code).toBe(0);
    const { plan, info } = JSON.parse(r.stdout);
    expect(info.durationS).toBeCloseTo(70.47, 1);
    expect(plan.targetS).toBe(20);
    expect(plan.overlapS).toBe(1);
    expect(plan.limits.maxBytes).toBe(10 * 1024 * 1024); // turbo's audio file limit: URL mode has no base64 ceiling
    expect(plan.chunks.length).toBeGreaterThanOrEqual(3);
    expect(plan.chunks[1].overlapS).toBe(1);
  });

  it('chunk writes the chunk files and chunks.json into --out-dir', async () => {
    const out = path.join(dir, "out [1] 'x'");
    const r = await omnibatch('chunk', media('chatterbox__linda_johnson_02.mp3'), '--task', 'caption', '--out-dir', out);
    expect(r.code).toBe(0);
    const listing = JSON.parse(readFileSync(path.join(out, 'chunks.json'), 'utf8'));
    expect(listing).toMatchObject({ task: 'caption', model: 'qwen3-omni-30b-a3b-captioner' });
    expect(listing.chunks.length).toBe(3);
    expect(readdirSync(out).sort()).toEqual([...listing.chunks.map((c: { file: string }) => c.file), 'chunks.json'].sort());
    const total = listing.chunks.reduce((a: number, c: { durationS: number }) => a + c.durationS, 0);
    expect(Math.abs(total - 71.7)).toBeLessThan(0.2);
    expect(readdirSync(path.join(dir, 'tmp'))).toEqual([]);
  });
});
