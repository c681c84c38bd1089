/**
 * A real S3-protocol server for tests: s3rver in this process, on an ephemeral port, over a fresh
 * temp folder, with the buckets asked for. The hosting process needs --openssl-legacy-provider for
 * paginated listings (vitest.config.ts passes it; elsewhere use NODE_OPTIONS).
 *
 *   const s3 = await startS3rver({ buckets: ['media'] });
 *   Object.assign(process.env, s3.env);            // or pass s3.env to a child process
 *   const store = openStorage('s3://media/in/', { s3Endpoint: s3.endpoint });
 *   afterAll(() => s3.stop());
 */

import { randomUUID } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer: Server;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;
// s3rver is CommonJS without types.
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;

export interface S3rverHandle {
  /** e.g. http://127.0.0.1:40123 */
  endpoint: string;
  port: number;
  buckets: string[];
  /** where s3rver keeps its files (removed by stop) */
  directory: string;
  /** the variables the AWS SDK (and omnibatch's config) read to reach this server */
  env: Record<string, string>;
  /** the listening server, for tests that need to cut connections */
  server: Server;
  /** Cuts every open connection, closes the server and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * s3rver keeps three files per object; on this project's VMs creating a file on the ext4 disk costs
 * ~1.5 ms against ~0.02 ms on tmpfs, so the data goes to /dev/shm when there is one (S3RVER_DIR overrides).
 */
function dataBase(): string {
  if (process.env.S3RVER_DIR) return process.env.S3RVER_DIR;
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

/** Bucket names are random unless given: parallel test files never share one. */
export async function startS3rver(opts: { buckets?: string[] } = {}): Promise<S3rverHandle> {
  const buckets = opts.buckets ?? [`test-${randomUUID().slice(0, 8)}`];
  const directory = await mkdtemp(path.join(dataBase(), 's3rver-'));
  const instance = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await instance.run();
  const endpoint = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    port,
    buckets,
    directory,
    server: instance.httpServer,
    env: {
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stop() {
      stopped ??= (async () => {
        const closed = instance.close().catch(() => undefined);
        // close() waits for keep-alive sockets the SDK holds open: cut them.
        instance.httpServer.closeAllConnections();
        await closed;
        await rm(directory, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
