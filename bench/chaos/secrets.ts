/**
 * Secrets: the API key appears nowhere it could leak to: worker logs (stderr at LOG_LEVEL=debug), Redis keys
 * and values under the run's prefix, outputs, staging, temp files, s3rver's data.
 *
 * Every chaos scenario that ran before this one scanned its own logs, keys and files before cleaning up
 * (harness.ts, scanSecrets). This scenario adds a run made to put the key under stress: debug logs, 5xx, cut
 * streams and provider refusals on the way, then a worker whose key the service rejects (401: the run stops
 * with auth, and the error path logs the failed request). It first proves the scan finds a planted key.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEmulator } from '../../src/emulator/server.ts';
import { BENCH_API_KEY, withHarness } from '../lib/harness.ts';
import { distinctClips, replicate } from '../lib/media.ts';
import { check, result, type ScenarioResult } from '../lib/result.ts';
import { recordedScans, scanFiles, scanRedis } from '../lib/secrets.ts';

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const own = await withHarness(
    { name: 'secrets', emulator: { latencyMs: 100, fail5xx: 0.15, cut: 0.1, inspectFail: 0.05, seed: 11 }, scanSecrets: true, env: { LOG_LEVEL: 'debug' } },
    async (h) => {
      // The scan must be able to find the key: plant it once in a file and in Redis, then remove it.
      const canaryDir = path.join(h.tmp, 'canary');
      await mkdir(canaryDir, { recursive: true });
      await writeFile(path.join(canaryDir, 'leak.txt'), `key=${BENCH_API_KEY}\n`);
      const canaryKey = `${h.cfg.queuePrefix}:canary`;
      await h.ctx.redis.hset(canaryKey, 'k', `Bearer ${BENCH_API_KEY}`);
      const planted = {
        file: (await scanFiles([canaryDir], BENCH_API_KEY)).hits.length,
        redis: (await scanRedis(h.ctx.redis, h.cfg.queuePrefix, BENCH_API_KEY)).hits.length,
      };
      await h.ctx.redis.del(canaryKey);
      await rm(canaryDir, { recursive: true, force: true });

      const src = path.join(h.tmp, 'in');
      const clips = await distinctClips(path.join(h.tmp, 't'), 4, { seconds: 5, ext: 'mp3', rate: 16_000, channels: 1, kbps: 64 });
      await replicate(clips, 40, src);
      const w = h.spawnWorker(['--infer-concurrency', '8']);
      await sleep(2500);
      const ok = await h.waitRun(await h.createRun({ source: src, destination: path.join(h.tmp, 'out'), task: 'caption' }), { timeoutMs: 300_000 });
      await h.stopWorker(w);

      // A service that refuses this key: 401 on every request, the run stops with auth.
      const strict = await startEmulator({ apiKey: 'sk-some-other-key' });
      h.onClose(() => strict.close());
      h.spawnWorker(['--infer-concurrency', '4'], { OMNI_BASE_URL: `${strict.url}/compatible-mode/v1` });
      await sleep(2500);
      const refused = await h.waitRun(await h.createRun({ source: src, destination: path.join(h.tmp, 'out-401'), task: 'caption' }), { timeoutMs: 300_000 });
      return {
        planted,
        ok: { status: ok.status, succeeded: ok.counts.succeeded, failed: ok.counts.failed },
        refused: { status: refused.status, stopMessage: refused.stopMessage },
        logBytes: (await h.workerLogs()).length,
      };
    },
  );
  const scans = recordedScans();
  const hits = scans.flatMap((s) => s.hits.map((x) => `${s.scenario}: ${x}`));
  return result(
    'secrets',
    'places_holding_the_api_key',
    [
      check('places_holding_the_api_key', hits.length, '==', 0),
      check('planted_key_found_in_file', own.planted.file, '==', 1),
      check('planted_key_found_in_redis', own.planted.redis, '==', 1),
      check(
        'auth_run_stopped',
        own.refused.status === 'stopped_error' || own.refused.status === 'cancelled' || own.refused.status.startsWith('stopped') ? 1 : 0,
        '==',
        1,
      ),
    ],
    {
      hits: hits.slice(0, 20),
      scanned: scans.map((s) => ({ scenario: s.scenario, files: s.files, mb: Math.round(s.bytes / 1e5) / 10, redisKeys: s.redisKeys, hits: s.hits.length })),
      run: own,
    },
    opts.quick,
  );
}
