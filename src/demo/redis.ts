/**
 * A private redis-server for the demo, the benchmarks and chaos tests: started on a free port in a temp
 * directory when nothing answers at REDIS_URL, stopped afterwards.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { OmniError } from '../util/errors.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
  /** stops and starts the same server again (same port, same data dir): for restart tests */
  restart(): Promise<void>;
}

export async function startPrivateRedis(opts: { persistence?: boolean; port?: number } = {}): Promise<PrivateRedis> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new OmniError('redis_unavailable', 'no Redis answers at REDIS_URL and no redis-server binary is installed: install Redis or set REDIS_URL');
  }
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omnibatch-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    opts.persistence ? 'yes' : 'no',
    ...(opts.persistence ? ['--appendfsync', 'always'] : []),
  ];
  const url = `redis://127.0.0.1:${port}`;
  const start = async (): Promise<ChildProcess> => {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await redisAnswers(url, 200)) return child;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new OmniError('redis_unavailable', `private redis-server on port ${port} did not start`);
  };
  const stopChild = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  const handle: PrivateRedis = {
    url,
    port,
    dir,
    process: await start(),
    async stop() {
      await stopChild(handle.process);
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopChild(handle.process);
      handle.process = await start();
    },
  };
  return handle;
}
