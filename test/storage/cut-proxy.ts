/**
 * A TCP proxy that breaks connections at an exact byte count, so "the connection died mid-body" is
 * deterministic instead of a race against a fast local server.
 *
 * Per connection it forwards up to `afterResponseBytes` bytes server->client (or `afterRequestBytes`
 * client->server), then forwards nothing more and runs `onCut`: 'destroy' drops both sockets,
 * 'stall' holds them open and silent (a hung server), a function lets the test act (stop the real
 * server, abort a signal) while the connection is held mid-body.
 * `flipResponseByteAt` / `flipRequestByteAt` instead corrupt one byte at that offset of each
 * connection's stream: same length, different content, as a bad disk or NIC would.
 */
import net from 'node:net';

export type CutAction = 'destroy' | 'stall' | (() => void | Promise<void>);

export interface CutProxy {
  endpoint: string;
  /** how many connections were cut so far */
  readonly cuts: number;
  close(): Promise<void>;
}

export interface CutOptions {
  afterResponseBytes?: number;
  afterRequestBytes?: number;
  onCut?: CutAction;
  flipResponseByteAt?: number;
  flipRequestByteAt?: number;
}

export async function startCutProxy(targetPort: number, opts: CutOptions): Promise<CutProxy> {
  const sockets = new Set<net.Socket>();
  let cuts = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let cut = false;
    let down = 0;
    let up = 0;
    const doCut = () => {
      if (cut) return;
      cut = true;
      cuts++;
      const action = opts.onCut ?? 'destroy';
      if (action === 'destroy') {
        client.destroy();
        upstream.destroy();
      } else if (action !== 'stall') {
        void Promise.resolve(action()).catch(() => undefined);
      }
    };
    const relay = (from: net.Socket, to: net.Socket, limit: number | undefined, count: (n: number) => number, flipAt?: number) => {
      from.on('data', (chunk: Buffer) => {
        if (cut) return;
        const before = count(0);
        if (flipAt !== undefined && flipAt >= before && flipAt < before + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[flipAt - before] ^= 0xff;
        }
        if (limit !== undefined && before + chunk.length >= limit) {
          const keep = chunk.subarray(0, Math.max(0, limit - before));
          count(keep.length);
          if (keep.length > 0) to.write(keep);
          doCut();
          return;
        }
        count(chunk.length);
        to.write(chunk);
      });
    };
    relay(upstream, client, opts.afterResponseBytes, (n) => (down += n), opts.flipResponseByteAt);
    relay(client, upstream, opts.afterRequestBytes, (n) => (up += n), opts.flipRequestByteAt);
    // When one side goes away (e.g. the real server was stopped), the other goes too.
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get cuts() {
      return cuts;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
