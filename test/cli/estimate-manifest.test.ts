import { link, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPrefix, offlineEnv, runCli, silentMp3 } from '../helpers/cli.ts';
import { liveWebm } from '../media/generate.ts';

describe('estimate --manifest', () => {
  let tmp: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env, timeoutMs: 120_000 });
  const json = async (...args: string[]) => {
    const r = await cli(...args, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-estimate-manifest-'));
    env = offlineEnv('estman', tmp);
    for (const d of ['in', 'subset']) await mkdir(path.join(tmp, d), { recursive: true });
    for (const s of [600, 300]) await silentMp3(path.join(tmp, `${s}.mp3`), s);
    for (let i = 0; i < 6; i++) await link(path.join(tmp, i % 2 ? '300.mp3' : '600.mp3'), path.join(tmp, 'in', `tape-${i}.mp3`));
    // The manifest names tape-0 (600 s) and tape-3 (300 s), once as a path and once as a JSON line with a file:// URI.
    await writeFile(path.join(tmp, 'manifest.jsonl'), `${path.join(tmp, 'in', 'tape-0.mp3')}\n{"uri": "file://${path.join(tmp, 'in', 'tape-3.mp3')}"}\n`);
    // The same two files on their own: what the manifest's estimate must equal.
    await link(path.join(tmp, '600.mp3'), path.join(tmp, 'subset', 'tape-0.mp3'));
    await link(path.join(tmp, '300.mp3'), path.join(tmp, 'subset', 'tape-3.mp3'));
  }, 120_000);
  afterAll(async () => {
    await dropPrefix(env.OMNIBATCH_PREFIX);
    await rm(tmp, { recursive: true, force: true });
  });

  it("counts, prices and times only the manifest's objects", async () => {
    const flags = ['--task', 'caption', '--rpm', '60', '--tpm', '1000000'];
    // independent estimates: in parallel
    const [all, subset, listed] = await Promise.all([
      json('estimate', path.join(tmp, 'in'), ...flags),
      json('estimate', path.join(tmp, 'subset'), ...flags),
      json('estimate', path.join(tmp, 'in'), ...flags, '--manifest', path.join(tmp, 'manifest.jsonl')),
    ]);
    expect(all.files).toBe(6);
    expect(listed.files).toBe(2);
    expect(listed.manifest).toBe(path.join(tmp, 'manifest.jsonl'));
    expect(listed.media_seconds).toBeCloseTo(900, 0);
    expect(listed.media_seconds).toBeLessThan(all.media_seconds / 2);
    for (const k of ['files', 'media_seconds', 'requests', 'input_tokens', 'output_tokens', 'cost', 'wall_seconds', 'wall_binding', 'failures']) {
      expect({ [k]: listed[k] }).toEqual({ [k]: subset[k] });
    }
    expect(listed.cost.expected.amount_micros).toBeGreaterThan(0);
  }, 120_000);

  it('a manifest entry that is not in the source fails as the run would fail it; one outside the source is refused', async () => {
    await writeFile(path.join(tmp, 'gone.csv'), `uri\n${path.join(tmp, 'in', 'tape-1.mp3')}\n${path.join(tmp, 'in', 'missing.mp3')}\n`);
    await writeFile(path.join(tmp, 'outside.csv'), `${path.join(tmp, '600.mp3')}\n`);
    // three independent estimates: in parallel
    const [r, out, none] = await Promise.all([
      json('estimate', path.join(tmp, 'in'), '--task', 'caption', '--manifest', path.join(tmp, 'gone.csv')),
      cli('estimate', path.join(tmp, 'in'), '--task', 'caption', '--manifest', path.join(tmp, 'outside.csv')),
      cli('estimate', path.join(tmp, 'in'), '--task', 'caption', '--manifest', path.join(tmp, 'no-such.csv')),
    ]);
    expect(r.files).toBe(1);
    expect(r.failures).toEqual([expect.objectContaining({ uri: expect.stringMatching(/missing\.mp3$/), code: 'storage_not_found' })]);

    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/manifest_outside_source/);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/source_unreadable: cannot read .*no-such\.csv/);
  }, 120_000);

  it('--deadline plans over the manifest: a deadline the whole folder misses, its two files make (estimate and run)', async () => {
    // TPM binds: the audio tokens are the same at any chunk length, so the six files need about three times as
    // long as the two. A deadline between the two wall times separates them.
    // the caption's own 30 s asked for: at this quota `--tpm` alone would pack them shorter (cost/packing.ts)
    const flags = ['--task', 'caption', '--tpm', '2000', '--infer-concurrency', '1000', '--chunk-seconds', '30'];
    const [all, subset] = await Promise.all([json('estimate', path.join(tmp, 'in'), ...flags), json('estimate', path.join(tmp, 'subset'), ...flags)]);
    expect(all.wall_binding).toBe('tpm');
    expect(all.wall_seconds).toBeGreaterThan(2 * subset.wall_seconds);
    const minutes = Math.ceil((subset.wall_seconds * 1.5) / 60);
    expect(minutes * 60).toBeLessThan(all.wall_seconds * 0.8);
    const deadline = `${minutes}m`;

    // run --deadline (planDeadline) first: refused over the folder, created over the manifest.
    const out = path.join(tmp, 'out');
    const refused = await cli('run', path.join(tmp, 'in'), '--out', out, ...flags, '--deadline', deadline);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/deadline_unreachable/);
    const made = await cli(
      'run',
      path.join(tmp, 'in'),
      '--out',
      out,
      ...flags,
      '--manifest',
      path.join(tmp, 'manifest.jsonl'),
      '--deadline',
      deadline,
      '--json',
    );
    expect(made.stderr).toMatch(/deadline .*: 30-s chunks/);
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout).run_id).toMatch(/^\d{8}T\d{6}Z-/);

    const [whole, planned] = await Promise.all([
      cli('estimate', path.join(tmp, 'in'), ...flags, '--deadline', deadline),
      json('estimate', path.join(tmp, 'in'), ...flags, '--manifest', path.join(tmp, 'manifest.jsonl'), '--deadline', deadline),
    ]);
    expect(whole.code).not.toBe(0);
    expect(whole.stderr).toMatch(/deadline_unreachable/);
    expect(planned.files).toBe(2);
    expect(planned.deadline.chunk_seconds).toBe(30);
    expect(planned.wall_seconds).toBeLessThanOrEqual(minutes * 60);
  }, 180_000);
});

describe('estimate --probe-mb', () => {
  it('bounds what is read of each object: above it, the header is priced (none: an upper bound from the size)', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-estimate-probe-'));
    const env = offlineEnv('estprobe', tmp);
    try {
      const file = path.join(tmp, 'live', 'stream.webm');
      await mkdir(path.dirname(file));
      // a live WebM (no duration in its header) of 1.3 MB: whole at the default bound, head and tail at 1 MiB
      await liveWebm(file, { seconds: 40, rate: 48_000, bitrate: '256k' });
      const size = (await stat(file)).size;
      expect(size).toBeGreaterThan(1024 * 1024);
      const flags = ['estimate', path.dirname(file), '--task', 'caption', '--json'];
      const [whole, flag, setting] = await Promise.all([
        runCli(flags, { env, timeoutMs: 120_000 }),
        runCli([...flags, '--probe-mb', '1'], { env, timeoutMs: 120_000 }),
        runCli(flags, { env: { ...env, OMNIBATCH_ESTIMATE_PROBE_MB: '1' }, timeoutMs: 120_000 }),
      ]);
      for (const r of [whole, flag, setting]) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const w = JSON.parse(whole.stdout);
      expect(w.bounded).toEqual([]);
      expect(w.media_seconds).toBeCloseTo(40, 0);
      for (const r of [flag, setting]) {
        const p = JSON.parse(r.stdout);
        expect(p.bounded).toEqual([{ uri: expect.stringMatching(/stream\.webm$/), durationS: (size * 8) / 4000 }]);
        expect(p.media_seconds).toBeGreaterThan(w.media_seconds);
      }
    } finally {
      await dropPrefix(env.OMNIBATCH_PREFIX);
      await rm(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});
