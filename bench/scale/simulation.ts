// The cluster-scale simulation (issue 12): N simulated lainlet nodes (our real store layer and
// registry lease, in a few worker processes) plus a few full lainlets with SSE watchers, against
// one etcd, in two topologies: direct, and through P `etcd grpc-proxy` processes. Each topology
// gets a fresh etcd (so its memory, CPU and counters are its own) loaded with the same cluster,
// and goes through the same phases: cold start, idle, steady writes, restart storm. The figures
// come from etcd's own /metrics and /proc, and from the nodes' arrival times.
import fs from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdHttp } from '../../src/demo/etcd-http.js';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { EtcdClient } from '../../src/store/etcd-client.js';
import { LoadClient } from '../client.js';
import { markPodGroup, podGroups, type Cluster } from '../cluster.js';
import { pct } from '../context.js';
import { BenchEtcd } from '../etcd.js';
import { getOnce } from '../measure-start.js';
import { fillTemplate, now, Target } from '../target.js';
import { delta, readEtcdFigures, RssSampler, type EtcdFigures } from './etcd-metrics.js';
import { own, startGrpcProxy } from './processes.js';
import { leastStormCost, measureWatchReplay, type StormFloor } from './storm-floor.js';
import type { NodeSpec, WorkerStats } from './protocol.js';
import { NodeWorker } from './workers.js';

export type Topology = 'direct' | 'proxy';

export interface ScaleOptions {
  nodes: number;
  proxies: number;
  workers: number;
  /** Full lainlets (the real daemon, child processes), each with `sseWatchers` SSE watchers. */
  lainlets: number;
  sseWatchers: number;
  /** Pod-group writes per second in the steady phase, for `steadySeconds`. */
  rate: number;
  steadySeconds: number;
  /** Length of the idle window (watch streams held, lease keep-alives per second). */
  idleSeconds: number;
  /** How long a start or a restart storm may take before the phase is given up. */
  syncTimeoutMs: number;
  /** Each node keeps its registry key alive (/lain/lainlet/instances/<host>). */
  registry: boolean;
  /** The full lainlet's command, with {web} and {etcd} (see bench/target.ts). */
  lainletCommand: string;
  topologies: Topology[];
  cluster: { label: string; data: Cluster };
  log(msg: string): void;
}

export interface Latency {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  count: number;
}

export interface TopologyResult {
  topology: Topology;
  proxies: number;
  /** Watch streams and watchers etcd held before any node (the proxies' own). */
  baseline: { watchStreams: number; watchers: number };
  /** Bytes etcd sent for one full read of /lain/ (one Range, measured). */
  fullReadBytes: number;
  coldStart: StormFigures;
  idle: {
    seconds: number;
    watchStreams: number;
    /** The fewest watchers etcd held over the window (probes in flight come and go). */
    watchers: number;
    leaseKeepAlivesPerSec: number;
    leaseKeepAliveStreams: number;
    sentBytesPerSec: number;
    /** Range calls etcd served per second (liveness probes through a proxy cost one each). */
    rangeCallsPerSec: number;
    cpuPct: number;
    rssBytes: number;
    registered: number;
    /** Through proxies: etcd watchers beyond the proxies' own, per proxy (1 when a proxy merged all its nodes' watches). */
    etcdWatchersPerProxy?: number;
  };
  steady: {
    writes: number;
    seconds: number;
    meanValueBytes: number;
    /** Per write: from its send to the moment the last simulated node had it. */
    toAllNodes: Latency;
    /** Every (write, node) pair. */
    perNode: Latency;
    /** Every (write, SSE watcher of a full lainlet) pair. */
    sse: Latency;
    /** (write, node) pairs that never arrived; must be 0. */
    missing: number;
    sseMissing: number;
    sentBytes: number;
    sentBytesPerWrite: number;
    /** The same, less the idle background (keep-alives, probes) over the window. */
    netBytesPerWrite: number;
    netBytesPerWriteOverValue: number;
    /** Put calls other than ours (registry keys rewritten as the nodes' revisions moved). */
    otherPuts: number;
    /** Leases granted: registry re-registrations (a lease lost when keep-alives went unanswered for a TTL). */
    leaseGrants: number;
    rangeCalls: number;
    cpuSeconds: number;
    watchStreams: number;
    watchers: number;
    /** The node workers' own event-loop delay meanwhile (worst worker): how much of the delays is the simulation's. */
    workerLoopDelayP99Ms: number;
    workerLoopDelayMaxMs: number;
  };
  /** Watch re-opens (and other store reconnects) of all nodes between the first start and the storm: 0 when liveness works. */
  reconnectsBeforeStorm: number;
  storm: StormFigures;
  /** What one etcd watch's share of the storm and a full read after it cost (see storm-floor.ts); absent in older results. */
  stormFloor?: StormFloor;
  peakRssBytes: number;
  cpuSeconds: number;
  nodeWorkers: { cpuSeconds: number; rssBytes: number };
  errors: string[];
}

export interface StormFigures {
  nodes: number;
  synced: number;
  /** From the restart command to the last node synced. */
  allSyncedMs: number;
  p50SyncedMs: number;
  sentBytes: number;
  sentOverFullReads: number;
  rangeCalls: number;
  cpuSeconds: number;
  peakRssBytes: number;
  watchStreamsAfter: number;
  watchersAfter: number;
  /** etcd watchers once no node was catching up any more (or 60 s after the last synced); absent in older results. */
  watchersSettled?: number;
  reconnects: number;
  /** Range calls the nodes made for their snapshots (pages); through proxies most are answered from their caches. */
  nodeReadPages: number;
  /** Snapshots read again from etcd itself because a cached one was older than a compaction. */
  staleReads: number;
  /** Snapshots read again from etcd itself because a cached one missed cluster data written since. */
  refreshedReads: number;
  /** Times a proxy skipped events of a node's catch-up watch (noticed; the snapshot read again). */
  lostEvents: number;
  /** Revisions etcd wrote, and events it sent to its watchers (each once per watcher), up to the last node synced. */
  revisions: number;
  eventsSent: number;
  /** The most etcd watchers held at once (sampled every second). */
  peakWatchers: number;
  /** Nodes still catching up when the last one synced, and from then until none is (or 60 s): ms, etcd bytes sent, events sent. */
  catchingUpAtSync: number;
  tail: { ms: number; sentBytes: number; eventsSent: number; catchingUp: number };
}

export interface ScaleResults {
  date: string;
  /** The lainlet commit measured (`git describe --always --dirty`), when known. */
  commit?: string;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; node: string; load1AtStart: number; load1AtEnd: number; otherLoad: string };
  options: Omit<ScaleOptions, 'cluster' | 'log' | 'lainletCommand'>;
  cluster: { label: string; keys: number; rawBytes: number; podGroups: number; podGroupValueBytes: { min: number; median: number; max: number } };
  topologies: Partial<Record<Topology, TopologyResult>>;
}

/** Above every other bench marker, so an old marker never looks new. */
const SEQ_BASE = 20_000_000;
const SSE_PATH = '/v2/webrouter/webprocs';

export async function runScale(opts: ScaleOptions): Promise<ScaleResults> {
  const pgSizes = podGroups(opts.cluster.data)
    .map((p) => Buffer.byteLength(p.value))
    .sort((a, b) => a - b);
  const results: ScaleResults = {
    date: new Date().toISOString(),
    machine: machine(),
    options: optionsOf(opts),
    cluster: {
      label: opts.cluster.label,
      keys: opts.cluster.data.keys,
      rawBytes: opts.cluster.data.rawBytes,
      podGroups: pgSizes.length,
      podGroupValueBytes: { min: pgSizes[0] ?? 0, median: pct(pgSizes, 50), max: pgSizes[pgSizes.length - 1] ?? 0 },
    },
    topologies: {},
  };
  for (const topology of opts.topologies) {
    results.topologies[topology] = await runTopology(opts, topology);
  }
  results.machine.load1AtEnd = Math.round(os.loadavg()[0] * 100) / 100;
  return results;
}

async function runTopology(opts: ScaleOptions, topology: Topology): Promise<TopologyResult> {
  const log = (msg: string) => opts.log(`[${topology}] ${msg}`);
  const started: Array<{ stop(): Promise<void> }> = [];
  const errors: string[] = [];
  const etcd = await BenchEtcd.start('v3');
  const etcdPid = etcd.pid!;
  const unownEtcd = own({
    name: 'etcd',
    stop: () => etcd.stop(),
    killNow: () => {
      killSync(etcdPid);
      fs.rmSync(etcd.dataDir, { recursive: true, force: true });
    },
  });
  const peakRss = new RssSampler(etcdPid);
  const stormRss = new RssSampler(etcdPid);
  try {
    await etcd.putMany(opts.cluster.data.kv);
    const gateway = new EtcdHttp(etcd.endpoint, { timeoutMs: 10_000 });
    log(`etcd ${etcd.endpoint} (pid ${etcdPid}, data in ${etcd.dataDir}) loaded: ${opts.cluster.data.keys} keys`);

    const proxies: Array<{ endpoint: string; stop(): Promise<void> }> = [];
    if (topology === 'proxy') {
      for (let i = 0; i < opts.proxies; i++) proxies.push(await startGrpcProxy(etcd.endpoint));
      started.push(...proxies);
      log(`${proxies.length} grpc-proxies: ${proxies.map((p) => p.endpoint).join(', ')}`);
    }
    const endpointFor = (i: number) => (proxies.length ? proxies[i % proxies.length].endpoint : etcd.endpoint);
    await sleep(500);
    const f0 = await readEtcdFigures(etcd.url);
    const fullReadBytes = await measureFullRead(etcd);

    // Full lainlets and their SSE watchers (load clients in their own processes).
    const lainlets: Target[] = [];
    const sse: LoadClient[] = [];
    for (let i = 0; i < opts.lainlets; i++) {
      const { target: lainlet, stop } = await startLainlet(opts.lainletCommand, endpointFor(i), `scale-lainlet-${i}`);
      lainlets.push(lainlet);
      started.push({ stop });
      const client = new LoadClient();
      const unown = own({ name: `sse client ${i}`, stop: () => client.stop(), killNow: () => killSync(client.pid) });
      started.push({ stop: () => client.stop().then(unown) });
      sse.push(client);
      const paths = Array.from({ length: opts.sseWatchers }, () => SSE_PATH);
      const w = await client.call({ type: 'watch', port: lainlet.port, paths, sources: ['127.0.0.1'], concurrency: 16, timeoutMs: 30_000 });
      if (w.failed) errors.push(`lainlet ${i}: ${w.failed} SSE watchers failed to open (${w.firstError})`);
    }
    if (lainlets.length) log(`${lainlets.length} full lainlets with ${opts.sseWatchers} SSE watchers each`);

    // The simulated nodes, spread over the workers and (through proxies) over the proxies.
    const workers = Array.from({ length: Math.min(opts.workers, opts.nodes) }, (_, w) => new NodeWorker(`node worker ${w}`));
    started.push(...workers);
    const specsOf = workers.map(() => [] as NodeSpec[]);
    for (let i = 0; i < opts.nodes; i++) {
      const host = `sim-node-${i}`;
      specsOf[i % workers.length].push({ host, endpoint: ownConnection(host, endpointFor(i)) });
    }
    const coldF = await readEtcdFigures(etcd.url);
    stormRss.reset();
    const coldT0 = now();
    let minRevision = await gateway.getRevision();
    await Promise.all(workers.map((w, i) => w.call({ type: 'start', nodes: specsOf[i], registry: opts.registry, minRevision })));
    const coldStart = await awaitStorm(etcd, workers, coldT0, coldF, stormRss, fullReadBytes, opts.syncTimeoutMs);
    log(`cold start: ${coldStart.synced}/${coldStart.nodes} synced in ${coldStart.allSyncedMs} ms; etcd sent ${mb(coldStart.sentBytes)}, ${coldStart.rangeCalls} Range calls (${coldStart.refreshedReads} cached reads refreshed, ${coldStart.lostEvents} catch-ups a proxy cut short); ${stormDetail(coldStart)}`);
    if (coldStart.synced < opts.nodes) errors.push(`cold start: only ${coldStart.synced}/${opts.nodes} nodes synced within ${opts.syncTimeoutMs} ms`);

    const idle = await idlePhase(etcd, workers, f0, proxies.length, opts.idleSeconds);
    {
      const st = await allStats(workers);
      log(`idle detail: catching up ${st.reduce((a, s) => a + s.catchingUp, 0)} ${JSON.stringify(st.flatMap((s) => s.stuck))}, catch-ups resumed ${st.reduce((a, s) => a + s.catchUpsResumed, 0)}, main watch shared ${st.reduce((a, s) => a + s.mainShared, 0)}, registered ${st.reduce((a, s) => a + s.registered, 0)}, check reads ${st.reduce((a, s) => a + s.checkReads, 0)}, reconnects ${st.reduce((a, s) => a + s.reconnects, 0)}, errors ${JSON.stringify([...new Set(st.flatMap((s) => s.lastErrors))])}, registry errors ${JSON.stringify([...new Set(st.flatMap((s) => s.registryErrors))])}`);
    }
    log(`idle: etcd holds ${idle.watchStreams} watch streams, ${idle.watchers} watchers; ${idle.leaseKeepAlivesPerSec} lease keep-alives/s; ${kb(idle.sentBytesPerSec)}/s sent; CPU ${idle.cpuPct}%`);

    const steady = await steadyState(opts, etcd, gateway, workers, sse, idle.sentBytesPerSec, log);

    // Restart storm: every node closes (revoking its lease) and starts again, all at once.
    await sleep(1_000);
    const reconnectsBeforeStorm = (await allStats(workers)).reduce((a, s) => a + s.reconnects, 0);
    const s0 = await readEtcdFigures(etcd.url);
    stormRss.reset();
    const stormT0 = now();
    minRevision = await gateway.getRevision();
    await Promise.all(workers.map((w) => w.call({ type: 'restart', minRevision })));
    const storm = await awaitStorm(etcd, workers, stormT0, s0, stormRss, fullReadBytes, opts.syncTimeoutMs);
    log(`storm: ${storm.synced}/${storm.nodes} synced in ${storm.allSyncedMs} ms (p50 ${storm.p50SyncedMs}); etcd sent ${mb(storm.sentBytes)} (${storm.sentOverFullReads} full reads), ${storm.rangeCalls} Range calls (${storm.refreshedReads} cached reads refreshed, ${storm.lostEvents} catch-ups a proxy cut short), peak RSS ${mb(storm.peakRssBytes)}; ${stormDetail(storm)}`);
    if (storm.synced < opts.nodes) errors.push(`restart storm: only ${storm.synced}/${opts.nodes} nodes synced within ${opts.syncTimeoutMs} ms`);
    // The full lainlets watch through the first proxies (endpointFor), and never restart.
    const watchedProxies = proxies.length ? Math.min(lainlets.length, proxies.length) : 0;
    const stormFloor = await measureStormFloor(etcd, { from: s0.revision + 1, to: s0.revision + storm.revisions, ms: storm.allSyncedMs }, idle.sentBytesPerSec, watchedProxies);
    const least = stormFloor.watchedProxies ? leastStormCost(stormFloor, proxies.length, fullReadBytes) : null;
    log(`storm floor: one etcd watch replaying the storm's ${stormFloor.revisions} revisions: ${kb(stormFloor.watchBytes)} (${stormFloor.events} events); a full read after it: ${kb(stormFloor.fullReadAfterBytes)}${least ? `; least through ${proxies.length} proxies: ${least.beforeBackground} full reads + ${least.background} idle background` : ''}`);

    const endStats = await allStats(workers);
    const fEnd = await readEtcdFigures(etcd.url);
    return {
      topology,
      proxies: proxies.length,
      baseline: { watchStreams: f0.watchStreams, watchers: f0.watchers },
      fullReadBytes,
      coldStart,
      idle,
      steady,
      reconnectsBeforeStorm,
      storm,
      stormFloor,
      peakRssBytes: peakRss.peak(),
      cpuSeconds: round(fEnd.cpuSeconds, 2),
      nodeWorkers: { cpuSeconds: round(endStats.reduce((a, s) => a + s.cpuMs, 0) / 1000, 1), rssBytes: endStats.reduce((a, s) => a + s.rssBytes, 0) },
      errors,
    };
  } finally {
    peakRss.stop();
    stormRss.stop();
    for (const p of started.reverse()) await p.stop().catch((err: Error) => opts.log(`stop: ${err.message}`));
    await etcd.stop();
    unownEtcd();
  }
}

/**
 * The node's endpoint as a target of its own, so that each node has its own TCP connection as on
 * separate machines: grpc-js shares one connection between channels of the same target (and a
 * worker holds hundreds of nodes), and its ipv4 resolver ignores the authority part.
 */
function ownConnection(host: string, endpoint: string): string {
  return `ipv4://${host}/${endpoint}`;
}

/** Idle: what the nodes cost etcd when nothing changes (keep-alives, liveness probes), over `seconds`. */
async function idlePhase(etcd: BenchEtcd, workers: NodeWorker[], beforeNodes: EtcdFigures, proxies: number, seconds: number): Promise<TopologyResult['idle']> {
  await sleep(Math.min(3_000, seconds * 500)); // the start's last registrations settle
  const i0 = await readEtcdFigures(etcd.url);
  // The watcher gauge also counts liveness probes in flight (a watch each, for milliseconds):
  // the fewest seen over the window is what the nodes hold.
  let watchersHeld = i0.watchers;
  for (let i = 0; i < 10; i++) {
    await sleep(seconds * 100);
    watchersHeld = Math.min(watchersHeld, (await readEtcdFigures(etcd.url)).watchers);
  }
  const i1 = await readEtcdFigures(etcd.url);
  watchersHeld = Math.min(watchersHeld, i1.watchers);
  const d = delta(i0, i1);
  const stats = await allStats(workers);
  return {
    seconds: round(d.seconds, 1),
    watchStreams: i1.watchStreams,
    watchers: watchersHeld,
    leaseKeepAlivesPerSec: round(d.leaseKeepAliveMsgs / d.seconds, 1),
    leaseKeepAliveStreams: i1.leaseKeepAliveStreams,
    sentBytesPerSec: Math.round(d.sentBytes / d.seconds),
    rangeCallsPerSec: round(d.rangeCalls / d.seconds, 1),
    cpuPct: Math.round((d.cpuSeconds / d.seconds) * 100),
    rssBytes: i1.rssBytes,
    registered: stats.reduce((a, s) => a + s.registered, 0),
    etcdWatchersPerProxy: proxies ? round((watchersHeld - beforeNodes.watchers) / proxies, 1) : undefined,
  };
}

/** The storm's revisions `from`..`to` replayed in one etcd watch, a full read after it, and the idle background over its `ms` (see storm-floor.ts). */
async function measureStormFloor(etcd: BenchEtcd, storm: { from: number; to: number; ms: number }, idleBytesPerSec: number, watchedProxies: number): Promise<StormFloor> {
  const replay = await measureWatchReplay(etcd, '/lain/', storm.from, storm.to, idleBytesPerSec);
  return {
    watchBytes: replay.bytes,
    revisions: storm.to - storm.from + 1,
    events: replay.events,
    fullReadAfterBytes: await measureFullRead(etcd),
    watchedProxies,
    backgroundBytes: Number.isFinite(storm.ms) ? Math.round((idleBytesPerSec * storm.ms) / 1000) : 0,
  };
}

/** Bytes etcd sends for one Range of the whole prefix: the unit of "full reads' worth". */
async function measureFullRead(etcd: BenchEtcd): Promise<number> {
  const client = new EtcdClient(etcd.endpoint);
  try {
    await client.rangePrefix('/lain/', 30_000); // connects; counted below only once
    const a = await readEtcdFigures(etcd.url);
    await client.rangePrefix('/lain/', 30_000);
    const b = await readEtcdFigures(etcd.url);
    return b.sentBytes - a.sentBytes;
  } finally {
    client.close();
  }
}

async function startLainlet(template: string, etcdEndpoint: string, hostname: string): Promise<{ target: Target; stop(): Promise<void> }> {
  const port = await freeLoopbackPort();
  let command = fillTemplate(template, { port, etcd: etcdEndpoint });
  // Each full lainlet its own host name (its registry key), as on separate machines: a UTS
  // namespace, when we may make one (root).
  if (process.getuid?.() === 0) command = `unshare --uts sh -c 'hostname "$0" && exec "$@"' ${hostname} ${command}`;
  const target = new Target(command, port);
  const unown = own({ name: `lainlet ${hostname}`, stop: () => target.stop(), killNow: () => killSync(target.pid) });
  const stop = () => target.stop().then(unown);
  const deadline = now() + 60_000;
  while (now() < deadline) {
    if (!target.running) throw new Error(`lainlet ${hostname} exited during start-up:\n${target.output()}`);
    const r = await getOnce(port, SSE_PATH, 5_000).catch(() => null);
    if (r?.status === 200) return { target, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`lainlet ${hostname} did not answer ${SSE_PATH} within 60 s:\n${target.output()}`);
}

async function allStats(workers: NodeWorker[], timeoutMs?: number): Promise<WorkerStats[]> {
  return Promise.all(workers.map((w) => w.stats(timeoutMs === undefined ? { type: 'stats' } : { type: 'await-synced', timeoutMs })));
}

function stormDetail(f: StormFigures): string {
  return `${f.revisions} revisions written, ${f.eventsSent} events sent by etcd (${round(f.eventsSent / Math.max(1, f.revisions), 1)} per revision), peak ${f.peakWatchers} etcd watchers; ${f.catchingUpAtSync} still catching up at sync, then ${f.tail.ms} ms until ${f.tail.catchingUp}: ${mb(f.tail.sentBytes)} and ${f.tail.eventsSent} events more, ${f.watchersSettled} etcd watchers then`;
}

/** Waits for every node to be synced after a (re)start at `t0`, and reads what it cost etcd. */
async function awaitStorm(
  etcd: BenchEtcd,
  workers: NodeWorker[],
  t0: number,
  before: EtcdFigures,
  rss: RssSampler,
  fullReadBytes: number,
  timeoutMs: number,
): Promise<StormFigures> {
  let peakWatchers = before.watchers;
  const sampler = setInterval(() => {
    readEtcdFigures(etcd.url).then((f) => (peakWatchers = Math.max(peakWatchers, f.watchers)), () => {});
  }, 1_000);
  const stats = await allStats(workers, timeoutMs);
  const after = await readEtcdFigures(etcd.url);
  const d = delta(before, after);
  // What the catch-ups still running at that point cost etcd until they end.
  const tailT0 = now();
  let catchingUp = stats.reduce((a, s) => a + s.catchingUp, 0);
  const catchingUpAtSync = catchingUp;
  while (catchingUp > 0 && now() - tailT0 < 60_000) {
    await sleep(500);
    catchingUp = (await allStats(workers)).reduce((a, s) => a + s.catchingUp, 0);
  }
  clearInterval(sampler);
  const tailF = await readEtcdFigures(etcd.url);
  const td = delta(after, tailF);
  peakWatchers = Math.max(peakWatchers, after.watchers, tailF.watchers);
  const times = stats.flatMap((s) => s.syncedAt.filter((t) => !Number.isNaN(t)).map((t) => t - t0)).sort((a, b) => a - b);
  return {
    nodes: stats.reduce((a, s) => a + s.nodes, 0),
    synced: times.length,
    allSyncedMs: Math.round(times[times.length - 1] ?? NaN),
    p50SyncedMs: Math.round(pct(times, 50)),
    sentBytes: d.sentBytes,
    sentOverFullReads: round(d.sentBytes / fullReadBytes, 2),
    rangeCalls: d.rangeCalls,
    cpuSeconds: d.cpuSeconds,
    peakRssBytes: rss.peak(),
    watchStreamsAfter: after.watchStreams,
    watchersAfter: after.watchers,
    watchersSettled: tailF.watchers,
    reconnects: stats.reduce((a, s) => a + s.reconnects, 0),
    nodeReadPages: stats.reduce((a, s) => a + s.readPages, 0),
    staleReads: stats.reduce((a, s) => a + s.staleReads, 0),
    refreshedReads: stats.reduce((a, s) => a + s.refreshedReads, 0),
    lostEvents: stats.reduce((a, s) => a + s.lostEvents, 0),
    revisions: d.revisions,
    eventsSent: d.eventsSent,
    peakWatchers,
    catchingUpAtSync,
    tail: { ms: Math.round(now() - tailT0), sentBytes: td.sentBytes, eventsSent: td.eventsSent, catchingUp },
  };
}

interface Write {
  seq: number;
  sentAt: number;
  revision: number;
  bytes: number;
}

/**
 * Pod-group writes at a fixed rate, straight to etcd (as deployd writes), each marked with a
 * sequence number the full lainlets' SSE answers show. Delays run from the moment a write was
 * sent (so they include etcd's own commit) to its arrival at each node and SSE watcher.
 */
async function steadyState(
  opts: ScaleOptions,
  etcd: BenchEtcd,
  gateway: EtcdHttp,
  workers: NodeWorker[],
  sse: LoadClient[],
  backgroundBytesPerSec: number,
  log: (msg: string) => void,
): Promise<TopologyResult['steady']> {
  const targets = podGroups(opts.cluster.data, { web: true });
  if (targets.length === 0) throw new Error('the cluster has no web pod group to write');
  await Promise.all(workers.map((w) => w.call({ type: 'record', on: true })));
  await Promise.all(sse.map((c) => c.call({ type: 'markers', on: true })));
  const f0 = await readEtcdFigures(etcd.url);
  const writes: Write[] = [];
  const inFlight = new Set<Promise<void>>();
  const total = Math.max(1, Math.round(opts.rate * opts.steadySeconds));
  const t0 = now();
  for (let n = 0; n < total && now() - t0 < opts.steadySeconds * 1000 + 10_000; n++) {
    const wait = t0 + (n * 1000) / opts.rate - now();
    if (wait > 1) await sleep(wait);
    while (inFlight.size >= 16) await Promise.race(inFlight);
    const pg = targets[n % targets.length];
    const value = markPodGroup(pg.value, SEQ_BASE + n);
    const w: Write = { seq: SEQ_BASE + n, sentAt: now(), revision: NaN, bytes: Buffer.byteLength(value) };
    writes.push(w);
    const p: Promise<void> = gateway
      .put(pg.key, value)
      .then((rev) => void (w.revision = rev))
      .catch((err: Error) => log(`write ${n} failed: ${err.message}`))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  const seconds = (now() - t0) / 1000;
  const lastRevision = Math.max(...writes.map((w) => w.revision).filter((r) => !Number.isNaN(r)));
  // Let every node catch up (bounded: a saturated run reports what never arrived), then a little more for the SSE watchers.
  const deadline = now() + Math.max(15_000, opts.steadySeconds * 1000);
  while (now() < deadline) {
    const st = await allStats(workers);
    if (st.every((s) => s.revisions.every((r) => r >= lastRevision))) break;
    await sleep(100);
  }
  await sleep(1_000);
  const f1 = await readEtcdFigures(etcd.url);
  const d = delta(f0, f1);
  const loop = await allStats(workers);
  const perWorker = await Promise.all(workers.map((w) => w.arrivals()));
  await Promise.all(workers.map((w) => w.call({ type: 'record', on: false })));
  const marks = await Promise.all(sse.map((c) => c.call({ type: 'collect-markers' })));
  await Promise.all(sse.map((c) => c.call({ type: 'markers', on: false })));

  const done = writes.filter((w) => !Number.isNaN(w.revision));
  const sentAtByRevision = new Map(done.map((w) => [w.revision, w.sentAt]));
  // Node arrivals: per write, the first arrival at each node (a resumed watch could repeat one).
  const firstAt = new Map<number, Map<string, number>>();
  perWorker.forEach((flat, wi) => {
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const rev = flat[i + 1];
      if (!sentAtByRevision.has(rev)) continue;
      let m = firstAt.get(rev);
      if (!m) firstAt.set(rev, (m = new Map()));
      const node = `${wi}/${flat[i]}`;
      if (!m.has(node)) m.set(node, flat[i + 2]);
    }
  });
  const perNode: number[] = [];
  const toAll: number[] = [];
  let missing = 0;
  for (const w of done) {
    const m = firstAt.get(w.revision);
    const got = m?.size ?? 0;
    missing += opts.nodes - got;
    if (!m) continue;
    let last = 0;
    for (const t of m.values()) {
      const dt = Math.max(0, t - w.sentAt);
      perNode.push(dt);
      last = Math.max(last, dt);
    }
    if (got === opts.nodes) toAll.push(last);
  }
  const { delays: sseDelays, missing: sseMissing } = sseDelaysOf(done, marks.map((m) => m.marks), opts.sseWatchers);

  const meanValueBytes = Math.round(done.reduce((a, w) => a + w.bytes, 0) / Math.max(1, done.length));
  const netBytes = d.sentBytes - backgroundBytesPerSec * d.seconds;
  const steady: TopologyResult['steady'] = {
    writes: done.length,
    seconds: round(seconds, 1),
    meanValueBytes,
    toAllNodes: latency(toAll),
    perNode: latency(perNode),
    sse: latency(sseDelays),
    missing,
    sseMissing,
    sentBytes: d.sentBytes,
    sentBytesPerWrite: Math.round(d.sentBytes / Math.max(1, done.length)),
    netBytesPerWrite: Math.round(netBytes / Math.max(1, done.length)),
    netBytesPerWriteOverValue: round(netBytes / Math.max(1, done.length) / meanValueBytes, 1),
    otherPuts: d.putCalls - done.length,
    leaseGrants: d.leaseGrants,
    rangeCalls: d.rangeCalls,
    cpuSeconds: d.cpuSeconds,
    watchStreams: f1.watchStreams,
    watchers: f1.watchers,
    workerLoopDelayP99Ms: round(Math.max(...loop.map((x) => x.loopDelayP99Ms)), 1),
    workerLoopDelayMaxMs: round(Math.max(...loop.map((x) => x.loopDelayMaxMs)), 1),
  };
  log(
    `steady: ${steady.writes} writes in ${steady.seconds} s; to all nodes p50 ${steady.toAllNodes.p50Ms} p99 ${steady.toAllNodes.p99Ms} max ${steady.toAllNodes.maxMs} ms; ` +
      `SSE p99 ${steady.sse.p99Ms} ms; missing ${missing}/${sseMissing}; etcd sent ${kb(steady.netBytesPerWrite)} per write net (${steady.netBytesPerWriteOverValue}x the value)`,
  );
  return steady;
}

/**
 * Per SSE watcher: events in arrival order, each with the markers of every web pod group it
 * shows. A watcher holds write n once an event shows a marker whose write has a revision >= n's
 * (etcd and lainlet apply in order); carried forward event to event.
 */
function sseDelaysOf(writes: Write[], marksPerClient: number[][], watchersPerClient: number): { delays: number[]; missing: number } {
  const revisionOfSeq = new Map(writes.map((w) => [w.seq, w.revision]));
  const delays: number[] = [];
  let missing = 0;
  for (const m of marksPerClient) {
    const held: Array<Array<[number, number]>> = Array.from({ length: watchersPerClient }, () => []);
    for (let i = 0; i + 2 < m.length; ) {
      const list = held[m[i]];
      const t = m[i + 1];
      const count = m[i + 2];
      let rev = list?.length ? list[list.length - 1][1] : -1;
      for (let k = 0; k < count; k++) rev = Math.max(rev, revisionOfSeq.get(m[i + 3 + k]) ?? -1);
      list?.push([t, rev]);
      i += 3 + count;
    }
    for (const list of held) {
      for (const w of writes) {
        const first = list.find(([, rev]) => rev >= w.revision);
        if (first) delays.push(Math.max(0, first[0] - w.sentAt));
        else missing++;
      }
    }
  }
  return { delays, missing };
}

function latency(values: number[]): Latency {
  const s = [...values].sort((a, b) => a - b);
  return { p50Ms: round(pct(s, 50), 1), p99Ms: round(pct(s, 99), 1), maxMs: round(s[s.length - 1] ?? NaN, 1), count: s.length };
}

function killSync(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function optionsOf(o: ScaleOptions): ScaleResults['options'] {
  const { nodes, proxies, workers, lainlets, sseWatchers, rate, steadySeconds, idleSeconds, syncTimeoutMs, registry, topologies } = o;
  return { nodes, proxies, workers, lainlets, sseWatchers, rate, steadySeconds, idleSeconds, syncTimeoutMs, registry, topologies };
}

function machine(): ScaleResults['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    node: process.version,
    load1AtStart: Math.round(os.loadavg()[0] * 100) / 100,
    load1AtEnd: NaN,
    otherLoad: '',
  };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
