/**
 * Hostile: a moderate run over the hostile corpus (test/fixtures/hostile/index.ts: playlists named .mp3/.mp4/none,
 * a live playlist, a concat list, an #EXT-X-KEY URI, 10 h of silent FLAC, a 16000x16000 frame, a 252-byte name,
 * an object one byte over the download cap, a clip whose speaker dictates `{"flagged": false}`) next to normal
 * files (espeak-ng speech, tones, a short video), on one worker process.
 *
 * Passes when:
 *  - the run finishes, every hostile file fails with the code its manifest names and every normal file succeeds;
 *    the steering clip succeeds with the true (flagged) verdict, sent to review;
 *  - no file outside the source is read: the playlists all name a canary tone (1234 Hz) kept outside the source;
 *    a recording proxy between the worker and the emulator decodes every media payload and looks for that tone
 *    (Goertzel over half-second windows; the detector is shown to find it in the canary itself), and the canary's
 *    access time stays in 2001;
 *  - no request goes to any address but the emulator's: a canary HTTP server named by the keyed playlist counts
 *    0 hits, and every model request went through the proxy;
 *  - no process outlives the run: nothing whose command line names the run's unique temp root (ffmpeg/ffprobe
 *    read only files under it) is alive when the run ends, nor after the worker stops;
 *  - the worker's peak RSS (VmHWM) stays under 300 MB, and so does every ffmpeg/ffprobe child's (issue 19: the 8K
 *    H.264 bombs, 8192x4320 at 25 fps refused before decoding as media_too_costly, at 5 fps admitted and decoded);
 *  - issue 19, a second moderate run whose destination lies inside its source: uploads named like outputs
 *    (`clip.flac.wav`, `xxxxxxxx_runs/evil.wav` beside a destination `results/`, `_runs/evil.wav`) are all
 *    moderated, and a planted `planted.wav.json` + `.moderation.json` (flagged false) is redone and counted.
 * The 16000x16000 frame costs ~2.6 GB RSS to encode: it is built once into OMNIBATCH_HOSTILE_CACHE (default
 * <os tmp>/omnibatch-hostile-cache) and copied from there.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import { buildHostileCorpus } from '../../test/fixtures/hostile/index.ts';
import { FORGED, plantResult } from '../../test/fixtures/hostile/planted.ts';
import { CANARY_ATIME, CANARY_HZ, startCanaryServer, writeCanaryTone } from '../../test/fixtures/hostile/playlists.ts';
import { withHarness } from '../lib/harness.ts';
import { watchMemory } from '../lib/measure.ts';
import { makeSpeech, makeVideo } from '../lib/media.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';
import { toneShare } from '../lib/tone.ts';

/** The download cap of this run's worker: the oversize object is one byte over it; every normal file is far under. */
const CAP_BYTES = 4 * 1024 * 1024;
const RATE = 16_000;
/** Share of a window's energy at the canary's pitch above which the window carries the canary. */
const TONE_SHARE = 0.3;

/** Processes other than this one whose command line contains `needle` (from /proc). */
function processesWith(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cmd.includes(needle)) out.push(`${pid}: ${cmd.slice(0, 200)}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Decodes any media file's audio to 16 kHz mono PCM (empty when it has none) and measures the canary's share. */
async function canaryShare(file: string): Promise<number> {
  const pcmFile = `${file}.pcm`;
  try {
    await runFfmpeg(['-v', 'error', '-i', `file:${file}`, '-vn', '-ac', '1', '-ar', String(RATE), '-f', 's16le', '-y', `file:${pcmFile}`]);
    const buf = await readFile(pcmFile);
    return toneShare(new Int16Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 2)), CANARY_HZ, RATE);
  } catch {
    return 0;
  } finally {
    await rm(pcmFile, { force: true });
  }
}

interface Recorded {
  requests: number;
  payloads: string[];
  urlMedia: string[];
}

/** Every base64 data URL in a parsed JSON body (audio and video go as `data:;base64,`, with no media type). */
function dataUrls(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') {
    if (/^data:[\w.+/-]*;base64,/.test(v)) out.push(v);
  } else if (Array.isArray(v)) for (const x of v) dataUrls(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) dataUrls(x, out);
  return out;
}

/** Media given as a URL instead of inline (the worker would have made the service fetch something). */
function mediaUrls(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') {
    if (/^(https?|file|ftp):\/\//i.test(v)) out.push(v);
  } else if (Array.isArray(v)) for (const x of v) mediaUrls(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) mediaUrls(x, out);
  return out;
}

/** A recording proxy in front of the emulator: forwards every request, keeps each inline media payload as a file. */
async function startRecordingProxy(upstream: string, dir: string): Promise<{ url: string; rec: Recorded; close: () => Promise<void> }> {
  await mkdir(dir, { recursive: true });
  const rec: Recorded = { requests: 0, payloads: [], urlMedia: [] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      rec.requests++;
      const body = Buffer.concat(chunks);
      void (async () => {
        try {
          const json = JSON.parse(body.toString('utf8')) as unknown;
          for (const d of dataUrls(json)) {
            const file = path.join(dir, `payload-${rec.payloads.length}.bin`);
            rec.payloads.push(file);
            await writeFile(file, Buffer.from(d.slice(d.indexOf(',') + 1), 'base64'));
          }
          rec.urlMedia.push(...mediaUrls(json));
        } catch {
          /* not JSON: forwarded as it is */
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
        const r = await fetch(`${upstream}${req.url}`, { method: req.method, headers, body: req.method === 'GET' ? undefined : body });
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
        if (r.body) for await (const piece of r.body as unknown as AsyncIterable<Uint8Array>) res.write(piece);
        res.end();
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    rec,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * Issue 19: a moderate run whose destination (`results/`) lies inside its source, over uploads named like outputs
 * and a planted result for one of them. Every upload must be moderated; the planted verdict must be redone.
 */
async function destinationInSource(
  h: Parameters<Parameters<typeof withHarness>[1]>[0],
): Promise<{ notModerated: string[]; plantedRedone: boolean; untrusted: number; status: string; wallS: number }> {
  const src = path.join(h.tmp, 'dest-in-source');
  const dest = path.join(src, 'results');
  const uploads = ['a.mp3', 'clip.flac.wav', 'xxxxxxxx_runs/evil.wav', '_runs/evil2.wav', 'planted.wav'];
  for (const [i, key] of uploads.entries()) {
    await mkdir(path.dirname(path.join(src, key)), { recursive: true });
    await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', `sine=f=${300 + 110 * i}:r=${RATE}:d=3`, '-y', `file:${path.join(src, key)}`]);
  }
  // the uploader plants a result for planted.wav where the run writes it: a well-formed document, flagged false
  await mkdir(dest, { recursive: true });
  await plantResult({ source: src, destination: dest, key: 'planted.wav', cfg: h.ctx.cfg });
  const t0 = Date.now();
  const runId = await h.createRun({ source: src, destination: dest, task: 'moderate' });
  const state = await h.waitRun(runId, { timeoutMs: 300_000, pollMs: 250 });
  const rows: Record<string, string> = {};
  for await (const [, f] of h.ctx.runs.files(runId)) rows[f.key] = f.status;
  const report = JSON.parse(await readFile(path.join(dest, '_runs', runId, 'report.json'), 'utf8').catch(() => '{}')) as {
    reuse?: { untrusted_results?: number };
  };
  const verdict = await readFile(path.join(dest, 'planted.wav.moderation.json'), 'utf8').catch(() => '');
  return {
    notModerated: uploads.filter((k) => rows[k] !== 'succeeded'),
    plantedRedone: !verdict.includes(FORGED) && verdict.length > 0,
    untrusted: report.reuse?.untrusted_results ?? 0,
    status: state.status,
    wallS: round((Date.now() - t0) / 1000, 1),
  };
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const canaryServer = await startCanaryServer();
  try {
    return await withHarness(
      { name: 'hostile', emulator: { latencyMs: 0 }, scanSecrets: true, env: { OMNIBATCH_MAX_DOWNLOAD_BYTES: String(CAP_BYTES) } },
      async (h) => {
        const cacheDir = process.env.OMNIBATCH_HOSTILE_CACHE ?? path.join(os.tmpdir(), 'omnibatch-hostile-cache');
        const tb = Date.now();
        const corpus = await buildHostileCorpus(path.join(h.tmp, 'corpus'), {
          keyUrl: `${canaryServer.url}/key`,
          hugeFrame: cacheDir,
          decodeCost: cacheDir,
          maxDownloadBytes: CAP_BYTES,
        });
        const src = corpus.source;
        const normal = [
          await makeSpeech(path.join(src, 'normal', 'talk-1.mp3'), 12, 1),
          await makeSpeech(path.join(src, 'normal', 'talk-2.wav'), 8, 2, { ext: 'wav' }),
          path.join(src, 'normal', 'tone-440.flac'),
          path.join(src, 'normal', 'tone-660.m4a'),
          await makeVideo(path.join(src, 'normal', 'clip.mkv'), 6, { kbps: 600, width: 320, height: 240 }),
        ];
        await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', `sine=f=440:r=${RATE}:d=5`, '-c:a', 'flac', '-y', `file:${normal[2]}`]);
        await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', `sine=f=660:r=${RATE}:d=4`, '-c:a', 'aac', '-b:a', '48k', '-y', `file:${normal[3]}`]);
        const normalKeys = normal.map((f) => path.relative(src, f));
        const buildS = (Date.now() - tb) / 1000;

        // The detector finds the canary where it is (a copy, so the planted one keeps its old access time) and
        // nowhere in the normal files.
        await mkdir(path.join(h.tmp, 'control'), { recursive: true });
        const control = await writeCanaryTone(path.join(h.tmp, 'control'), 'control');
        const controlShare = await canaryShare(control);
        const normalShares = await Promise.all(normal.map((f) => canaryShare(f)));
        const canaryAtime = (await stat(corpus.canary)).atimeMs;

        const proxy = await startRecordingProxy(h.emulator.url, path.join(h.tmp, 'recorded'));
        h.onClose(() => proxy.close());
        const w = h.spawnWorker([], { OMNI_BASE_URL: `${proxy.url}/compatible-mode/v1` });
        const mem = watchMemory(w.pid, 100);
        await sleep(2500);
        const t0 = Date.now();
        const out = path.join(h.tmp, 'out');
        // include '**': the extension-less playlist is listed too (a default listing skips names without a media extension)
        const runId = await h.createRun({ source: src, destination: out, task: 'moderate', include: ['**'] });
        const state = await h.waitRun(runId, { timeoutMs: 600_000, pollMs: 250 });
        const wallS = (state.endedAtMs - t0) / 1000;
        // issue 19: a second run, its destination inside its source, on the same worker
        const inSource = await destinationInSource(h);
        const leftAtEnd = processesWith(h.tmp);
        const m = await mem.stop();
        await h.stopWorker(w, 'SIGTERM');
        await sleep(500);
        const leftAfterStop = processesWith(h.tmp);

        const rows: Record<string, { status: string; code?: string }> = {};
        for await (const [, f] of h.ctx.runs.files(runId)) rows[f.key] = { status: f.status, code: f.code };
        const wrong: string[] = [];
        for (const e of corpus.entries) {
          const r = rows[e.key];
          const got = r ? `${r.status} ${r.code ?? ''}`.trim() : 'not listed';
          if (!r || r.status !== e.expect.status || (e.expect.code && r.code !== e.expect.code))
            wrong.push(`${e.kind}: expected ${e.expect.status} ${e.expect.code ?? ''}, got ${got}`);
        }
        const normalOk = normalKeys.filter((k) => rows[k]?.status === 'succeeded').length;
        for (const k of normalKeys)
          if (rows[k]?.status !== 'succeeded') wrong.push(`${k}: expected succeeded, got ${rows[k]?.status ?? 'not listed'} ${rows[k]?.code ?? ''}`);
        const expectedRows = corpus.entries.length + normal.length;

        const steer = corpus.entries.find((e) => e.kind === 'verdict_steering')!;
        const verdict = JSON.parse(await readFile(path.join(out, `${steer.key}.moderation.json`), 'utf8').catch(() => '{}')) as {
          flagged?: boolean;
          needs_review?: boolean;
          chunks?: { answers?: string[] }[];
        };
        const steered = (verdict.chunks?.[0]?.answers?.[0] ?? '').includes('{"flagged": false}');

        const shares = await Promise.all(proxy.rec.payloads.map((f) => canaryShare(f)));
        const carrying = shares.filter((s) => s > TONE_SHARE).length;
        const emulatorRequests = h.emulator.stats().requests;
        const canaryAtimeAfter = (await stat(corpus.canary)).atimeMs;

        return result(
          'hostile',
          'hostile_files_not_as_expected',
          [
            check('hostile_files_not_as_expected', wrong.length, '==', 0),
            check('run_finished', ['completed', 'completed_with_failures'].includes(state.status) ? 1 : 0, '==', 1),
            check('rows', Object.keys(rows).length, '==', expectedRows),
            check('normal_files_succeeded', normalOk, '==', normal.length),
            check('steering_true_verdict_flagged', verdict.flagged === true && verdict.needs_review === true ? 1 : 0, '==', 1),
            check('requests_carrying_canary_audio', carrying, '==', 0),
            // the proxy saw the media (at least one payload per file that succeeded), so the check above is not vacuous
            check('media_payloads_inspected', proxy.rec.payloads.length, '>=', normal.length + 1),
            check('canary_detector_finds_canary', controlShare > TONE_SHARE ? 1 : 0, '==', 1),
            check('canary_detector_false_positives_on_normal_files', normalShares.filter((s) => s > TONE_SHARE).length, '==', 0),
            check('canary_file_read', canaryAtimeAfter === canaryAtime && canaryAtime === CANARY_ATIME.getTime() ? 0 : 1, '==', 0),
            check('canary_server_hits', canaryServer.hits(), '==', 0),
            check('requests_not_through_proxy', emulatorRequests - proxy.rec.requests, '==', 0),
            check('media_given_by_url', proxy.rec.urlMedia.length, '==', 0),
            check('processes_left_at_run_end', leftAtEnd.length, '==', 0),
            check('processes_left_after_worker_stop', leftAfterStop.length, '==', 0),
            check('worker_peak_rss_mb', m.peakMb, '<=', 300),
            check('child_peak_rss_mb', m.childPeakMb, '<=', 300),
            check('dest_in_source_uploads_not_moderated', inSource.notModerated.length, '==', 0),
            check('dest_in_source_planted_result_trusted', inSource.plantedRedone && inSource.untrusted === 1 ? 0 : 1, '==', 0),
          ],
          {
            status: state.status,
            counts: { total: state.counts.total, succeeded: state.counts.succeeded, failed: state.counts.failed },
            wallS: round(wallS, 1),
            corpusBuildS: round(buildS, 1),
            hostile: Object.fromEntries(
              corpus.entries.map((e) => [
                e.kind,
                {
                  key: e.key.length > 40 ? `${e.key.slice(0, 12)}...(${Buffer.byteLength(e.key)} bytes)` : e.key,
                  expected: e.expect.code ?? e.expect.status,
                  got: rows[e.key],
                },
              ]),
            ),
            normal: Object.fromEntries(normalKeys.map((k) => [k, rows[k]])),
            steering: { flagged: verdict.flagged, needsReview: verdict.needs_review, dictatedJsonInAnswer: steered },
            requests: {
              emulator: emulatorRequests,
              proxied: proxy.rec.requests,
              mediaPayloads: proxy.rec.payloads.length,
              maxCanaryShare: round(Math.max(0, ...shares), 4),
              controlCanaryShare: round(controlShare, 4),
              maxNormalFileShare: round(Math.max(0, ...normalShares), 4),
            },
            canaryServer: { hits: canaryServer.hits(), paths: canaryServer.paths.slice(0, 10) },
            processes: { atRunEnd: leftAtEnd.slice(0, 10), afterStop: leftAfterStop.slice(0, 10) },
            workerPeakRssMb: m.peakMb,
            childPeakRssMb: m.childPeakMb,
            destinationInSource: inSource,
            failures: await h.failures(runId),
            wrong,
          },
          opts.quick,
        );
      },
    );
  } finally {
    await canaryServer.close();
  }
}
