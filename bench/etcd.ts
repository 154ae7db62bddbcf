// The benchmark's own etcd: loopback ports, a temp data dir, the v2 API switched on when the
// implementation under test reads etcd through it. Writes go through etcd's HTTP APIs (the v3
// JSON gateway or v2 /v2/keys), never through the implementation's own client.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdHttp } from '../src/demo/etcd-http.js';
import { ensureEtcdInstalled } from '../src/demo/etcd-process.js';
import { freeLoopbackPorts } from '../src/demo/free-port.js';

export type EtcdApi = 'v2' | 'v3';

export class BenchEtcd {
  readonly endpoint: string;
  readonly url: string;
  private readonly v3: EtcdHttp;
  private exit: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly dataDir: string,
    port: number,
    readonly api: EtcdApi,
  ) {
    this.endpoint = `127.0.0.1:${port}`;
    this.url = `http://${this.endpoint}`;
    this.v3 = new EtcdHttp(this.endpoint, { timeoutMs: 10_000 });
    this.exit = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(api: EtcdApi): Promise<BenchEtcd> {
    const binary = await ensureEtcdInstalled();
    // In memory when possible: the bench measures the implementation, not the disk's fsync.
    const parent = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    const dataDir = await fs.promises.mkdtemp(path.join(parent, 'lainlet-bench-etcd-'));
    const [client, peer] = await freeLoopbackPorts(2);
    const c = `http://127.0.0.1:${client}`;
    const p = `http://127.0.0.1:${peer}`;
    const args = [
      '--name=bench', `--data-dir=${dataDir}`, `--listen-client-urls=${c}`, `--advertise-client-urls=${c}`,
      `--listen-peer-urls=${p}`, `--initial-advertise-peer-urls=${p}`, `--initial-cluster=bench=${p}`,
      '--initial-cluster-state=new', `--enable-v2=${api === 'v2'}`, '--log-level=warn', '--logger=zap',
      '--quota-backend-bytes=4294967296', '--max-request-bytes=33554432',
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-8000)));
    const etcd = new BenchEtcd(child, dataDir, client, api);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`etcd exited at start:\n${log}`);
      try {
        const res = await fetch(`${c}/health`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return etcd;
      } catch {
        // not yet
      }
      await sleep(100);
    }
    await etcd.stop();
    throw new Error(`etcd did not become healthy:\n${log}`);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Put one key; resolves with the write's revision (v2: modifiedIndex) once etcd acknowledged it. */
  async put(key: string, value: string): Promise<number> {
    if (this.api === 'v3') return this.v3.put(key, value);
    const res = await fetch(`${this.url}/v2/keys${encodeURI(key)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ value }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { node?: { modifiedIndex?: number } };
    if (!res.ok) throw new Error(`etcd v2 put ${key}: HTTP ${res.status}`);
    return Number(body.node?.modifiedIndex ?? NaN);
  }

  async putMany(kv: Record<string, string>, concurrency = 16): Promise<void> {
    const entries = Object.entries(kv);
    let next = 0;
    const worker = async () => {
      while (next < entries.length) {
        const [k, v] = entries[next++];
        await this.put(k, v);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** etcd's count of watchers (all clients): how many watches the implementation holds. */
  async watchers(): Promise<number | undefined> {
    try {
      return await this.v3.metric('etcd_debugging_mvcc_watcher_total');
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const killed = await Promise.race([this.exit.then(() => true), sleep(5000, false)]);
      if (!killed) {
        this.child.kill('SIGKILL');
        await Promise.race([this.exit, sleep(5000)]);
      }
    }
    await fs.promises.rm(this.dataDir, { recursive: true, force: true });
  }
}
