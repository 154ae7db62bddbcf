// etcd's own account of the load: its Prometheus `/metrics` (client port), read before and after
// each phase of the scale simulation, and its memory from /proc (a 100 ms sampler, since
// process_resident_memory_bytes is only a point in time and VmHWM never goes down by itself).
import fs from 'node:fs';

/** One sample line: name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus' text format (what etcd serves); comments and malformed lines are skipped. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    // etcd's label values hold no escaped quotes, so a simple scan is enough.
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[l[1]] = l[2];
    const value = Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

/** Sum of a metric's samples whose labels match `where`. */
export function sumOf(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** The figures the scale bench reads from etcd, at one moment. */
export interface EtcdFigures {
  at: number;
  watchStreams: number;
  watchers: number;
  /** Range calls etcd has answered (any code). */
  rangeCalls: number;
  putCalls: number;
  /** Bytes etcd has sent to gRPC clients (our nodes, the proxies, the bench's own writer). */
  sentBytes: number;
  cpuSeconds: number;
  rssBytes: number;
  leaseKeepAliveMsgs: number;
  /** LeaseKeepAlive streams open now (started, not yet ended). */
  leaseKeepAliveStreams: number;
  leaseGrants: number;
  /** Events etcd has sent to watchers (each event once per etcd watcher it went to). */
  eventsSent: number;
  /** etcd's current revision. */
  revision: number;
}

export async function readEtcdFigures(clientUrl: string): Promise<EtcdFigures> {
  const res = await fetch(`${clientUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`etcd ${clientUrl}/metrics: HTTP ${res.status}`);
  const s = parsePrometheus(await res.text());
  const handled = (method: string) => sumOf(s, 'grpc_server_handled_total', { grpc_method: method });
  return {
    at: Date.now(),
    watchStreams: sumOf(s, 'etcd_debugging_mvcc_watch_stream_total'),
    watchers: sumOf(s, 'etcd_debugging_mvcc_watcher_total'),
    rangeCalls: handled('Range'),
    putCalls: handled('Put'),
    sentBytes: sumOf(s, 'etcd_network_client_grpc_sent_bytes_total'),
    cpuSeconds: sumOf(s, 'process_cpu_seconds_total'),
    rssBytes: sumOf(s, 'process_resident_memory_bytes'),
    leaseKeepAliveMsgs: sumOf(s, 'grpc_server_msg_received_total', { grpc_method: 'LeaseKeepAlive' }),
    leaseKeepAliveStreams: sumOf(s, 'grpc_server_started_total', { grpc_method: 'LeaseKeepAlive' }) - handled('LeaseKeepAlive'),
    leaseGrants: handled('LeaseGrant'),
    eventsSent: sumOf(s, 'etcd_debugging_mvcc_events_total'),
    revision: sumOf(s, 'etcd_debugging_mvcc_current_revision'),
  };
}

/** Counters' growth between two readings (gauges: the later value). */
export function delta(a: EtcdFigures, b: EtcdFigures) {
  return {
    seconds: (b.at - a.at) / 1000,
    rangeCalls: b.rangeCalls - a.rangeCalls,
    putCalls: b.putCalls - a.putCalls,
    sentBytes: b.sentBytes - a.sentBytes,
    cpuSeconds: Math.round((b.cpuSeconds - a.cpuSeconds) * 100) / 100,
    leaseKeepAliveMsgs: b.leaseKeepAliveMsgs - a.leaseKeepAliveMsgs,
    leaseGrants: b.leaseGrants - a.leaseGrants,
    eventsSent: b.eventsSent - a.eventsSent,
    revisions: b.revision - a.revision,
  };
}

/** A process' resident memory, sampled every `everyMs`; `peak()` since the last `reset()`. */
export class RssSampler {
  private max = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    everyMs = 100,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
    this.sample();
  }

  reset(): void {
    this.max = 0;
    // Also reset the kernel's own high-water mark (VmHWM), which sees peaks between samples.
    // Linux >= 4.0; needs the right to write the process' clear_refs (root here): best effort.
    try {
      fs.writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
    } catch {
      // the sampled peak alone then
    }
    this.sample();
  }

  /** The highest of the samples and VmHWM since the last reset, in bytes. */
  peak(): number {
    this.sample();
    return this.max;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    try {
      const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
      for (const field of ['VmRSS', 'VmHWM']) {
        const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
        if (m) this.max = Math.max(this.max, Number(m[1]) * 1024);
      }
    } catch {
      // the process is gone
    }
  }
}

