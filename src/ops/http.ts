/**
 * A small HTTP server for ops endpoints (metrics, health): listen, report the real port (port 0 in
 * tests), close without waiting for idle keep-alive sockets (a Prometheus scraper keeps one open).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OmniError } from '../util/errors.ts';

export interface RunningServer {
  port: number;
  /** http://host:port, with 127.0.0.1 when bound to every interface */
  url: string;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export async function startHttpServer(handler: Handler, port: number, host = '0.0.0.0'): Promise<RunningServer> {
  const server = http.createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  // a scraper's idle keep-alive socket must not hold the process open after close()
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new OmniError('listen_failed', `cannot listen on ${host}:${port}: ${err.code ?? err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    port: actual,
    url: `http://${shownHost}:${actual}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

export function send(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
