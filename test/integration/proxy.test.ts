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
import { GrpcProxyProcess } from '../helpers/grpc-proxy.js';
import { RecordingSink, until } from '../helpers/store-sink.js';

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
