/**
 * docker-compose.yml, checked twice: as data (what it declares, and that it names only variables the code
 * reads), and by starting its services without Docker from the file itself: redis-server with the
 * compose arguments, s3rver for MinIO, the samples and minio-init one-shots, the emulator and two worker
 * services as `omnibatch <command>` with the compose environment, probed with the compose healthchecks
 * (`omnibatch health`), and then the example service's run, whose results are checked in the bucket.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS } from '../../src/config/index.ts';
import { checkTarget } from '../../src/ops/healthcheck.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { interpolate, loadCompose, localize, parseCompose, type Rewrite, startOrder } from './compose.ts';
import {
  COMPOSE_FILE,
  DOCKERFILE,
  freePort,
  imageEnv,
  loadModel,
  type RedisService,
  runMinioInit,
  runSamples,
  type S3Service,
  type Spawned,
  s3FromEnv,
  spawnService,
  startRedis,
  startS3,
  stopService,
  waitForExit,
} from './compose-stack.ts';

/** what an operator puts in .env: the file has no default secrets */
const SECRETS = { REDIS_PASSWORD: randomBytes(12).toString('hex'), MINIO_ROOT_USER: 'compose-test', MINIO_ROOT_PASSWORD: randomBytes(12).toString('hex') };
const model = loadModel(SECRETS);
const OMNIBATCH_SERVICES = ['samples', 'emulator', 'worker', 'example'];

describe('docker-compose.yml as data', () => {
  it('declares redis with AOF, MinIO with its init, the emulator, two workers and the example run', () => {
    expect(Object.keys(model.services).sort()).toEqual(['emulator', 'example', 'minio', 'minio-init', 'redis', 'samples', 'worker']);
    expect(model.services.redis.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(model.services.redis.volumes).toEqual(['redis-data:/data']);
    expect(model.services.worker.replicas).toBe(2);
    expect(model.services.worker.command).toEqual(['worker', '--metrics-port', '9464']);
    // the emulator answers the workers by its service name only (ops/host-allow.ts: any other Host is refused)
    expect(model.services.emulator.command).toEqual(['emulator', '--port', '8080', '--host', '0.0.0.0', '--allowed-host', 'emulator']);
    expect(model.services.example.command).toEqual(['run', 's3://media/in/', '--out', 's3://media/out/', '--task', 'caption', '--wait']);
    expect(model.services.example.dependsOn).toEqual({ 'minio-init': 'service_completed_successfully', worker: 'service_healthy' });
    expect(model.services.worker.dependsOn).toEqual({ redis: 'service_healthy', minio: 'service_healthy', emulator: 'service_healthy' });
    for (const name of OMNIBATCH_SERVICES) {
      expect(model.services[name].build, name).toBe('.');
      expect(model.services[name].image, name).toBe('omnibatch:local');
    }
    expect(model.volumes.sort()).toEqual(['minio-data', 'redis-data', 'samples']);
  });

  it('gives every omnibatch service the one x-omnibatch-env, naming only variables the code reads', () => {
    const env = model.extensions['x-omnibatch-env'] as Record<string, string>;
    for (const name of OMNIBATCH_SERVICES) expect(model.services[name].environment, name).toEqual(env);
    const known = new Set<string>([...Object.values(SETTINGS).flatMap((s) => [...s.env]), 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
    for (const k of [
      'REDIS_URL',
      'S3_ENDPOINT',
      'S3_FORCE_PATH_STYLE',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_REGION',
      'OMNI_BASE_URL',
      'OMNI_API_KEY',
      'OMNI_PROTOCOL',
    ]) {
      expect(env[k], k).toBeTruthy();
    }
    // the workers log in to MinIO with the credentials MinIO is started with
    expect(env.AWS_ACCESS_KEY_ID).toBe(model.services.minio.environment.MINIO_ROOT_USER);
    expect(env.AWS_SECRET_ACCESS_KEY).toBe(model.services.minio.environment.MINIO_ROOT_PASSWORD);
  });

  it('has no default secrets: a fresh `up` without them stops, naming each', () => {
    for (const missing of Object.keys(SECRETS)) {
      const env: Record<string, string> = { ...SECRETS };
      delete env[missing];
      expect(() => loadCompose(COMPOSE_FILE, env), missing).toThrow(new RegExp(`${missing} is required`));
    }
  });

  it('keeps Redis unpublished and password-protected, and publishes other ports on 127.0.0.1 only', () => {
    expect(model.services.redis.ports).toEqual([]);
    const cmd = model.services.redis.command ?? [];
    expect(cmd[cmd.indexOf('--requirepass') + 1]).toBe(SECRETS.REDIS_PASSWORD);
    expect(model.services.redis.environment.REDISCLI_AUTH).toBe(SECRETS.REDIS_PASSWORD);
    const env = model.extensions['x-omnibatch-env'] as Record<string, string>;
    expect(env.REDIS_URL).toBe(`redis://:${SECRETS.REDIS_PASSWORD}@redis:6379`);
    expect(model.services.minio.environment).toEqual({ MINIO_ROOT_USER: SECRETS.MINIO_ROOT_USER, MINIO_ROOT_PASSWORD: SECRETS.MINIO_ROOT_PASSWORD });
    const published = Object.values(model.services).flatMap((s) => s.ports.map((p) => `${s.name} ${p}`));
    expect(published.length).toBeGreaterThan(0);
    for (const p of published) expect(p).toMatch(/^\S+ 127\.0\.0\.1:\d+:\d+$/);
  });

  it('starts services in dependency order', () => {
    expect(startOrder(model)).toEqual([['redis', 'minio', 'samples', 'emulator'], ['minio-init', 'worker'], ['example']]);
  });

  it('healthchecks probe the ports the services listen on', () => {
    const port = (svc: string, flag: string): string => {
      const cmd = model.services[svc].command ?? [];
      return cmd[cmd.indexOf(flag) + 1];
    };
    expect(model.services.worker.healthcheck?.at(-1)).toBe(`http://127.0.0.1:${port('worker', '--metrics-port')}/healthz`);
    expect(model.services.emulator.healthcheck?.at(-1)).toBe(`http://127.0.0.1:${port('emulator', '--port')}/healthz`);
    expect(model.services.worker.healthcheck?.slice(0, 4)).toEqual(['CMD', 'node', 'bin/omnibatch.js', 'health']);
    expect(model.services.emulator.healthcheck?.slice(0, 4)).toEqual(['CMD', 'node', 'bin/omnibatch.js', 'health']);
    // the image's default check is the same command, with no target: Redis at REDIS_URL
    expect(readFileSync(DOCKERFILE, 'utf8')).toMatch(/^HEALTHCHECK .*\\\n\s*CMD \["node", "bin\/omnibatch\.js", "health"\]$/m);
  });

  it('takes overrides from the host environment as compose does', () => {
    const m = loadCompose(COMPOSE_FILE, { ...SECRETS, OMNIBATCH_BUCKET: 'archive', OMNI_BASE_URL: '', OMNI_PROTOCOL: 'dashscope', OMNI_API_KEY: 'sk-real' });
    expect(m.services.example.command?.slice(0, 3)).toEqual(['run', 's3://archive/in/', '--out']);
    expect(m.services['minio-init'].environment.BUCKET).toBe('archive');
    // an empty OMNI_BASE_URL means "the protocol's default", which the config resolves
    const cfg = loadConfig({ env: m.services.worker.environment });
    expect(cfg.baseUrlResolved).toBe('https://dashscope-intl.aliyuncs.com/api/v1');
    expect(cfg.apiKey).toBe('sk-real');
    // `$$` reaches the container's shell as `$`
    expect(m.services['minio-init'].command?.[0]).toContain('mc mb --ignore-existing "local/$BUCKET"');
  });
});

describe('compose interpolation and ordering', () => {
  it('interpolates like compose: defaults, empty vs unset, bare names, $$ and required variables', () => {
    const env = { SET: 'v', EMPTY: '' };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's ${VAR} syntax, not a template literal
    expect(interpolate('${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET} $SET $$SET', env)).toBe('v d  d  v $SET');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's ${VAR} syntax, not a template literal
    expect(() => interpolate('${UNSET:?set UNSET first}', env)).toThrow(/UNSET is required: set UNSET first/);
  });

  it('reads YAML as compose v2 does: `yes` stays a string, << merges with explicit keys winning, duplicate keys refused', () => {
    const m = parseCompose(
      ['x-base: &base', '  image: img', '  environment: { FLAG: yes, N: 1 }', 'services:', '  s:', '    <<: *base', '    image: mine'].join('\n'),
    );
    expect(m.services.s.image).toBe('mine');
    expect(m.services.s.environment).toEqual({ FLAG: 'yes', N: '1' });
    expect(() => parseCompose('services:\n  a: {}\n  a: {}\n')).toThrow(/not valid YAML/);
  });

  it('refuses a dependency cycle and an unknown dependency', () => {
    const cyc = 'services:\n  a:\n    depends_on: [b]\n  b:\n    depends_on: [a]\n';
    expect(() => startOrder(parseCompose(cyc))).toThrow(/dependency cycle among a, b/);
    expect(() => parseCompose('services:\n  a:\n    depends_on: [zz]\n')).toThrow(/unknown service zz/);
  });

  it('localizes network names, volume paths and flags, and nothing else', () => {
    const m = parseCompose(
      [
        'services:',
        '  w:',
        '    command: ["worker", "--metrics-port", "9464", "--out", "/samples/x", "--note", "redis:6379"]',
        '    environment: { REDIS_URL: "redis://redis:6379/0", S3: "http://user:pw@minio:9000", OTHER: "redis:63790" }',
      ].join('\n'),
    );
    const out = localize(m.services.w, {
      hosts: { 'redis:6379': '127.0.0.1:7001', 'minio:9000': '127.0.0.1:7002' },
      paths: { '/samples': '/tmp/s' },
      flags: { '--metrics-port': '0' },
    });
    expect(out.command).toEqual(['worker', '--metrics-port', '0', '--out', '/tmp/s/x', '--note', 'redis:6379']);
    expect(out.environment).toEqual({ REDIS_URL: 'redis://127.0.0.1:7001/0', S3: 'http://user:pw@127.0.0.1:7002', OTHER: 'redis:63790' });
  });
});

describe('the compose services, started without Docker', () => {
  // a private Redis key prefix too, passed the way compose takes it: from the host environment
  const prefix = `compose-${randomBytes(4).toString('hex')}`;
  const stack = loadCompose(COMPOSE_FILE, { ...SECRETS, OMNIBATCH_PREFIX: prefix });
  let redis: RedisService;
  let s3: S3Service;
  let tmp: string;
  let samplesDir: string;
  let emulator: Spawned | undefined;
  const workers: { spawned: Spawned; metricsPort: number }[] = [];
  let example: Spawned | undefined;
  let rw: Rewrite;
  let s3client: S3Client;

  /** each "container" gets its own /tmp: the image's OMNIBATCH_TMP made a private directory */
  const containerEnv = async (name: string): Promise<Record<string, string>> => {
    const image = imageEnv();
    const dir = await mkdtemp(path.join(tmp, `${name}-`));
    return { ...image, OMNIBATCH_TMP: dir };
  };

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(stack), startS3(stack)]);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-compose-'));
    samplesDir = path.join(tmp, 'samples');
    await mkdir(samplesDir);
    const emulatorPort = await freePort();
    rw = {
      hosts: { 'redis:6379': `127.0.0.1:${redis.port}`, 'minio:9000': `127.0.0.1:${s3.port}`, 'emulator:8080': `127.0.0.1:${emulatorPort}` },
      paths: { '/samples': samplesDir },
    };
    s3client = s3FromEnv(localize(stack.services.worker, rw).environment);
    // the compose command with its port made private and its bind address local
    emulator = spawnService(
      stack,
      'emulator',
      { ...rw, flags: { '--port': String(emulatorPort), '--host': '127.0.0.1' } },
      { env: await containerEnv('emulator') },
    );
  });

  afterAll(async () => {
    // every child, also when a test failed half-way: the one-shot first, then the workers, then the emulator
    example?.child.kill('SIGKILL');
    await stopService(example);
    await Promise.all(workers.map((w) => stopService(w.spawned)));
    await stopService(emulator);
    s3client?.destroy();
    await Promise.all([redis?.stop(), s3?.stop(), tmp && rm(tmp, { recursive: true, force: true })]);
  });

  it('passes the host OMNIBATCH_PREFIX to every omnibatch service, and the Dockerfile ENV is what the image adds', () => {
    for (const name of OMNIBATCH_SERVICES) expect(stack.services[name].environment.OMNIBATCH_PREFIX, name).toBe(prefix);
    expect(imageEnv()).toEqual({ NODE_ENV: 'production', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', OMNIBATCH_TMP: '/tmp/omnibatch' });
  });

  it('runs redis with the compose arguments, and its AOF keeps data across a restart', async () => {
    const url = localize(stack.services.worker, rw).environment.REDIS_URL;
    expect(url).toBe(redis.url);
    let r = new Redis(url, { maxRetriesPerRequest: null });
    expect(await r.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await r.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    await r.set('compose:aof', 'kept');
    await r.quit();
    // RDB snapshots are off in this stand-in (--save ''), so only the AOF can bring the key back
    await redis.restart();
    r = new Redis(url, { maxRetriesPerRequest: null });
    expect(await r.get('compose:aof')).toBe('kept');
    await r.del('compose:aof');
    await r.quit();
    expect(existsSync(path.join(redis.dir, 'appendonlydir'))).toBe(true);
  });

  it('seeds the example source prefix with the samples and minio-init one-shots, reachable with the omnibatch env', async () => {
    await runSamples(stack, samplesDir);
    expect(await readdir(samplesDir)).toEqual(['tone-440hz.mp3']);
    const { bucket, keys } = await runMinioInit(stack, s3client, samplesDir);
    expect(keys).toEqual(['in/tone-440hz.mp3']);

    // the example's source argument is where minio-init put the samples
    const source = new URL(stack.services.example.command![1]);
    expect(source.host).toBe(bucket);
    const listed = await s3client.send(new ListObjectsV2Command({ Bucket: source.host, Prefix: source.pathname.slice(1) }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['in/tone-440hz.mp3']);
    const head = await s3client.send(new HeadObjectCommand({ Bucket: bucket, Key: keys[0] }));
    expect(head.ContentLength).toBe((await stat(path.join(samplesDir, 'tone-440hz.mp3'))).size);
  });

  it('starts the emulator service from its compose command; its compose healthcheck passes', async () => {
    const emulatorHost = rw.hosts['emulator:8080'];
    const hc = localize(stack.services.emulator, { hosts: { '127.0.0.1:8080': emulatorHost } }).healthcheck!;
    await waitHealthy(hc.at(-1)!, emulator!);
    const result = await runCheck(hc.slice(1), {});
    expect(result).toEqual({ code: 0, out: `healthy: http://${emulatorHost}/healthz: HTTP 200\n` });
    // and the omnibatch env points its clients at that emulator
    const cfg = loadConfig({ env: localize(stack.services.worker, rw).environment });
    expect(cfg.baseUrlResolved).toBe(`http://${emulatorHost}/compatible-mode/v1`);
    expect(cfg.protocol).toBe('chat');
  });

  it('the image healthcheck (`omnibatch health`, no target) answers for Redis at REDIS_URL, and fails when Redis is gone', async () => {
    const hc = ['node', 'bin/omnibatch.js', 'health'];
    const closed = `redis://127.0.0.1:${await freePort()}`;
    // the two checks side by side: separate processes, separate Redis URLs
    const [up, down] = await Promise.all([runCheck(hc, { REDIS_URL: redis.url }), runCheck(hc, { REDIS_URL: closed })]);
    // the password in REDIS_URL is never printed
    expect(up).toEqual({ code: 0, out: `healthy: redis://127.0.0.1:${redis.port}: PONG\n` });
    expect(down.code).toBe(1);
    expect(down.out).toMatch(/^unhealthy: redis:\/\/127\.0\.0\.1:\d+: /);
  });

  it('starts the worker service twice (deploy.replicas) from its compose command; both compose healthchecks pass', async () => {
    const svc = stack.services.worker;
    const composePort = svc.command![svc.command!.indexOf('--metrics-port') + 1];
    for (let i = 0; i < svc.replicas; i++) {
      const metricsPort = await freePort();
      const spawned = spawnService(
        stack,
        'worker',
        { ...rw, flags: { '--metrics-port': String(metricsPort) } },
        { args: ['--metrics-host', '127.0.0.1'], env: await containerEnv(`worker-${i}`) },
      );
      workers.push({ spawned, metricsPort });
    }
    expect(workers.length).toBe(2);
    // each replica's healthcheck as compose runs them: independently, side by side
    await Promise.all(
      workers.map(async (w) => {
        const hc = localize(svc, { hosts: { [`127.0.0.1:${composePort}`]: `127.0.0.1:${w.metricsPort}` } }).healthcheck!;
        expect(hc.slice(0, 4)).toEqual(['CMD', 'node', 'bin/omnibatch.js', 'health']);
        await waitHealthy(hc.at(-1)!, w.spawned);
        // exec form, as Docker runs it inside the container (with the container's environment)
        const result = await runCheck(hc.slice(1), localize(svc, rw).environment);
        expect(result, w.spawned.output()).toEqual({ code: 0, out: `healthy: http://127.0.0.1:${w.metricsPort}/healthz: HTTP 200\n` });
      }),
    );
  });

  it('runs the example service: exit 0, results and a completed report in the bucket, inferred by the workers', async () => {
    example = spawnService(stack, 'example', rw, { env: await containerEnv('example') });
    let stdout = '';
    example.child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    const code = await waitForExit(example);
    expect(code, example.output()).toBe(0);

    const out = new URL(stack.services.example.command![stack.services.example.command!.indexOf('--out') + 1]);
    const bucket = out.host;
    const outPrefix = out.pathname.slice(1);
    const listed = await s3client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: outPrefix }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    for (const ext of ['json', 'txt', 'srt', 'vtt']) expect(keys, keys.join(', ')).toContain(`${outPrefix}tone-440hz.mp3.${ext}`);
    const runIds = [...new Set(keys.filter((k) => k.startsWith(`${outPrefix}_runs/`)).map((k) => k.split('/')[2]))];
    expect(runIds.length).toBe(1);
    const [runId] = runIds;
    expect(stdout.split('\n')[0]).toBe(runId);
    expect(stdout).toContain(`completed: results in s3://${bucket}/${outPrefix}, report in s3://${bucket}/${outPrefix}_runs/${runId}/report.json`);
    const report = JSON.parse(await getText(s3client, bucket, `${outPrefix}_runs/${runId}/report.json`));
    expect(report).toMatchObject({ run_id: runId, status: 'completed', task: 'caption', counts: { total: 1, succeeded: 1, failed: 0 } });
    const result = JSON.parse(await getText(s3client, bucket, `${outPrefix}tone-440hz.mp3.json`));
    expect(result.text).toBeTruthy();

    // the two worker services did the inference (`run --wait` embeds workers only when none is running)
    const inferred = await Promise.all(
      workers.map(async (w) => {
        const text = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text();
        const m = /^omnibatch_jobs_total\{stage="infer",state="completed"\} (\d+)$/m.exec(text);
        return m ? Number(m[1]) : 0;
      }),
    );
    expect(Math.max(...inferred)).toBeGreaterThan(0);
  });

  it("a worker's /healthz answers 503 while Redis is down, and 200 once it is back", async () => {
    const [w] = workers;
    const url = `http://127.0.0.1:${w.metricsPort}/healthz`;
    const hc = ['node', 'bin/omnibatch.js', 'health', url];
    await redis.down();
    const down = await runCheck(hc, {});
    expect(down).toEqual({ code: 1, out: `unhealthy: ${url}: HTTP 503\n` });
    const body = (await (await fetch(url)).json()) as { status: string; detail: string };
    expect(body.status).toBe('unhealthy');
    expect(body.detail).toMatch(new RegExp(`^redis://127\\.0\\.0\\.1:${redis.port}: `));
    await redis.up();
    await waitHealthy(url, w.spawned);
    expect(await runCheck(hc, {})).toEqual({ code: 0, out: `healthy: ${url}: HTTP 200\n` });
  });
});

/** Polls a healthcheck target until it passes, as compose's depends_on `service_healthy` waits. */
async function waitHealthy(target: string, service: Spawned): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await checkTarget(target, 500)).ok) return;
    if (service.child.exitCode !== null) throw new Error(`service exited with ${service.child.exitCode}: ${service.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${target} never became healthy: ${service.output()}`);
}

async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return res.Body!.transformToString();
}

/** Runs a healthcheck command as Docker would (exec form, in the image's working directory). */
function runCheck(argv: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const [bin, ...args] = argv;
    const child = spawn(bin === 'node' ? process.execPath : bin, args, { cwd: REPO_ROOT, env: { PATH: process.env.PATH, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}
