/**
 * Duration from decoding wherever money or limits depend on it (issue 22): files whose header lies are planned
 * and sent at what they decode to (or refused alone), the per-file limits hold on the decoded length, the
 * estimate follows the same rule, and `--deadline` plans the files it can plan.
 */
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDeadline } from '../../src/cli/run-options.ts';
import { loadConfig } from '../../src/config/index.ts';
import { DEFAULT_FILE_LIMITS } from '../../src/media/limits.ts';
import { walkMp3 } from '../../src/media/mp3-frames.ts';
import { taskPolicy } from '../../src/media/policy.ts';
import { prepareChunks } from '../../src/media/prepare.ts';
import { probeMedia } from '../../src/media/probe.ts';
import { sniffFile } from '../../src/media/sniff.ts';
import { findModel } from '../../src/models/catalog.ts';
import { openStorage } from '../../src/storage/index.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { HOSTILE_FILES } from '../helpers/archive-media.ts';
import { media } from '../helpers/paths.ts';

const model = findModel('qwen3-omni-flash')!;
const policy = taskPolicy('transcribe', model);
const byName = new Map(HOSTILE_FILES.map((f) => [f.name, f]));

describe('a header that lies is neither planned nor sent as it claims', () => {
  let dir: string;
  const files = new Map<string, string>();
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-decoded-'));
    for (const f of HOSTILE_FILES) {
      const out = path.join(dir, f.name);
      f.make(out, dir);
      files.set(f.name, out);
    }
  }, 120_000);
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  for (const f of HOSTILE_FILES.filter((x) => !x.refused)) {
    it(`${f.name}: claims ${f.claimS} s, decodes to ${f.seconds} s, and the chunks sent carry ${f.seconds} s`, async () => {
      const file = files.get(f.name)!;
      // The header read without ffprobe never vouches for it.
      expect(await sniffFile(file)).toBeUndefined();
      const info = await probeMedia(file);
      expect(info.durationSource).toBe('measured');
      expect(Math.abs(info.durationS - f.seconds)).toBeLessThanOrEqual(f.seconds * 0.05 + 0.1);
      const { chunks, plan } = await prepareChunks(file, model, policy, { outDir: path.join(dir, `${f.name}-out`), info, limits: DEFAULT_FILE_LIMITS });
      expect(plan.reason).not.toMatch(/as it is/);
      // What a reader of each chunk (the service) takes its length to be: our own mp3, its frames are its claim.
      let sent = 0;
      for (const c of chunks) sent += walkMp3(await readFile(c.file))!.seconds;
      expect(Math.abs(sent - f.seconds)).toBeLessThanOrEqual(f.seconds * 0.1 + 0.15 * chunks.length);
    }, 120_000);
  }

  it('a Matroska whose timestamps jump 20 h over 10 s of samples is refused alone as media_suspicious', async () => {
    const f = byName.get('timestamps-jump-20h.mkv')!;
    await expect(probeMedia(files.get(f.name)!)).rejects.toMatchObject({ code: 'media_suspicious', message: expect.stringMatching(/20\.00 h.*10\.0 s/) });
  });

  it('the per-file limits hold on the decoded length: 400 chained links decoding to 200 s pass no 100-s limit', async () => {
    const file = files.get('chained-400-links.opus')!;
    const info = await probeMedia(file);
    // The probe already knows (chained Ogg is decoded): the limit refuses before the encode...
    expect(info.durationS).toBeGreaterThan(190);
    // ...and the encode itself refuses what a claim hid from it, stopping at the limit.
    const lying = { ...info, durationS: 0.5, durationSource: 'header' as const };
    await expect(
      prepareChunks(file, model, policy, { outDir: path.join(dir, 'limited'), info: lying, limits: { ...DEFAULT_FILE_LIMITS, maxMediaSeconds: 100 } }),
    ).rejects.toMatchObject({ code: 'media_too_long' });
  }, 120_000);

  it('--deadline over the gap file and two normal files plans the two and names the third', async () => {
    const src = path.join(dir, 'deadline-src');
    await mkdir(src, { recursive: true });
    await cp(files.get('timestamps-jump-20h.mkv')!, path.join(src, 'gap.mkv'));
    await cp(media('speech-en-6s-16k.wav'), path.join(src, 'a.wav'));
    await cp(media('jfk-inaugural.flac'), path.join(src, 'b.flac'));
    const cfg = loadConfig({ env: { ...process.env, OMNI_API_KEY: 'sk-test' } });
    const planned = await planDeadline(
      { cfg, log: silentLogger, source: openStorage(src) },
      { source: src, destination: path.join(dir, 'deadline-out'), task: 'transcribe' },
      '5m',
    );
    expect(planned.plan.estimate.files).toBe(2);
    expect(planned.plan.estimate.mediaSeconds).toBeLessThan(20);
    expect(planned.failures).toEqual([expect.objectContaining({ code: 'media_suspicious', uri: expect.stringMatching(/gap\.mkv$/) })]);
  }, 120_000);
});
