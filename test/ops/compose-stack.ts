/**
 * The services of docker-compose.yml, started without Docker from the same file: redis-server with the
 * compose command (private port, its own temp dir), s3rver standing in for MinIO with the compose
 * credentials, the `samples` and `minio-init` one-shots done locally, and any omnibatch service spawned as
 * `node bin/omnibatch.js <its command>` with the image's ENV (Dockerfile) and its compose environment,
 * network names made local and each "container" given its own temp directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { CLI_ENTRY } from '../helpers/cli.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { type ComposeModel, loadCompose, localize, type Rewrite } from './compose.ts';

export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');
export const DOCKERFILE = path.join(REPO_ROOT, 'Dockerfile');

/** The ENV of the Dockerfile's last stage (the image every omnibatch service runs), `KEY=value` forms only. */
export function imageEnv(text = readFileSync(DOCKERFILE, 'utf8')): Record<string, string> {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim());
  const last = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
  const env: Record<string, string> = {};
  for (const line of lines.slice(last + 1)) {
    if (!/^ENV\s/i.test(line)) continue;
    for (const pair of line.slice(3).trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`Dockerfile: ENV ${pair} is not KEY=value`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

export function loadModel(secrets: Record<string, string>): ComposeModel {
  // only the secrets the file requires (an operator's .env): the file's own defaults for the rest
  return loadCompose(COMPOSE_FILE, secrets);
}

import { freePort } from '../../src/demo/redis.ts';

export { freePort };

export interface RedisService {
  port: number;
  dir: string;
  url: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** stops the server, keeping its data dir (AOF) for `up()` on the same port */
  down(): Promise<void>;
  up(): Promise<void>;
}

/** redis-server with the compose service's own arguments, on a private port and data dir. */
export async function startRedis(model: ComposeModel): Promise<RedisService> {
  const [bin, ...args] = model.services.redis.command ?? [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-redis-'));
  const port = await freePort();
  const password = args.includes('--requirepass') ? args[args.indexOf('--requirepass') + 1] : undefined;
  const url = `redis://${password ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    child = spawn(bin, [...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitForRedis(url, child);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM'); // redis fsyncs the AOF on a clean shutdown
    await exited;
  };
  await launch();
  return {
    port,
    dir,
    url,
    restart: async () => {
      await stop();
      await launch();
    },
    down: stop,
    up: launch,
    stop: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForRedis(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    r.on('error', () => undefined);
    try {
      await r.connect();
      if ((await r.ping()) === 'PONG') return;
    } catch {
      /* not up yet */
    } finally {
      r.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('redis-server did not answer');
}

export interface S3Service {
  port: number;
  endpoint: string;
  dir: string;
  stop(): Promise<void>;
}

/** s3rver, accepting the credentials MinIO is given in the compose file. */
export async function startS3(model: ComposeModel): Promise<S3Service> {
  const require = createRequire(import.meta.url);
  const S3rver = require('s3rver') as new (o: Record<string, unknown>) => { run(): Promise<net.AddressInfo>; close(): Promise<void> };
  const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account') as { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void } };
  const minio = model.services.minio.environment;
  DUMMY_ACCOUNT.createKeyPair(minio.MINIO_ROOT_USER, minio.MINIO_ROOT_PASSWORD);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-s3-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
  const { port } = await server.run();
  return {
    port,
    dir,
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An S3 client made only from an omnibatch service's environment, as the code reads it. */
export function s3FromEnv(env: Record<string, string>): S3Client {
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    forcePathStyle: env.S3_FORCE_PATH_STYLE === 'true',
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    // see docs/operations.md "S3-compatible stores": the SDK's default checksums corrupt streamed bodies on s3rver
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The `samples` one-shot: its own entrypoint and command, with /samples made a local directory. */
export async function runSamples(model: ComposeModel, samplesDir: string): Promise<void> {
  const svc = model.services.samples;
  const { command } = localize(svc, { hosts: {}, paths: { '/samples': samplesDir } });
  const [bin, ...pre] = svc.entrypoint ?? [];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(bin, [...pre, ...command], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} exited with ${code}`))));
  });
}

/** The `minio-init` one-shot: create BUCKET and upload the samples under SEED_PREFIX (what its mc script does). */
export async function runMinioInit(model: ComposeModel, s3: S3Client, samplesDir: string): Promise<{ bucket: string; keys: string[] }> {
  const { BUCKET: bucket, SEED_PREFIX: prefix } = model.services['minio-init'].environment;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const keys: string[] = [];
  for (const name of (await readdir(samplesDir)).sort()) {
    const key = `${prefix}${name}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(path.join(samplesDir, name)) }));
    keys.push(key);
  }
  return { bucket, keys };
}

export interface Spawned {
  child: ChildProcess;
  /** the last few KB of its stdout and stderr, for a failing test's message */
  output(): string;
}

export interface SpawnOptions {
  /** arguments appended to the compose command */
  args?: string[];
  /** the container's own environment beyond the service's (the image's ENV, localized) */
  env?: Record<string, string>;
}

/**
 * An omnibatch service (emulator, worker, example) as a local process: `node bin/omnibatch.js <command>` (the
 * tests' CLI bundle of it: test/helpers/cli.ts) with the service's compose environment over `opts.env`, as
 * compose's `environment` overrides the image's ENV.
 */
export function spawnService(model: ComposeModel, name: string, rw: Rewrite, opts: SpawnOptions = {}): Spawned {
  const { command, environment } = localize(model.services[name], rw);
  const child = spawn(process.execPath, [CLI_ENTRY, ...command, ...(opts.args ?? [])], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: '--openssl-legacy-provider', ...opts.env, ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // always drained, so a chatty process never blocks on a full pipe
  let tail = '';
  const keep = (d: Buffer): void => {
    tail = (tail + d.toString()).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => tail };
}

/** Stops a service as `docker compose down` does: SIGTERM, then SIGKILL once the grace period is over. */
export async function stopService(spawned: Spawned | undefined, graceMs = 10_000): Promise<void> {
  if (!spawned || spawned.child.exitCode !== null || spawned.child.signalCode !== null) return;
  const exited = waitForExit(spawned);
  spawned.child.kill('SIGTERM');
  const timer = setTimeout(() => spawned.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resolves with the exit code (a one-shot such as `example`); the output tail is in `spawned.output()`. */
export function waitForExit(spawned: Spawned): Promise<number | null> {
  const { child } = spawned;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
