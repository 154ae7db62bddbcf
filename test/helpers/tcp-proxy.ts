// A loopback TCP proxy that a test can cut and restore: "lainlet cut off from etcd" without
// touching etcd itself. It can also cut in the middle of what the server is sending
// (cutAfter): the client then holds the first bytes of a response and never the rest.
import net from 'node:net';
import { once } from 'node:events';

interface PendingCut {
  /** Server-to-client bytes still allowed through before the cut. */
  remaining: number;
  done: () => void;
}

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private cut = false;
  private pendingCut: PendingCut | null = null;
  /** How many times a cutAfter() cut happened. */
  midStreamCuts = 0;
  /** Client connections accepted so far (a gRPC client connects on its first call). */
  accepted = 0;
  private holding = false;
  private readonly upstreams = new Set<net.Socket>();
  private constructor(private readonly server: net.Server) {}

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /**
   * `localAddress`: the address upstream connections come from (a caller IP for auth).
   * `delayToServerMs`: every client byte reaches the server that much later (a slow or busy
   * client: its requests arrive late, in order).
   */
  static async start(targetHost: string, targetPort: number, localAddress?: string, { delayToServerMs = 0 } = {}): Promise<TcpProxy> {
    const server = net.createServer((client) => {
      if (proxy.cut) return client.destroy();
      proxy.accepted++;
      const upstream = net.connect({ port: targetPort, host: targetHost, localAddress });
      proxy.upstreams.add(upstream);
      upstream.on('close', () => proxy.upstreams.delete(upstream));
      if (proxy.holding) upstream.pause();
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy.sockets.delete(s));
        s.on('error', () => {});
      }
      if (delayToServerMs > 0) {
        // Timers of one duration fire in the order they were set: the bytes stay in order.
        client.on('data', (chunk: Buffer) => setTimeout(() => upstream.write(chunk), delayToServerMs));
        client.on('end', () => setTimeout(() => upstream.end(), delayToServerMs));
      } else {
        client.pipe(upstream);
      }
      // Server to client by hand, to count the bytes for cutAfter().
      upstream.on('data', (chunk: Buffer) => {
        const pending = proxy.pendingCut;
        if (pending && chunk.length >= pending.remaining) {
          client.write(chunk.subarray(0, pending.remaining), () => proxy.cutNow());
          upstream.pause();
          return;
        }
        if (pending) pending.remaining -= chunk.length;
        if (!client.write(chunk)) {
          upstream.pause();
          client.once('drain', () => upstream.resume());
        }
      });
      upstream.on('end', () => client.end());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    const proxy = new TcpProxy(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Drops every connection and refuses new ones until restore(). */
  disconnect(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  /** Client connections open now. */
  get openConnections(): number {
    return this.upstreams.size;
  }

  /** Passes no more of the servers' bytes to clients (connections stay open: a hung server) until release(). */
  hold(): void {
    this.holding = true;
    for (const u of this.upstreams) u.pause();
  }

  release(): void {
    this.holding = false;
    for (const u of this.upstreams) u.resume();
  }

  /**
   * Lets `bytes` more bytes travel from the server to the client, then drops every connection
   * (new ones are accepted). Resolves when the cut has happened.
   */
  cutAfter(bytes: number): Promise<void> {
    return new Promise<void>((done) => {
      this.pendingCut = { remaining: bytes, done };
    });
  }

  private cutNow(): void {
    const pending = this.pendingCut;
    if (!pending) return;
    this.pendingCut = null;
    this.midStreamCuts++;
    for (const s of this.sockets) s.destroy();
    pending.done();
  }

  async close(): Promise<void> {
    this.disconnect();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
