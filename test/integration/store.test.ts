// The store layer against a real etcd: one snapshot, one watch, no event lost across an etcd
// restart, and a single re-read when etcd compacted past our revision.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdProcess } from '../../src/demo/etcd-process.js';
import { EtcdClient } from '../../src/store/etcd-client.js';
import { EtcdStore, type StoreChange, type StoreKV, type StoreSink } from '../../src/store/etcd-store.js';
import { silentLogger } from '../../src/util/log.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/** Keeps what the store delivered as a plain map, and counts snapshots. */
class RecordingSink implements StoreSink {
  readonly data = new Map<string, string>();
  snapshots = 0;
  revision = 0;
  snapshot(kvs: StoreKV[], revision: number) {
    this.snapshots++;
    this.data.clear();
    for (const kv of kvs) this.data.set(kv.key, kv.value);
    this.revision = revision;
  }
  events(changes: StoreChange[], revision: number) {
    for (const c of changes) {
      if (c.type === 'put') this.data.set(c.key, c.value);
      else this.data.delete(c.key);
    }
    this.revision = revision;
  }
}

async function until(cond: () => boolean, timeoutMs: number, what: string) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let etcd: EtcdProcess;
let writer: EtcdClient;
before(async () => {
  etcd = await EtcdProcess.start();
  writer = new EtcdClient(etcd.endpoint);
});
after(async () => {
  writer.close();
  await etcd.stop();
});

test('snapshot then watch: every write arrives, other prefixes are ignored', async () => {
  await writer.put('/lain/a', '1');
  await writer.put('/other/x', 'ignored');
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [`http://${etcd.endpoint}`], prefix: '/lain/', logger: silentLogger }, sink);
  const running = store.run();
  await until(() => sink.snapshots === 1, 5000, 'snapshot');
  assert.equal(sink.data.get('/lain/a'), '1');
  assert.equal(sink.data.has('/other/x'), false);
  await until(() => store.status().state === 'connected', 5000, 'watch');
  for (let i = 0; i < 50; i++) await writer.put(`/lain/k${i}`, `v${i}`);
  await until(() => sink.data.size === 51, 5000, '50 watched writes');
  store.close();
  await running;
});

test('an etcd restart in the middle of a write burst loses nothing and re-reads nothing', async () => {
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [etcd.endpoint], prefix: '/lain/burst/', logger: silentLogger }, sink);
  const running = store.run();
  await until(() => store.status().state === 'connected', 5000, 'watch');
  for (let i = 0; i < 500; i++) await writer.put(`/lain/burst/${i}`, `a${i}`);
  await etcd.restart();
  // A second writer: the first one's channel is mid-reconnect.
  for (let i = 0; i < 500; i++) await writer.put(`/lain/burst/${i}`, `b${i}`);
  await until(() => sink.data.get('/lain/burst/499') === 'b499', 20000, 'writes after restart');
  assert.equal(sink.snapshots, 1, 'resumed from the last event, not re-read');
  for (let i = 0; i < 500; i++) assert.equal(sink.data.get(`/lain/burst/${i}`), `b${i}`);
  assert.ok(store.status().reconnects >= 1);
  store.close();
  await running;
});

test('cut off while etcd compacts past our revision: one re-read, then the difference is applied', async () => {
  const proxy = await TcpProxy.start('127.0.0.1', Number(etcd.endpoint.split(':')[1]));
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [proxy.endpoint], prefix: '/lain/compact/', logger: silentLogger }, sink);
  const running = store.run();
  try {
    for (let i = 0; i < 20; i++) await writer.put(`/lain/compact/${i}`, 'old');
    await until(() => store.status().state === 'connected' && sink.data.size === 20, 5000, 'initial state');
    proxy.disconnect();
    let rev = 0;
    for (let i = 0; i < 10; i++) rev = await writer.delete(`/lain/compact/${i}`);
    for (let i = 10; i < 30; i++) rev = await writer.put(`/lain/compact/${i}`, 'new');
    await writer.compact(rev);
    proxy.restore();
    await until(() => sink.snapshots === 2 && store.status().state === 'connected', 20000, 'resync after compaction');
    assert.equal(store.status().compactionsSeen, 1);
    assert.deepEqual([...sink.data.keys()].sort(), Array.from({ length: 20 }, (_, i) => `/lain/compact/${i + 10}`).sort());
    for (const v of sink.data.values()) assert.equal(v, 'new');
  } finally {
    store.close();
    await running;
    await proxy.close();
  }
});
