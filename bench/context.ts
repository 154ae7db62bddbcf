// What every measurement gets: the running etcd, implementation, load client and cluster.
import type { Cluster } from './cluster.js';
import type { LoadClient } from './client.js';
import type { BenchEtcd } from './etcd.js';
import { now, type Target } from './target.js';

export interface BenchOptions {
  quick: boolean;
  /** Source addresses for the load client's sockets. */
  sources: string[];
}

export interface Ctx {
  etcd: BenchEtcd;
  target: Target;
  client: LoadClient;
  cluster: Cluster;
  opts: BenchOptions;
  log(msg: string): void;
}

/** A window of CPU use of the implementation and of the load client, for "who was the bottleneck". */
export class CpuWindow {
  private readonly t0 = now();
  private readonly target0: number;
  constructor(private readonly target: Target) {
    this.target0 = target.cpuMs();
  }
  /** CPU use in % of one core over the window; `clientCpuMs` as the client measured it. */
  end(clientCpuMs: number): { serverCpuPct: number; clientCpuPct: number; seconds: number } {
    const dt = now() - this.t0;
    return {
      serverCpuPct: Math.round(((this.target.cpuMs() - this.target0) / dt) * 100),
      clientCpuPct: Math.round((clientCpuMs / dt) * 100),
      seconds: Math.round(dt) / 1000,
    };
  }
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
