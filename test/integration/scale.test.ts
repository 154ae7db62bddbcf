// The quick form of the cluster-scale simulation (`npm run bench:scale`): a few simulated nodes
// on our real store layer, in two worker processes, and one full lainlet with SSE watchers,
// against one etcd, direct and through two `etcd grpc-proxy` processes. Asserts behaviour, not
// timings: everyone synced, every write reached every node, and what etcd holds through proxies.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { stopAll } from '../../bench/scale/processes.js';
import { sampleCluster } from '../../bench/scale/sample.js';
import { runScale, type ScaleResults, type TopologyResult } from '../../bench/scale/simulation.js';
import { leastStormCost } from '../../bench/scale/storm-floor.js';
import { REPO_ROOT } from '../helpers/lainlet.js';

const NODES = 8;
const PROXIES = 2;
const LAINLETS = 1;
const SSE_WATCHERS = 2;
const WRITES = 6;

let results: ScaleResults;
let direct: TopologyResult;
let proxied: TopologyResult;
const lines: string[] = [];

before(
  async () => {
    const cli = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');
    results = await runScale({
      nodes: NODES,
      proxies: PROXIES,
      workers: 2,
      lainlets: LAINLETS,
      sseWatchers: SSE_WATCHERS,
      rate: 3,
      steadySeconds: WRITES / 3,
      idleSeconds: 3,
      syncTimeoutMs: 60_000,
      registry: true,
      lainletCommand: `${process.execPath} --import tsx ${cli} -web {web} -etcd {etcd} -ip 127.0.0.1 -noauth`,
      topologies: ['direct', 'proxy'],
      cluster: { label: 'sample', data: await sampleCluster() },
      log: (msg) => lines.push(msg),
    });
    direct = results.topologies.direct!;
    proxied = results.topologies.proxy!;
  },
  { timeout: 300_000 },
);
after(() => stopAll());

const context = () => `simulation log:\n${lines.join('\n')}\nresults: ${JSON.stringify(results?.topologies, null, 1)}`;

for (const name of ['direct', 'proxy'] as const) {
  test(`${name}: every node is synced after the first start and after a restart storm`, () => {
    const t = name === 'direct' ? direct : proxied;
    assert.deepEqual(t.errors, [], context());
    assert.equal(t.coldStart.synced, NODES, context());
    assert.equal(t.storm.nodes, NODES, context());
    assert.equal(t.storm.synced, NODES, context());
  });

  test(`${name}: every pod-group write reaches every node and every SSE watcher of the full lainlet`, () => {
    const t = name === 'direct' ? direct : proxied;
    assert.equal(t.steady.writes, WRITES, context());
    assert.equal(t.steady.missing, 0, context());
    assert.equal(t.steady.perNode.count, WRITES * NODES, context());
    assert.equal(t.steady.toAllNodes.count, WRITES, context());
    assert.equal(t.steady.sseMissing, 0, context());
    assert.equal(t.steady.sse.count, WRITES * LAINLETS * SSE_WATCHERS, context());
  });

  test(`${name}: every node keeps its registry lease alive`, () => {
    const t = name === 'direct' ? direct : proxied;
    assert.equal(t.idle.registered, NODES, context());
    assert.ok(t.idle.leaseKeepAlivesPerSec > 0, context());
  });
}

test('direct: etcd holds one watch stream per node and per full lainlet', () => {
  assert.equal(direct.baseline.watchStreams, 0, context());
  assert.ok(direct.idle.watchStreams >= NODES + LAINLETS, context());
});

test("through proxies: etcd holds the proxies' own streams plus at most one per proxy, whatever the number of nodes", () => {
  const own = proxied.baseline.watchStreams;
  assert.ok(own <= PROXIES, context());
  assert.ok(proxied.idle.watchStreams - own <= PROXIES, context());
  assert.ok(proxied.storm.watchStreamsAfter - own <= PROXIES, context());
});

test('through proxies: the storm replayed afterwards in one etcd watch gives every revision it wrote, and the storm cost etcd at least the least it can', () => {
  const f = proxied.stormFloor;
  assert.ok(f, context());
  // Every revision of the storm is one of /lain/'s (the registry's keys going and coming back).
  assert.ok(f.revisions >= NODES, context());
  assert.equal(f.events, f.revisions, context());
  assert.ok(f.watchBytes > 0 && f.fullReadAfterBytes > proxied.fullReadBytes, context());
  assert.equal(f.watchedProxies, LAINLETS, context());
  const least = leastStormCost(f, PROXIES, proxied.fullReadBytes);
  assert.ok(proxied.storm.sentOverFullReads >= least.beforeBackground, context());
});
