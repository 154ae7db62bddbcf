// Every process the scale simulation starts (etcd, grpc-proxies, node workers, lainlets, load
// clients) is registered here, so that it is stopped on every way out: the normal end, a
// failure, Ctrl-C or SIGTERM (async stop), and as a last resort a synchronous SIGKILL when the
// bench process exits anyway.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureEtcdInstalled } from '../../src/demo/etcd-process.js';
import { freeLoopbackPort } from '../../src/demo/free-port.js';

interface Owned {
  name: string;
  stop(): Promise<void>;
  /** Synchronous last resort (process 'exit'): SIGKILL, remove temp dirs. */
  killNow(): void;
}

const owned = new Set<Owned>();
let hooksInstalled = false;

/** Registers `p` for clean-up; returns a function that unregisters it (after its own stop). */
export function own(p: Owned): () => void {
  installHooks();
  owned.add(p);
  return () => owned.delete(p);
}

/** Stops everything still registered (in reverse order of start: clients before servers). */
export async function stopAll(): Promise<void> {
  const list = [...owned].reverse();
  owned.clear();
  for (const p of list) {
    try {
      await p.stop();
    } catch (err) {
      process.stderr.write(`scale: stopping ${p.name}: ${(err as Error).message}\n`);
      p.killNow();
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const p of owned) p.killNow();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`scale: ${signal}: stopping every process started\n`);
      // A second signal, or a stop that hangs, ends it the hard way (the 'exit' hook kills).
      const hard = setTimeout(() => process.exit(130), 15_000);
      hard.unref();
      void stopAll().finally(() => process.exit(130));
    });
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child exited. */
export async function terminate(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(graceMs, false)])) return;
  child.kill('SIGKILL');
  await Promise.race([exited, sleep(5_000)]);
}

/** `etcd grpc-proxy start` (the etcd binary's own proxy) on a free loopback port, in front of `etcdEndpoint`. */
export class GrpcProxy {
  readonly endpoint: string;
  private readonly child: ChildProcess;
  private log = '';
  private readonly unown: () => void;

  private constructor(
    binary: string,
    etcdEndpoint: string,
    port: number,
    private readonly dataDir: string,
  ) {
    this.endpoint = `127.0.0.1:${port}`;
    const args = ['grpc-proxy', 'start', `--endpoints=${etcdEndpoint}`, `--listen-addr=${this.endpoint}`, `--data-dir=${dataDir}`];
    this.child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr?.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-8000)));
    this.unown = own({
      name: `grpc-proxy ${this.endpoint}`,
      stop: () => this.stop(),
      killNow: () => {
        this.child.kill('SIGKILL');
        fs.rmSync(this.dataDir, { recursive: true, force: true });
      },
    });
  }

  static async start(etcdEndpoint: string): Promise<GrpcProxy> {
    const binary = await ensureEtcdInstalled();
    const dataDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'lainlet-scale-proxy-'));
    const proxy = new GrpcProxy(binary, etcdEndpoint, await freeLoopbackPort(), dataDir);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proxy.child.exitCode !== null) break;
      try {
        // The proxy serves /metrics over HTTP on its gRPC port once it listens.
        const res = await fetch(`http://${proxy.endpoint}/metrics`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return proxy;
      } catch {
        // not yet
      }
      await sleep(100);
    }
    await proxy.stop();
    throw new Error(`etcd grpc-proxy did not start on ${proxy.endpoint}:\n${proxy.log}`);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async stop(): Promise<void> {
    await terminate(this.child);
    this.unown();
    await fs.promises.rm(this.dataDir, { recursive: true, force: true });
  }
}
