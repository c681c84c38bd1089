/**
 * The bench harness: the emulator (in this process, over real HTTP), Redis (the one at REDIS_URL, or a
 * private redis-server, with AOF when asked), a private key prefix, a temp root, the driver's context
 * (creates runs, reads their state) and worker PROCESSES started as production starts them
 * (`node bin/omnibatch.js worker`). Everything it starts is registered for cleanup: `close()` kills every
 * child, deletes every key under the prefix and removes the temp root, also after a failure.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { type Context, createContext } from '../../src/app/context.ts';
import { type Config, loadConfig } from '../../src/config/index.ts';
import { type PrivateRedis, redisAnswers, startPrivateRedis } from '../../src/demo/redis.ts';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../src/emulator/server.ts';
import { createRun, type RunRequest } from '../../src/producers/run.ts';
import type { RunState } from '../../src/runs/types.ts';
import { createLogger } from '../../src/util/logger.ts';
import { type S3rverHandle, startS3rver } from '../../test/helpers/s3rver.ts';
import { recordScan, scanFiles, scanRedis } from './secrets.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(REPO_ROOT, 'bin/omnibatch.js');
/** A key that looks real, so a leak would be found by a plain substring search. */
export const BENCH_API_KEY = `sk-bench-${randomUUID().replace(/-/g, '')}`;
const FINAL = new Set(['completed', 'completed_with_failures', 'stopped_budget', 'cancelled', 'stopped_error']);

export interface HarnessOptions {
  name: string;
  emulator?: EmulatorOptions;
  /**
   * 'private' (default): a redis-server of our own on a free port, so no other user of the machine's Redis
   * shares its CPU or sees our keys; 'aof': the same with persistence (appendfsync always); 'shared': REDIS_URL
   * (or 127.0.0.1:6379) when it answers.
   */
  redis?: 'shared' | 'private' | 'aof';
  /** where the temp root goes (default BENCH_TMP, else /dev/shm, else the OS temp dir) */
  tmpBase?: string;
  /** before cleaning up, look for the API key in every file and Redis key/value this harness made (chaos) */
  scanSecrets?: boolean;
  /** extra environment for the driver's config and every worker */
  env?: Record<string, string>;
}

export interface WorkerProc {
  child: ChildProcess;
  pid: number;
  /** the worker's stderr (its logs) */
  logFile: string;
  exited: Promise<number | null>;
}

export class Harness {
  readonly workers: WorkerProc[] = [];
  /** folders the secret scan reads besides the temp root (s3rver's data) */
  readonly scanDirs: string[] = [];
  scanSecrets = false;
  private closers: (() => Promise<unknown>)[] = [];
  private closed = false;

  private constructor(
    readonly name: string,
    readonly tmp: string,
    readonly emulator: Emulator,
    readonly redisUrl: string,
    readonly privateRedis: PrivateRedis | undefined,
    readonly env: Record<string, string>,
    readonly cfg: Config,
    readonly ctx: Context,
  ) {}

  static async start(opts: HarnessOptions): Promise<Harness> {
    const cleanups: (() => Promise<unknown>)[] = [];
    try {
      // /dev/shm when there is one: file creation on this VM's ext4 costs ~1.5 ms, on tmpfs ~0.02 ms.
      const base =
        opts.tmpBase ??
        process.env.BENCH_TMP ??
        (await mkdir('/dev/shm', { recursive: true }).then(
          () => '/dev/shm',
          () => os.tmpdir(),
        ));
      const tmp = await mkdtemp(path.join(base, `omnibatch-bench-${opts.name}-`));
      cleanups.push(() => rm(tmp, { recursive: true, force: true }));
      const emulator = await startEmulator({ apiKey: BENCH_API_KEY, ...opts.emulator });
      cleanups.push(() => emulator.close());
      let redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
      let priv: PrivateRedis | undefined;
      if (opts.redis !== 'shared' || !(await redisAnswers(redisUrl))) {
        priv = await startPrivateRedis({ persistence: opts.redis === 'aof' });
        cleanups.push(() => priv!.stop());
        redisUrl = priv.url;
      }
      const env: Record<string, string> = {
        REDIS_URL: redisUrl,
        OMNIBATCH_PREFIX: `bench-${opts.name}-${randomUUID().slice(0, 8)}`,
        OMNI_BASE_URL: `${emulator.url}/compatible-mode/v1`,
        OMNI_API_KEY: BENCH_API_KEY,
        OMNIBATCH_TMP: path.join(tmp, 'work'),
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...opts.env,
      };
      const cfg = loadConfig({ env: { ...process.env, ...env } });
      const ctx = createContext(cfg, createLogger({ level: 'warn', pretty: false }));
      const h = new Harness(opts.name, tmp, emulator, redisUrl, priv, env, cfg, ctx);
      h.closers = cleanups;
      h.scanSecrets = opts.scanSecrets ?? false;
      return h;
    } catch (err) {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      throw err;
    }
  }

  /**
   * s3rver in this process, with these buckets; its data folder is scanned for secrets too. The process needs
   * --openssl-legacy-provider (npm run chaos passes it) for s3rver's paginated listings.
   */
  async startS3(buckets: string[]): Promise<S3rverHandle> {
    const legacy = process.execArgv.includes('--openssl-legacy-provider') || (process.env.NODE_OPTIONS ?? '').includes('--openssl-legacy-provider');
    if (!legacy) throw new Error('s3rver needs node --openssl-legacy-provider (use npm run chaos / npm run bench)');
    const s3 = await startS3rver({ buckets });
    this.onClose(() => s3.stop());
    this.scanDirs.push(s3.directory);
    return s3;
  }

  /** Registers something to undo at close (run in reverse order). */
  onClose(fn: () => Promise<unknown>): void {
    this.closers.push(fn);
  }

  /** Starts `omnibatch worker <args>` as its own process (`nodeArgs`: e.g. --cpu-prof for a profile). */
  spawnWorker(args: readonly string[] = [], extraEnv: Record<string, string> = {}, nodeArgs: readonly string[] = []): WorkerProc {
    const logFile = path.join(this.tmp, `worker-${this.workers.length}.log`);
    const child = spawn(process.execPath, [...nodeArgs, BIN, 'worker', ...args], {
      env: { ...process.env, ...this.env, ...extraEnv },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const log = createWriteStream(logFile);
    child.stderr!.pipe(log);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const w: WorkerProc = { child, pid: child.pid!, logFile, exited };
    this.workers.push(w);
    return w;
  }

  /** SIGTERM (graceful: finish or hand back) or SIGKILL, then wait for the exit (bounded). */
  async stopWorker(w: WorkerProc, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
    if (w.child.exitCode !== null || w.child.signalCode !== null) return;
    w.child.kill(signal);
    const t = await Promise.race([w.exited.then(() => 'ok'), sleep(timeoutMs, 'timeout')]);
    if (t === 'timeout') {
      w.child.kill('SIGKILL');
      await Promise.race([w.exited, sleep(5000)]);
    }
  }

  /** `cfg`: the producer's settings as `omnibatch run` flags would give them (`--tpm`, `--rpm`). */
  async createRun(req: RunRequest, cfg: Partial<Pick<Config, 'tpm' | 'rpm'>> = {}): Promise<string> {
    return (await createRun({ ...this.ctx, cfg: { ...this.cfg, ...cfg } }, req)).runId;
  }

  /** Polls the run until it ends; throws after timeoutMs (the caller's close() still cleans up). */
  async waitRun(
    runId: string,
    opts: { timeoutMs: number; pollMs?: number; onPoll?: (s: RunState) => void | Promise<void> },
  ): Promise<RunState & { endedAtMs: number }> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      const s = await this.ctx.runs.state(runId);
      if (!s) throw new Error(`run ${runId} not found`);
      await opts.onPoll?.(s);
      if (FINAL.has(s.status)) return { ...s, endedAtMs: Date.now() };
      if (Date.now() > deadline) {
        throw new Error(`run ${runId} did not end within ${opts.timeoutMs} ms: ${s.status}, ${JSON.stringify(s.counts)}`);
      }
      await sleep(opts.pollMs ?? 100);
    }
  }

  /** Failure codes of a run's files, with one example message each: what to look at when a figure is off. */
  async failures(runId: string): Promise<Record<string, { count: number; example: string }>> {
    const out: Record<string, { count: number; example: string }> = {};
    for await (const [, f] of this.ctx.runs.files(runId)) {
      if (f.status !== 'failed' && f.status !== 'not_run') continue;
      const code = f.code ?? f.status;
      out[code] ??= { count: 0, example: `${f.key}: ${(f.message ?? '').slice(0, 200)}` };
      out[code].count++;
    }
    return out;
  }

  /** Every stderr line the workers wrote so far. */
  async workerLogs(): Promise<string> {
    const parts = await Promise.all(this.workers.map((w) => readFile(w.logFile, 'utf8').catch(() => '')));
    return parts.join('\n');
  }

  /** Every key under the prefix (SCAN, not KEYS). */
  /** CPU seconds the Redis server has used so far (private Redis only: a shared one serves others too). */
  async redisCpuS(): Promise<number | undefined> {
    if (!this.privateRedis) return undefined;
    const info = await this.ctx.redis.info('cpu');
    const n = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    return n('used_cpu_sys') + n('used_cpu_user');
  }

  /** Calls per command name so far (INFO commandstats; private Redis only): where the round trips go. */
  async redisCommandStats(): Promise<Record<string, number>> {
    if (!this.privateRedis) return {};
    const info = await this.ctx.redis.info('commandstats');
    const out: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
    return out;
  }

  /** Commands the Redis server has processed so far (private Redis only). */
  async redisCommands(): Promise<number | undefined> {
    if (!this.privateRedis) return undefined;
    const info = await this.ctx.redis.info('stats');
    return Number(/^total_commands_processed:(\d+)/m.exec(info)?.[1] ?? 0);
  }

  async keys(): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    for (let i = 0; i < 100_000; i++) {
      const [next, batch] = await this.ctx.redis.scan(cursor, 'MATCH', `${this.cfg.queuePrefix}:*`, 'COUNT', 1000);
      out.push(...batch);
      cursor = next;
      if (cursor === '0') break;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) await this.stopWorker(w, 'SIGKILL', 5000).catch(() => undefined);
    if (this.scanSecrets) {
      const f = await scanFiles([this.tmp, ...this.scanDirs], BENCH_API_KEY).catch(() => ({ files: 0, bytes: 0, hits: ['scan failed'] }));
      const r = await scanRedis(this.ctx.redis, this.cfg.queuePrefix, BENCH_API_KEY).catch(() => ({ keys: 0, hits: ['scan failed'] }));
      recordScan({ scenario: this.name, files: f.files, bytes: f.bytes, redisKeys: r.keys, hits: [...f.hits, ...r.hits] });
    }
    const keys = await this.keys().catch(() => [] as string[]);
    for (let i = 0; i < keys.length; i += 500) await this.ctx.redis.del(...keys.slice(i, i + 500)).catch(() => undefined);
    await this.ctx.close().catch(() => undefined);
    for (const c of [...this.closers].reverse()) await c().catch(() => undefined);
  }
}

/** Runs `fn` with a harness and always closes it. */
export async function withHarness<T>(opts: HarnessOptions, fn: (h: Harness) => Promise<T>): Promise<T> {
  const h = await Harness.start(opts);
  active.add(h);
  try {
    return await fn(h);
  } finally {
    active.delete(h);
    await h.close();
  }
}

/** Harnesses open right now: a SIGINT to the runner closes them before it exits. */
const active = new Set<Harness>();
export async function closeAll(): Promise<void> {
  for (const h of [...active]) await h.close().catch(() => undefined);
}

/** A second Redis client for the same server (e.g. to watch a private Redis while it restarts). */
export function redisClient(url: string): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
  r.on('error', () => undefined);
  return r;
}
