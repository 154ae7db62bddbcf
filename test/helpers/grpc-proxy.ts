// `etcd grpc-proxy start` (the etcd binary's own scale-out proxy) for tests: a loopback port in
// front of one etcd, and the handles to break it on purpose (kill, freeze).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureEtcdInstalled } from '../../src/demo/etcd-process.js';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { OutputTail } from '../../src/demo/output-tail.js';

export class GrpcProxyProcess {
  private readonly out = new OutputTail(64 * 1024);
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
    private readonly dataDir: string,
  ) {
    this.out.follow(child.stdout);
    this.out.follow(child.stderr);
    this.exited = new Promise((r) => child.once('exit', () => r()));
    live.add(this);
  }

  /** Starts a proxy in front of `etcdEndpoint` and waits until it serves (its /metrics answers). */
  static async start(etcdEndpoint: string, extraArgs: string[] = []): Promise<GrpcProxyProcess> {
    const binary = await ensureEtcdInstalled();
    const dataDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'lainlet-grpc-proxy-'));
    const endpoint = `127.0.0.1:${await freeLoopbackPort()}`;
    const args = ['grpc-proxy', 'start', `--endpoints=${etcdEndpoint}`, `--listen-addr=${endpoint}`, `--data-dir=${dataDir}`, ...extraArgs];
    const proxy = new GrpcProxyProcess(spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }), endpoint, dataDir);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && proxy.isRunning) {
      try {
        if ((await fetch(`http://${endpoint}/metrics`, { signal: AbortSignal.timeout(1000) })).ok) return proxy;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    await proxy.stop();
    throw new Error(`etcd grpc-proxy did not start on ${endpoint}:\n${proxy.log()}`);
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return this.out.text();
  }

  /** The proxy's own Prometheus metrics (its cache hits and misses, watchers coalesced...). */
  async metrics(): Promise<string> {
    return (await fetch(`http://${this.endpoint}/metrics`)).text();
  }

  /** Make the proxy hang (connections stay open, nothing answers) until thaw(). */
  freeze(): void {
    if (this.isRunning) this.child.kill('SIGSTOP');
  }

  thaw(): void {
    if (this.isRunning) this.child.kill('SIGCONT');
  }

  /** Last resort when the test process exits without stop(). */
  killNow(): void {
    if (this.isRunning) this.child.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    if (this.isRunning) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    live.delete(this);
    await fs.promises.rm(this.dataDir, { recursive: true, force: true });
  }
}

// A test process that dies without stop() must not leave proxies running.
const live = new Set<GrpcProxyProcess>();
process.once('exit', () => {
  for (const p of live) p.killNow();
});
