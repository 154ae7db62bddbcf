// The store layer behind `etcd grpc-proxy` (the etcd binary's own proxy, real processes): the
// paged read under the proxy's message limit, a stale proxy cache after a compaction, and the
// liveness probe on a quiet watch.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdProcess } from '../../src/demo/etcd-process.js';
import { EtcdClient } from '../../src/store/etcd-client.js';
import { EtcdStore } from '../../src/store/etcd-store.js';
import { silentLogger } from '../../src/util/log.js';
import { parseMetric } from '../helpers/etcd.js';
import { GrpcProxyProcess } from '../helpers/grpc-proxy.js';
import { RecordingSink, until } from '../helpers/store-sink.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

let etcd: EtcdProcess;
let writer: EtcdClient;
const cleanup: Array<() => unknown> = [];
before(async () => {
  etcd = await EtcdProcess.start();
  writer = new EtcdClient(etcd.endpoint);
});
after(async () => {
  for (const c of cleanup.reverse()) await c();
  writer.close();
  await etcd.stop();
});

async function proxy(extraArgs: string[] = []): Promise<GrpcProxyProcess> {
  const p = await GrpcProxyProcess.start(etcd.endpoint, extraArgs);
  cleanup.push(() => p.stop());
  return p;
}

function startStore(endpoint: string, sink: RecordingSink, prefix: string, more: Partial<ConstructorParameters<typeof EtcdStore>[0]> = {}) {
  const store = new EtcdStore({ endpoints: [endpoint], prefix, logger: silentLogger, firstReadJitterMs: 0, ...more }, sink);
  const running = store.run();
  cleanup.push(() => (store.close(), running));
  return store;
}

/** What etcd itself holds under `prefix` (a linearizable read, straight to etcd). */
async function etcdHolds(prefix: string): Promise<Map<string, string>> {
  const { kvs } = await writer.rangePrefix(prefix, 5_000);
  return new Map(kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
}

test('through a proxy that takes at most 256 KiB per message from etcd, a 2 MB prefix arrives whole, in smaller pages at one revision', async () => {
  const prefix = '/big/';
  const value = 'x'.repeat(100_000);
  for (let i = 0; i < 20; i++) await writer.put(`${prefix}k${String(i).padStart(2, '0')}`, `${i}:${value}`);
  const p = await proxy(['--max-send-bytes=131072', '--max-recv-bytes=262144']);
  const sink = new RecordingSink();
  const store = startStore(p.endpoint, sink, prefix);
  await until(() => sink.snapshots === 1, 15_000, 'the paged snapshot');
  assert.deepEqual(sink.data, await etcdHolds(prefix));
  const s = store.status();
  assert.ok(s.pageLimit <= 2, `pages shrank to fit 256 KiB (${s.pageLimit} keys of 100 KB)`);
  assert.ok((s.lastSnapshot?.pages ?? 0) >= 10, `read in pages (${s.lastSnapshot?.pages})`);
  assert.equal(s.lastSnapshot?.revision, sink.revision);
});

test('a stale proxy cache plus a compaction: the node converges (the re-read bypasses the cache)', { timeout: 60_000 }, async () => {
  const prefix = '/stale/';
  for (let i = 0; i < 10; i++) await writer.put(`${prefix}k${i}`, 'old');
  const p = await proxy();
  // A first node fills the proxy's cache with its serializable read, then goes away.
  const first = new RecordingSink();
  const firstStore = startStore(p.endpoint, first, prefix);
  await until(() => first.snapshots === 1, 10_000, 'the first node snapshot');
  firstStore.close();
  // Writes that bypass the proxy (deployd writes to etcd itself), then a compaction.
  let rev = 0;
  for (let i = 0; i < 10; i++) rev = await writer.put(`${prefix}k${i}`, 'new');
  rev = await writer.delete(`${prefix}k9`);
  rev = await writer.put(`${prefix}k10`, 'added');
  await writer.compact(rev);

  // The next node's serializable read is the cached one from before the compaction: the watch
  // from its revision is refused as compacted, and only a linearizable re-read gets past it.
  const sink = new RecordingSink();
  const store = startStore(p.endpoint, sink, prefix);
  const expected = await etcdHolds(prefix);
  await until(() => sink.revision >= rev && store.status().state === 'connected', 15_000, 'the node to converge');
  assert.deepEqual(sink.data, expected);
  const s = store.status();
  assert.equal(s.compactionsSeen, 1, 'one compaction seen');
  assert.equal(s.staleReads, 1, 'the stale cached read was recognized once');
  assert.equal(s.snapshots, 2, 'the stale snapshot, then one from etcd itself');
  assert.equal(s.lastSnapshot?.linearizable, true);
  await sleep(1_000);
  assert.equal(store.status().snapshots, 2, 'no more re-reads');
});

test('a quiet watch through a proxy is probed, never re-opened', { timeout: 30_000 }, async () => {
  const prefix = '/quiet/';
  await writer.put(`${prefix}a`, '1');
  const p = await proxy();
  const sink = new RecordingSink();
  const store = startStore(p.endpoint, sink, prefix, { probeIntervalMs: 500 });
  await until(() => store.status().state === 'connected', 10_000, 'connected');
  await sleep(5_000);
  const s = store.status();
  assert.equal(s.reconnects, 0, `no watch re-opened (${s.lastError})`);
  assert.ok(s.probes >= 5, `the proxy answered the liveness probes (${s.probes})`);
  // The stream still delivers (the probes' watches did not disturb it).
  const r = await writer.put(`${prefix}b`, '2');
  await until(() => sink.revision === r, 5_000, 'the write after the probes');
  assert.equal(sink.data.get(`${prefix}b`), '2');
});

test('a cluster never quiet for long, through a proxy: the catch-up watch is settled anyway once it has lasted a while, and every write still arrives once', { timeout: 60_000 }, async () => {
  const sink = new RecordingSink();
  const p = await proxy();
  const store = new EtcdStore({ endpoints: [p.endpoint], prefix: '/lain/busy/', logger: silentLogger, firstReadJitterMs: 0, settleBusyAfterMs: 2_000, settleBusyEveryMs: 1_000 }, sink);
  const running = store.run();
  const revisions: number[] = [];
  try {
    await until(() => store.status().state === 'connected', 5_000, 'watch');
    assert.equal(store.status().behindProxy, true);
    assert.equal(store.status().catchingUp, true, 'the main watch starts ahead of etcd; the catch-up covers the gap');
    // A write every 250 ms: never the 2 quiet seconds a settle otherwise waits for, and the
    // main watch's start (thousands of revisions ahead) would take minutes to reach.
    for (let i = 0; i < 60 && store.status().settled === 0; i++) {
      revisions.push(await writer.put(`/lain/busy/k${i}`, `v${i}`));
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(store.status().settled, 1, 'settled while writes went on');
    assert.equal(store.status().catchingUp, false);
    for (let i = 0; i < 5; i++) revisions.push(await writer.put(`/lain/busy/after${i}`, `v${i}`));
    const last = revisions[revisions.length - 1];
    await until(() => sink.revision === last, 5_000, 'the writes after the settle');
    const { kvs } = await writer.rangePrefix('/lain/busy/', 5_000);
    assert.deepEqual(sink.data, new Map(kvs.map((kv) => [kv.key.toString(), kv.value.toString()])));
    const snapshotRevision = store.status().lastSnapshot!.revision;
    assert.equal(sink.eventCount, revisions.filter((r) => r > snapshotRevision).length, 'each write delivered once');
  } finally {
    store.close();
    await running;
  }
});

test('etcd also holds keys outside the prefix, written after our last change: the catch-up is still settled (asked of etcd whether any of ours changed), and nothing is lost', { timeout: 60_000 }, async () => {
  const p = await proxy();
  await writer.put('/lain/others/a', '1');
  const sink = new RecordingSink();
  const store = startStore(p.endpoint, sink, '/lain/others/');
  await until(() => store.status().state === 'connected', 10_000, 'watch');
  assert.equal(store.status().catchingUp, true);
  // Another system's keys (Calico's, say) move etcd's newest revision past the last one of ours.
  for (let i = 0; i < 5; i++) await writer.put(`/calico/others/k${i}`, String(i));
  await until(() => store.status().settled === 1, 15_000, 'the catch-up settled');
  assert.equal(store.status().catchingUp, false);
  const rev = await writer.put('/lain/others/b', '2');
  await until(() => sink.revision === rev, 5_000, 'a write after the settle');
  assert.deepEqual(sink.data, new Map([['/lain/others/a', '1'], ['/lain/others/b', '2']]));
  assert.equal(sink.eventCount, 1);
});

test('nodes whose catch-ups go quiet at the same moment settle spread out (up to three times the window their start was spread over), not all at once', { timeout: 60_000 }, async () => {
  const p = await proxy();
  const prefix = '/lain/herd/';
  let i = 0;
  const writeOne = () => writer.put(`${prefix}k${i}`, String(i++));
  await writeOne();
  // A start spread of 2 s (the first read's random wait); no settling for being busy.
  const nodes = Array.from({ length: 12 }, () => {
    const sink = new RecordingSink();
    return { sink, store: startStore(p.endpoint, sink, prefix, { firstReadJitterMs: 2_000, settleBusyAfterMs: 120_000 }) };
  });
  // A write every 250 ms keeps every catch-up from the 2 quiet seconds a settle waits for, until all are watching.
  const deadline = Date.now() + 20_000;
  while (!nodes.every((n) => n.store.status().state === 'connected') && Date.now() < deadline) {
    await writeOne();
    await sleep(250);
  }
  assert.ok(nodes.every((n) => n.store.status().catchingUp && n.store.status().settled === 0), 'all catching up, none settled');
  const last = await writeOne();
  // From now on quiet for all of them at once.
  const settledAt: number[] = new Array(nodes.length).fill(NaN);
  const t0 = Date.now();
  while (settledAt.some(Number.isNaN) && Date.now() - t0 < 20_000) {
    nodes.forEach((n, k) => {
      if (Number.isNaN(settledAt[k]) && n.store.status().settled > 0) settledAt[k] = Date.now() - t0;
    });
    await sleep(20);
  }
  assert.ok(!settledAt.some(Number.isNaN), `every node settled (${settledAt.join(', ')} ms)`);
  // Without the spread all settle within one tick of their probe timers (500 ms) of the same moment.
  const spread = Math.max(...settledAt) - Math.min(...settledAt);
  assert.ok(spread >= 900, `settled over ${spread} ms (${settledAt.join(', ')} ms after the last write)`);
  await until(() => nodes.every((n) => n.sink.revision === last), 5_000, 'every node has the last write');
  const held = await etcdHolds(prefix);
  for (const n of nodes) assert.deepEqual(n.sink.data, held);
});

test('unchangedBetween tells a put, a delete, a put after a delete and other keys\' writes apart', async () => {
  const key = Buffer.from('/lain/between/');
  const end = Buffer.from('/lain/between0');
  const between = (from: number, to: number) => writer.unchangedBetween(key, end, from, to, 5_000);
  const r0 = await writer.put('/lain/between/a', '1');
  const r1 = await writer.put('/lain/betweenx', 'outside');
  assert.equal(await between(r0, r1), true, 'only a key outside the range');
  const r2 = await writer.put('/lain/between/b', '1');
  assert.equal(await between(r1, r2), false, 'a put');
  const r3 = await writer.delete('/lain/between/a');
  assert.equal(await between(r2, r3), false, 'a delete');
  const r4 = await writer.put('/lain/between/a', '2');
  assert.equal(await between(r2, r4), false, 'deleted and written again: as many keys, one written since');
  assert.equal(await between(r4, r4), true);
});

/**
 * A fresh etcd with one proxy in front (so that its watcher count is ours alone), a client
 * straight to etcd (deployd's writes), and `node()` to start a store through the proxy; all of
 * it stopped after `body`.
 */
async function behindOwnProxy(
  body: (env: {
    own: EtcdProcess;
    proxyPort: number;
    direct: EtcdClient;
    node: (endpoint?: string, more?: Partial<ConstructorParameters<typeof EtcdStore>[0]>) => { store: EtcdStore; sink: RecordingSink };
  }) => Promise<void>,
) {
  const own = await EtcdProcess.start();
  const p = await GrpcProxyProcess.start(own.endpoint);
  const direct = new EtcdClient(own.endpoint);
  const started: Array<{ store: EtcdStore; running: Promise<void> }> = [];
  const node = (endpoint = p.endpoint, more: Partial<ConstructorParameters<typeof EtcdStore>[0]> = {}) => {
    const sink = new RecordingSink();
    const store = new EtcdStore({ endpoints: [endpoint], prefix: '/lain/', logger: silentLogger, firstReadJitterMs: 0, ...more }, sink);
    started.push({ store, running: store.run() });
    return { store, sink };
  };
  try {
    await body({ own, proxyPort: Number(p.endpoint.split(':').pop()), direct, node });
  } finally {
    for (const { store } of started) store.close();
    await Promise.all(started.map((s) => s.running));
    direct.close();
    await p.stop();
    await own.stop();
  }
}

/** etcd's own count of the watchers it holds: the fewest over a second (a liveness probe in flight is one more for milliseconds). */
async function etcdWatchers(own: EtcdProcess): Promise<number> {
  let fewest = Infinity;
  for (let i = 0; i < 5; i++) {
    const text = await (await fetch(`${own.url}/metrics`)).text();
    fewest = Math.min(fewest, parseMetric(text, 'etcd_debugging_mvcc_watcher_total') ?? Infinity);
    await sleep(200);
  }
  return fewest;
}

test('ten nodes starting together from a stale proxy cache all ride the etcd watch the proxy already holds: etcd holds one watch for eleven nodes', { timeout: 90_000 }, () =>
  behindOwnProxy(async ({ own, direct, node }) => {
    for (let i = 0; i < 30; i++) await direct.put(`/lain/deployd/pod_groups/app${i}/web`, `v0-${i}`);
    const proxysOwn = await etcdWatchers(own);
    const first = node();
    await until(() => first.store.status().state === 'connected' && !first.store.status().catchingUp, 15_000, 'the first node');
    // Writes straight to etcd (as deployd's): the proxy's etcd watch moves on, its cached
    // read of the prefix does not.
    for (let i = 0; i < 10; i++) await direct.put(`/lain/deployd/pod_groups/app${i}/web`, `v1-${i}`);
    const stores = [first, ...Array.from({ length: 10 }, () => node())];
    const { kvs, revision } = await direct.rangePrefix('/lain/', 5_000);
    const truth = new Map(kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
    await until(() => stores.every(({ store, sink }) => store.status().state === 'connected' && !store.status().catchingUp && sink.revision === revision), 30_000, 'every node caught up and settled');
    for (const { sink, store } of stores.slice(1)) {
      assert.deepEqual(sink.data, truth);
      assert.ok(store.status().lastSnapshot!.revision < revision, 'the snapshot came from the stale cache');
      assert.equal(store.status().mainShared, true, 'the proxy served the main watch from the etcd watch it held');
      assert.equal(store.status().behindProxy, true, 'the proxy left the progress request unanswered');
    }
    assert.equal(await etcdWatchers(own), proxysOwn + 1, 'one etcd watch serves all eleven nodes');
    // And it still carries every write to every node.
    const rev = await direct.put('/lain/deployd/pod_groups/app0/web', 'v2');
    await until(() => stores.every(({ sink }) => sink.revision === rev && sink.data.get('/lain/deployd/pod_groups/app0/web') === 'v2'), 10_000, 'a write after the handover');
  }),
);

test('six nodes whose requests reach the proxy 300 ms late, while etcd takes ~200 writes a second, still all ride the etcd watch it holds (their main watch starts far enough ahead)', { timeout: 90_000 }, () =>
  behindOwnProxy(async ({ own, proxyPort, direct, node }) => {
    const proxysOwn = await etcdWatchers(own);
    const first = node();
    await until(() => first.store.status().state === 'connected' && !first.store.status().catchingUp, 15_000, 'the first node');
    // Busy nodes (a restart storm on a shared machine): etcd has moved on by ~60 revisions by the
    // time a node's watch create, sent right after its read of etcd's newest revision, arrives.
    const slow = await TcpProxy.start('127.0.0.1', proxyPort, undefined, { delayToServerMs: 300 });
    let writing = true;
    const writes = (async () => {
      for (let i = 0; writing && i < 4_000; i++) {
        await direct.put('/lain/deployd/pod_groups/busy/web', `v${i}`);
        if (i % 10 === 9) await sleep(50);
      }
    })();
    try {
      const late = Array.from({ length: 6 }, () => node(slow.endpoint));
      await until(() => late.every(({ store }) => store.status().mainShared !== null), 30_000, 'the late nodes\' main watches');
      writing = false;
      await writes;
      const revision = await direct.put('/lain/deployd/pod_groups/busy/web', 'last');
      const stores = [first, ...late];
      await until(() => stores.every(({ store, sink }) => !store.status().catchingUp && sink.revision === revision), 30_000, 'every node caught up and settled');
      for (const { store } of late) assert.equal(store.status().mainShared, true, 'the proxy served the main watch from the etcd watch it held');
      assert.equal(await etcdWatchers(own), proxysOwn + 1, 'one etcd watch serves all seven nodes');
    } finally {
      writing = false;
      await writes;
      await slow.close();
    }
  }),
);

for (const resume of [true, false]) {
  const what = resume
    ? 'the store replaces its catch-up watch at each of etcd\'s batches and loses nothing, with no read again'
    : 'with that switched off, the proxy merges it into another etcd watch and skips the rest: the store notices and reads again';
  test(`a catch-up replaying over 1000 revisions through a proxy: ${what}`, { timeout: 90_000 }, () =>
    behindOwnProxy(async ({ direct, node }) => {
      await direct.put('/lain/config/x', '0');
      // X's catch-up watch stays open and follows etcd: a write every 1.5 s, so it never settles.
      const x = node();
      await until(() => x.store.status().state === 'connected' && x.store.status().catchingUp, 10_000, 'X catching up');
      let ticking = true;
      const ticks = (async () => {
        for (let i = 0; ticking && i < 1_000; i++) {
          await direct.put('/lain/lainlet/instances/tick', String(i));
          await sleep(1_500);
        }
      })();
      try {
        // 1500 registry revisions straight to etcd (fewer than X's main watch's lead, so that X's
        // catch-up stays): the proxy's cached read of the prefix (X's) is 1500 behind. Y is told
        // to use it anyway (no re-read), so its catch-up replays them: etcd sends 1000 revisions
        // at a time with its newest in the header, and the proxy, taking that for how far the
        // watch got, merges it into X's catch-up watch before the rest.
        const writes: Array<Promise<number>> = [];
        for (let i = 0; i < 1_500; i++) {
          writes.push(direct.put(`/lain/lainlet/instances/replay-${i % 300}`, String(i)));
          if (writes.length >= 50) await Promise.all(writes.splice(0));
        }
        await Promise.all(writes);
        const y = node(undefined, { refreshStaleReads: false, resumeCappedCatchUps: resume });
        await until(() => y.store.status().state === 'connected', 10_000, 'Y watching');
        if (resume) await until(() => y.store.status().catchUpsResumed >= 1, 20_000, 'Y resuming its catch-up after etcd\'s first batch');
        else await until(() => y.store.status().lostEventsSeen >= 1, 20_000, 'Y noticing the skipped events');
        ticking = false;
        await ticks;
        const { kvs, revision } = await direct.rangePrefix('/lain/', 5_000);
        await until(() => y.sink.revision >= revision, 10_000, 'Y at etcd\'s revision');
        assert.deepEqual(y.sink.data, new Map(kvs.map((kv) => [kv.key.toString(), kv.value.toString()])));
        const st = y.store.status();
        if (resume) {
          assert.equal(st.lostEventsSeen, 0, 'nothing skipped');
          assert.equal(st.snapshots, 1, 'not read again');
          assert.equal(st.refreshedReads, 0);
        } else {
          assert.ok(st.snapshots >= 2, 'read again');
          assert.equal(st.catchUpsResumed, 0);
        }
      } finally {
        ticking = false;
        await ticks;
      }
    }),
  );
}

/** A new node behind the proxy, once its watch is up. */
async function connectedNode(node: () => { store: EtcdStore; sink: RecordingSink }) {
  const n = node();
  await until(() => n.store.status().state === 'connected', 15_000, 'a node');
  return n;
}

test('a cached read far behind etcd (cluster data written since) is read again from etcd once; the nodes after it get the refreshed cache', { timeout: 60_000 }, () =>
  behindOwnProxy(async ({ direct, node }) => {
    const connected = () => connectedNode(node);
    await direct.put('/lain/config/x', '0');
    const first = await connected();
    assert.equal(first.store.status().refreshedReads, 0);
    // 100 revisions of cluster data straight to etcd: the proxy's cached read is 100 behind.
    let head = 0;
    for (let i = 0; i < 100; i++) head = await direct.put('/lain/config/x', String(i + 1));
    const second = await connected();
    const s2 = second.store.status();
    assert.equal(s2.refreshedReads, 1, 'the stale cached read was read again');
    assert.equal(s2.lastSnapshot!.linearizable, true);
    assert.ok(s2.lastSnapshot!.revision >= head, `read from etcd itself (${s2.lastSnapshot!.revision} >= ${head})`);
    assert.equal(second.sink.data.get('/lain/config/x'), '100');
    const third = await connected();
    const s3 = third.store.status();
    assert.equal(s3.refreshedReads, 0, 'the refreshed cache served the next node');
    assert.equal(s3.lastSnapshot!.revision, s2.lastSnapshot!.revision);
    // Within STALE_AFTER_REVISIONS of etcd: used as it is, whatever was written.
    for (let i = 0; i < 10; i++) await direct.put('/lain/config/x', `again-${i}`);
    const fourth = await connected();
    assert.equal(fourth.store.status().refreshedReads, 0);
    assert.equal(fourth.store.status().lastSnapshot!.revision, s2.lastSnapshot!.revision);
    await until(() => fourth.sink.data.get('/lain/config/x') === 'again-9', 10_000, 'caught up from the cached read by the watch');
  }),
);

test('six nodes finding the same stale cache together: one to three read again from etcd, the rest read what they refreshed', { timeout: 60_000 }, () =>
  behindOwnProxy(async ({ direct, node }) => {
    await direct.put('/lain/config/x', '0');
    const first = node();
    await until(() => first.store.status().state === 'connected', 15_000, 'the first node');
    let head = 0;
    for (let i = 0; i < 100; i++) head = await direct.put('/lain/config/x', String(i + 1));
    const six = Array.from({ length: 6 }, () => node());
    await until(() => six.every((n) => n.store.status().state === 'connected'), 20_000, 'six nodes');
    const refreshed = six.reduce((a, n) => a + n.store.status().refreshedReads, 0);
    // The waits are random: two or three may wake within one refresh's round trip (all six without them).
    assert.ok(refreshed >= 1 && refreshed <= 3, `${refreshed} of 6 read again from etcd`);
    for (const n of six) {
      assert.ok(n.store.status().lastSnapshot!.revision >= head, 'a snapshot from after the writes');
      assert.equal(n.sink.data.get('/lain/config/x'), '100');
    }
  }),
);

test('a cached read behind etcd by a few writes, on a cluster large enough that the replay costs etcd less, is caught up from, not read again', { timeout: 60_000 }, () =>
  behindOwnProxy(async ({ direct, node }) => {
    const connected = () => connectedNode(node);
    // 1 MB of cluster data in 100 keys. 70 writes of one key (the stale threshold is 64) are
    // estimated at one key of mean size (twice: with its previous value) plus 69 registry-sized
    // revisions: ~55 KB, under the balance of sqrt(4 x 2 proxies x 1 MB x 512 B) = 64 KB.
    for (let i = 0; i < 100; i++) await direct.put(`/lain/config/k-${i}`, 'x'.repeat(10_000));
    const first = await connected();
    const cachedAt = first.store.status().lastSnapshot!.revision;
    for (let i = 0; i < 70; i++) await direct.put('/lain/config/k-0', `small-${i}`);
    const { kvs, revision: head } = await direct.rangePrefix('/lain/', 5_000);
    const second = await connected();
    const s2 = second.store.status();
    assert.equal(s2.refreshedReads, 0, 'not read again');
    assert.equal(s2.lastSnapshot!.revision, cachedAt, 'the cached read, 70 revisions behind');
    await until(() => second.sink.revision >= head, 15_000, 'caught up by the watch');
    assert.deepEqual(second.sink.data, new Map(kvs.map((kv) => [kv.key.toString(), kv.value.toString()])));
  }),
);

test('on a large cluster the first read spreads with it: 10 ms per node listed (or live lainlet, if more), capped', { timeout: 30_000 }, async () => {
  const prefix = '/lain/lainlet/instances/';
  for (let i = 0; i < 25; i++) await writer.put(`${prefix}spread-${i}`, '{}');
  try {
    const spread = async (more: Partial<ConstructorParameters<typeof EtcdStore>[0]>) => {
      const sink = new RecordingSink();
      const store = new EtcdStore({ endpoints: [etcd.endpoint], prefix: '/lain/spread/', logger: silentLogger, ...more }, sink);
      const running = store.run();
      await until(() => store.status().startSpreadMs !== null, 5_000, 'the spread');
      store.close();
      await running;
      return store.status().startSpreadMs;
    };
    const live = (await writer.rangePrefix(prefix, 5_000)).kvs.length;
    assert.equal(await spread({ firstReadJitterMs: 1, startSpreadPerInstanceMs: 10 }), live * 10);
    assert.equal(await spread({ firstReadJitterMs: 1, startSpreadPerInstanceMs: 10, maxStartSpreadMs: 100 }), 100);
    assert.equal(await spread({ firstReadJitterMs: 1_000, startSpreadPerInstanceMs: 10 }), Math.max(1_000, live * 10), 'never less than the plain jitter');
    assert.equal(await spread({ firstReadJitterMs: 0 }), 0, 'no jitter: no wait and no count');
    // LAIN's node list is there before any lainlet registers (a cluster's first start, or one
    // whose lainlets all went down together and took their keys with them).
    for (let i = 0; i < 40; i++) await writer.put(`/lain/nodes/nodes/spread-${i}:10.0.0.${i}:22`, '{}');
    const nodes = (await writer.rangePrefix('/lain/nodes/nodes/', 5_000)).kvs.length;
    assert.ok(nodes > live);
    assert.equal(await spread({ firstReadJitterMs: 1, startSpreadPerInstanceMs: 10 }), nodes * 10);
  } finally {
    for (let i = 0; i < 25; i++) await writer.delete(`${prefix}spread-${i}`);
    for (let i = 0; i < 40; i++) await writer.delete(`/lain/nodes/nodes/spread-${i}:10.0.0.${i}:22`);
  }
});
