/**
 * Storage faults: s3rver behind a fault-injecting proxy (fault-proxy.ts) that answers 5% of requests with
 * 503 SlowDown and resets the connection on another 5% (half before the store sees the request, half after
 * it handled it). Sources, staging and outputs all live in s3rver; the workers talk to it only through the proxy.
 *
 * Reference: the same files run once without the proxy. Passes when the faulty run completes with every
 * file, and every output is byte-correct: .txt/.srt/.vtt identical to the clean run's, each result JSON
 * identical once its run-specific fields (created_at, per-chunk attempts) are set aside, and every stored
 * object's ETag equals the MD5 of its bytes (nothing half-written or framed twice). And the faults cost
 * retries, not the run: the faulty run takes at most 3x the clean run's wall time.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStorage, type Storage } from '../../src/storage/index.ts';
import { startFaultProxy } from '../lib/fault-proxy.ts';
import { type Harness, withHarness } from '../lib/harness.ts';
import { distinctClips, makeAudio, replicate } from '../lib/media.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

async function bytesOf(store: Storage, key: string, tmp: string): Promise<Buffer> {
  const f = path.join(tmp, createHash('sha1').update(key).digest('hex'));
  await store.download(key, f);
  const b = await readFile(f);
  await rm(f, { force: true });
  return b;
}

/** A result document without what differs from run to run by design. */
function normalized(json: string): unknown {
  const doc = JSON.parse(json) as { created_at?: string; chunks?: { attempts?: number }[] };
  delete doc.created_at;
  for (const c of doc.chunks ?? []) delete c.attempts;
  return doc;
}

async function runOnce(
  h: Harness,
  endpoint: string,
  dest: string,
  s3env: Record<string, string>,
): Promise<{ runId: string; state: Awaited<ReturnType<Harness['waitRun']>> }> {
  const w = h.spawnWorker(['--infer-concurrency', '8'], { ...s3env, S3_ENDPOINT: endpoint });
  await sleep(2500);
  const runId = await h.createRun({ source: 's3://media/in/', destination: dest, task: 'caption' });
  try {
    return { runId, state: await h.waitRun(runId, { timeoutMs: 600_000, pollMs: 250 }) };
  } finally {
    await h.stopWorker(w);
  }
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  return withHarness({ name: 'storage-faults', emulator: { latencyMs: 200 }, scanSecrets: true, env: { LOG_LEVEL: 'debug' } }, async (h) => {
    const s3 = await h.startS3(['media']);
    Object.assign(process.env, s3.env); // the driver's SDK finds s3rver's credentials in the environment
    const direct = openStorage('s3://media/', { s3Endpoint: s3.endpoint, s3ForcePathStyle: true, awsRegion: 'us-east-1' });
    h.onClose(async () => direct.close());
    const local = path.join(h.tmp, 'in');
    const clips = await distinctClips(path.join(h.tmp, 't'), 8, { seconds: 5, ext: 'mp3', rate: 16_000, channels: 1, kbps: 64 });
    const wavs = await distinctClips(path.join(h.tmp, 'tw'), 2, { seconds: 8, ext: 'wav', rate: 44_100, channels: 2 });
    const long = await makeAudio(path.join(h.tmp, 't', 'long.flac'), { seconds: 75, ext: 'flac', rate: 22_050, kind: 'speech' });
    const keys = [...(await replicate(clips, 40, local, 'a')), ...(await replicate(wavs, 10, local, 'b')), ...(await replicate([long], 5, local, 'c'))];
    for (const k of keys) await direct.upload(await readFile(path.join(local, k)), `in/${k}`);
    const files = keys.length;

    const r0 = Date.now();
    const ref = await runOnce(h, s3.endpoint, 's3://media/ref/', s3.env);
    const refWallS = (Date.now() - r0) / 1000;
    const proxy = await startFaultProxy(s3.port, { slowDown: 0.05, reset: 0.05, seed: 99 });
    h.onClose(() => proxy.close());
    const t0 = Date.now();
    const faulty = await runOnce(h, proxy.endpoint, 's3://media/out/', s3.env);
    const wallS = (Date.now() - t0) / 1000;

    // Compare what the two runs wrote, read straight from s3rver.
    const tmp = await mkdtemp(path.join(h.tmp, 'cmp-'));
    const listed = async (prefix: string) => {
      const m = new Map<string, { etag: string }>();
      for await (const o of direct.list(prefix)) if (!o.key.slice(prefix.length).startsWith('_')) m.set(o.key.slice(prefix.length), { etag: o.etag });
      return m;
    };
    const outObjs = await listed('out/');
    const refObjs = await listed('ref/');
    const differing: string[] = [];
    const badEtag: string[] = [];
    for (const [k, o] of outObjs) {
      const mine = await bytesOf(direct, `out/${k}`, tmp);
      if (o.etag.replace(/"/g, '') !== createHash('md5').update(mine).digest('hex')) badEtag.push(k);
      if (!refObjs.has(k)) {
        differing.push(`${k}: not in the clean run`);
        continue;
      }
      const theirs = await bytesOf(direct, `ref/${k}`, tmp);
      const same = k.endsWith('.json')
        ? JSON.stringify(normalized(mine.toString('utf8'))) === JSON.stringify(normalized(theirs.toString('utf8')))
        : mine.equals(theirs);
      if (!same) differing.push(k);
    }
    for (const k of refObjs.keys()) if (!outObjs.has(k)) differing.push(`${k}: missing`);
    let staging = 0;
    for await (const _ of direct.list('out/_staging/')) staging++;
    return result(
      'storage-faults',
      'files_succeeded_fraction',
      [
        check('succeeded_fraction', faulty.state.counts.succeeded / files, '==', 1),
        check('reference_succeeded_fraction', ref.state.counts.succeeded / files, '==', 1),
        check('outputs_compared', outObjs.size, '==', files * 4),
        check('outputs_differing_from_clean_run', differing.length, '==', 0),
        check('objects_etag_not_md5', badEtag.length, '==', 0),
        check('faults_injected', proxy.stats.slowDown + proxy.stats.resetBefore + proxy.stats.resetAfter, '>=', 10),
        check('staging_left', staging, '==', 0),
        // Not a target of the issue: a guard on the SDK retry mode ('adaptive' made this run 8x slower than the clean one).
        check('wall_vs_clean_run', wallS / refWallS, '<=', 3),
      ],
      {
        files,
        proxy: proxy.stats,
        status: faulty.state.status,
        failures: await h.failures(faulty.runId),
        retries: faulty.state.counts.retries,
        differing: differing.slice(0, 10),
        badEtag: badEtag.slice(0, 10),
        wallS: round(wallS, 1),
        cleanRunWallS: round(refWallS, 1),
      },
      opts.quick,
    );
  });
}
