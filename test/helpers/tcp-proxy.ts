// A loopback TCP proxy that a test can cut and restore: "lainlet cut off from etcd" without
// touching etcd itself.
import net from 'node:net';
import { once } from 'node:events';

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private cut = false;
  private constructor(private readonly server: net.Server) {}

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `localAddress`: the address upstream connections come from (a caller IP for auth). */
  static async start(targetHost: string, targetPort: number, localAddress?: string): Promise<TcpProxy> {
    const server = net.createServer((client) => {
      if (proxy.cut) return client.destroy();
      const upstream = net.connect({ port: targetPort, host: targetHost, localAddress });
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
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

  async close(): Promise<void> {
    this.disconnect();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
