// One worker process of the scale simulation (forked by bench/scale/workers.ts, driven over
// IPC): it runs many simulated lainlet nodes, each our REAL store layer (EtcdStore: snapshot
// read, one watch, its liveness probe) plus the node's registry lease, with a sink that only
// counts and, while recording, notes when each pod-group write arrived.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { EtcdStore, type StoreSink } from '../../src/store/etcd-store.js';
import { isClusterData, startNodeRegistry, type NodeRegistry } from './registry.js';
import type { NodeSpec, WorkerReply, WorkerRequest, WorkerStats } from './protocol.js';

const POD_GROUP_PREFIX = '/lain/deployd/pod_groups/';
/** How often node states are polled to time the moment each one is synced. */
const POLL_MS = 20;

// Warnings of a thousand nodes would drown the output: errors only (reconnects are counted).
const logger = pino({ level: process.env.SCALE_NODE_LOG_LEVEL ?? 'error', base: undefined }, pino.destination(2));

function now(): number {
  return performance.timeOrigin + performance.now();
}

class SimNode {
  store: EtcdStore;
  registry: NodeRegistry | undefined;
  running: Promise<void>;
  /** The revision of what this node has applied. */
  revision = 0;
  /** The newest cluster data (not registry keys) it has applied: what its registry key publishes. */
  dataRevision = 0;
  snapshotted = false;
  /** When it was first synced (snapshot applied, watch open, at or past `minRevision`) since its (re)start. */
  syncedAt = NaN;
  keys = 0;
  events = 0;
  /** The registry keys this node sees: the live lainlets, as the daemon's mirror counts them. */
  private readonly instances = new Set<string>();
  private closed = false;

  constructor(
    readonly index: number,
    readonly spec: NodeSpec,
    private readonly minRevision: number,
    private readonly recorder: Recorder,
    withRegistry: boolean,
  ) {
    const sink: StoreSink = {
      snapshot: (kvs, revision) => {
        this.keys = kvs.length;
        this.revision = revision;
        this.dataRevision = kvs.reduce((max, kv) => (isClusterData(kv.key) ? Math.max(max, kv.modRevision) : max), 0);
        this.instances.clear();
        for (const kv of kvs) if (!isClusterData(kv.key)) this.instances.add(kv.key);
        this.snapshotted = true;
        // As the daemon: registered from the first snapshot on (before it, the revision it would publish says nothing).
        if (withRegistry && !this.registry && !this.closed) this.registry = startNodeRegistry(spec, logger, () => this.dataRevision, () => this.instances.size);
      },
      events: (changes, revision) => {
        this.revision = revision;
        this.events += changes.length;
        for (const c of changes) {
          if (isClusterData(c.key)) this.dataRevision = c.modRevision;
          else if (c.type === 'put') this.instances.add(c.key);
          else this.instances.delete(c.key);
        }
        if (!this.recorder.on) return;
        const t = now();
        for (const c of changes) if (c.key.startsWith(POD_GROUP_PREFIX)) this.recorder.add(this.index, c.modRevision, t);
      },
    };
    this.store = new EtcdStore({ endpoints: [spec.endpoint], prefix: '/lain/', logger }, sink);
    this.running = this.store.run();
  }

  poll(t: number): void {
    if (!Number.isNaN(this.syncedAt) || !this.snapshotted || this.revision < this.minRevision) return;
    if (this.store.status().state === 'connected') this.syncedAt = t;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.store.close();
    await Promise.all([this.running, this.registry?.close()]);
  }
}

/** Arrival times of pod-group events, flat: node index, mod revision, time. */
class Recorder {
  on = false;
  data: number[] = [];
  add(node: number, revision: number, t: number): void {
    this.data.push(node, revision, t);
  }
}

const recorder = new Recorder();
// How late this process' event loop ran while recording: arrival times are late by as much when
// the simulation itself (hundreds of nodes on shared cores) is the bottleneck.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let specs: NodeSpec[] = [];
let withRegistry = false;
let nodes: SimNode[] = [];
let startedAt = NaN;

const poller = setInterval(() => {
  const t = now();
  for (const n of nodes) n.poll(t);
}, POLL_MS);

function startAll(minRevision: number): void {
  startedAt = now();
  nodes = specs.map((spec, i) => new SimNode(i, spec, minRevision, recorder, withRegistry));
}

async function closeAll(): Promise<void> {
  const old = nodes;
  nodes = [];
  await Promise.all(old.map((n) => n.close()));
}

async function awaitSynced(timeoutMs: number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (now() < deadline && nodes.some((n) => Number.isNaN(n.syncedAt))) {
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function stats(): WorkerStats {
  const u = process.cpuUsage();
  const statuses = nodes.map((n) => n.store.status());
  return {
    nodes: nodes.length,
    startedAt,
    syncedAt: nodes.map((n) => n.syncedAt),
    revisions: nodes.map((n) => n.revision),
    connected: statuses.filter((s) => s.state === 'connected').length,
    catchingUp: statuses.filter((s) => s.catchingUp).length,
    catchUpsResumed: statuses.reduce((a, s) => a + s.catchUpsResumed, 0),
    stuck: statuses
      .filter((s) => s.catchingUp)
      .slice(0, 3)
      .map((s) => JSON.stringify({ revision: s.revision, snap: s.lastSnapshot?.revision, catchUps: s.catchUps, resumed: s.catchUpsResumed, settled: s.settled, lost: s.lostEventsSeen, refreshed: s.refreshedReads, checks: s.checkReads, mainShared: s.mainShared })),
    mainShared: statuses.filter((s) => s.mainShared).length,
    snapshots: statuses.reduce((a, s) => a + s.snapshots, 0),
    reconnects: statuses.reduce((a, s) => a + s.reconnects, 0),
    lastErrors: [...new Set(statuses.map((s) => s.lastError).filter((e): e is string => !!e))].slice(0, 5),
    events: nodes.reduce((a, n) => a + n.events, 0),
    readPages: statuses.reduce((a, s) => a + (s.lastSnapshot?.pages ?? 0), 0),
    staleReads: statuses.reduce((a, s) => a + s.staleReads, 0),
    registryErrors: [...new Set(nodes.map((n) => n.registry?.lastError()).filter((e): e is string => !!e))].slice(0, 5),
    checkReads: statuses.reduce((a, s) => a + s.checkReads, 0),
    refreshedReads: statuses.reduce((a, s) => a + s.refreshedReads, 0),
    lostEvents: statuses.reduce((a, s) => a + s.lostEventsSeen, 0),
    minKeys: nodes.reduce((a, n) => Math.min(a, n.keys), Infinity),
    registered: nodes.filter((n) => n.registry?.registered()).length,
    cpuMs: (u.user + u.system) / 1000,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    rssBytes: process.memoryUsage().rss,
  };
}

async function handle(req: WorkerRequest): Promise<WorkerReply> {
  switch (req.type) {
    case 'start':
      specs = req.nodes;
      withRegistry = req.registry;
      startAll(req.minRevision);
      return { type: 'ok' };
    case 'restart':
      // All at once: close every node, then start every node again without a pause.
      await closeAll();
      startAll(req.minRevision);
      return { type: 'ok' };
    case 'await-synced':
      await awaitSynced(req.timeoutMs);
      return { type: 'stats', stats: stats() };
    case 'stats':
      return { type: 'stats', stats: stats() };
    case 'record':
      recorder.on = req.on;
      if (req.on) {
        recorder.data = [];
        loopDelay.reset();
      }
      return { type: 'ok' };
    case 'collect': {
      const data = recorder.data;
      recorder.data = [];
      return { type: 'arrivals', arrivals: data };
    }
    case 'stop':
      await closeAll();
      clearInterval(poller);
      return { type: 'ok' };
  }
}

process.on('message', (m: { id: number; req: WorkerRequest }) => {
  handle(m.req).then(
    (reply) => process.send!({ id: m.id, reply }),
    (err: Error) => process.send!({ id: m.id, error: err.stack ?? String(err) }),
  );
});
// The parent is gone (or done with us): nothing to keep.
process.on('disconnect', () => process.exit(0));
