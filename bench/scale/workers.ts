// The parent's handle on one node worker process (bench/scale/node-worker.ts): fork, requests
// over IPC, stop. Registered for clean-up like every process the simulation starts.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { own, terminate } from './processes.js';
import type { WorkerReply, WorkerRequest, WorkerStats } from './protocol.js';

const SCRIPT = fileURLToPath(new URL('./node-worker.ts', import.meta.url));

export class NodeWorker {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: WorkerReply) => void; reject: (e: Error) => void }>();
  private readonly unown: () => void;

  constructor(readonly name: string) {
    this.child = fork(SCRIPT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: { id: number; reply?: WorkerReply; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(`${this.name}: ${m.error}`));
      else p.resolve(m.reply!);
    });
    this.child.once('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`${this.name} exited (code ${code}, signal ${signal})`));
      this.pending.clear();
    });
    this.unown = own({ name: this.name, stop: () => this.stop(), killNow: () => this.child.kill('SIGKILL') });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  call(req: WorkerRequest): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.child.connected) return reject(new Error(`${this.name} is not running`));
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, req });
    });
  }

  async stats(req: Extract<WorkerRequest, { type: 'stats' | 'await-synced' }>): Promise<WorkerStats> {
    const reply = await this.call(req);
    if (reply.type !== 'stats') throw new Error(`${this.name}: unexpected reply ${reply.type}`);
    return reply.stats;
  }

  async arrivals(): Promise<number[]> {
    const reply = await this.call({ type: 'collect' });
    if (reply.type !== 'arrivals') throw new Error(`${this.name}: unexpected reply ${reply.type}`);
    return reply.arrivals;
  }

  /** Closes its nodes (revoking their leases), then ends the process. */
  async stop(): Promise<void> {
    if (this.child.connected) {
      await Promise.race([this.call({ type: 'stop' }).catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
      // It may have gone meanwhile (a Ctrl-C reaches the whole process group).
      if (this.child.connected) this.child.disconnect();
    }
    await terminate(this.child, 3_000);
    this.unown();
  }
}
