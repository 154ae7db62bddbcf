// The bench's handle on the load client process (bench/load-client.ts, forked, driven over IPC).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientRequest, GetResult, WatchResult } from './load-client.js';

const SCRIPT = fileURLToPath(new URL('./load-client.ts', import.meta.url));

export class LoadClient {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;

  constructor() {
    this.child = fork(SCRIPT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(`load client: ${m.error}`));
      else p.resolve(m.result);
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        for (const p of this.pending.values()) p.reject(new Error(`load client exited (code ${code})`));
        this.pending.clear();
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  call(req: Extract<ClientRequest, { type: 'get' }>): Promise<GetResult>;
  call(req: Extract<ClientRequest, { type: 'watch' }>): Promise<WatchResult>;
  call(req: Extract<ClientRequest, { type: 'await' }>): Promise<{ times: number[]; missing: number; cpuMs: number }>;
  call(req: Extract<ClientRequest, { type: 'collect-markers' }>): Promise<{ marks: number[]; cpuMs: number }>;
  call(req: ClientRequest): Promise<unknown>;
  call(req: ClientRequest): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, req });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.disconnect();
    if (await Promise.race([this.exited.then(() => true), sleep(5000, false)])) return;
    this.child.kill('SIGKILL');
    await Promise.race([this.exited, sleep(5000)]);
  }
}

/** Loopback source addresses for the client's sockets (127.0.0.1 .. 127.0.0.n). */
export function sources(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
}
