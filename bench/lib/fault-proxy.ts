/**
 * A fault-injecting HTTP proxy for S3: in front of s3rver, it answers a share of requests with
 * 503 SlowDown (S3's throttling error, XML body) or resets the connection, either BEFORE the request reaches
 * the store or AFTER the store handled it (the response is lost: the client must not assume the write failed
 * or succeeded). Everything else is forwarded unchanged. Faults are drawn from a seeded PRNG.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { seededRandom as rng } from '../../src/util/random.ts';

export interface FaultProxy {
  endpoint: string;
  stats: { requests: number; slowDown: number; resetBefore: number; resetAfter: number; forwarded: number };
  close(): Promise<void>;
}

const SLOW_DOWN =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>' +
  '<RequestId>FAULTPROXY</RequestId></Error>';

export async function startFaultProxy(targetPort: number, opts: { slowDown: number; reset: number; seed?: number }): Promise<FaultProxy> {
  const rand = rng(opts.seed ?? 7);
  const stats = { requests: 0, slowDown: 0, resetBefore: 0, resetAfter: 0, forwarded: 0 };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    stats.requests++;
    const r = rand();
    const half = rand() < 0.5;
    if (r < opts.slowDown) {
      stats.slowDown++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(SLOW_DOWN) });
      res.end(SLOW_DOWN);
      return;
    }
    const reset = r < opts.slowDown + opts.reset;
    if (reset && half) {
      stats.resetBefore++;
      req.socket.destroy();
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
      if (reset) {
        // The store did the work; the client never hears of it.
        stats.resetAfter++;
        ur.resume();
        ur.on('end', () => req.socket.destroy());
        return;
      }
      stats.forwarded++;
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => req.socket.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    async close() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
