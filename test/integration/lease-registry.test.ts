// LeaseRegistry against a real etcd: the key holds the published value while the lease lives, a
// changed value is written again (at most every minRewriteMs), a lease lost while cut off is
// granted anew and the key written back, and stop() deletes the key at once.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdProcess } from '../../src/demo/etcd-process.js';
import { EtcdClient } from '../../src/store/etcd-client.js';
import { LeaseRegistry } from '../../src/store/registry.js';
import { silentLogger } from '../../src/util/log.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/store-sink.js';

let etcd: EtcdProcess;
let reader: EtcdClient;
before(async () => {
  etcd = await EtcdProcess.start();
  reader = new EtcdClient(etcd.endpoint);
});
after(async () => {
  reader.close();
  await etcd.stop();
});

async function valueOf(key: string): Promise<string | undefined> {
  const { kvs } = await reader.rangePrefix(key, 5_000);
  return kvs.find((kv) => kv.key.toString() === key)?.value.toString();
}

async function eventually(key: string, expected: string | undefined, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  while ((last = await valueOf(key)) !== expected) {
    if (Date.now() > deadline) assert.fail(`${what}: ${key} is ${last}, expected ${expected}`);
    await sleep(50);
  }
}

test('the key lives with the lease, a changed value is rewritten, stop() deletes it at once', async () => {
  let revision = 1;
  const key = '/lain/lainlet/instances/t1';
  const registry = new LeaseRegistry({ endpoints: [etcd.endpoint], key, value: () => ({ revision }), keepAliveMs: 200, minRewriteMs: 500, logger: silentLogger });
  registry.start();
  await eventually(key, '{"revision":1}', 5_000, 'registered');
  revision = 2;
  await eventually(key, '{"revision":2}', 5_000, 'the changed value');
  await sleep(6_000); // beyond the 5 s TTL: only keep-alives hold the key
  assert.equal(await valueOf(key), '{"revision":2}');
  assert.equal(registry.status().state, 'registered');
  assert.ok(registry.status().keepAlives >= 20, `kept alive (${registry.status().keepAlives})`);
  await registry.stop();
  assert.equal(await valueOf(key), undefined, 'revoked: gone at once');
});

test('the rewrite interval is read before each rewrite: a cluster of many lainlets holds a changed value back', { timeout: 30_000 }, async () => {
  let revision = 1;
  let intervalMs = 60_000; // as for 120 live lainlets
  const key = '/lain/lainlet/instances/t3';
  const registry = new LeaseRegistry({ endpoints: [etcd.endpoint], key, value: () => ({ revision }), keepAliveMs: 200, minRewriteMs: () => intervalMs, logger: silentLogger });
  registry.start();
  await eventually(key, '{"revision":1}', 5_000, 'registered');
  revision = 2;
  const keepAlives = registry.status().keepAlives;
  await until(() => registry.status().keepAlives >= keepAlives + 5, 10_000, 'five keep-alives');
  assert.equal(await valueOf(key), '{"revision":1}', 'not rewritten within the interval');
  intervalMs = 500; // the cluster shrank
  await eventually(key, '{"revision":2}', 5_000, 'the changed value once the interval allows it');
  await registry.stop();
});

test('a lease that expired while etcd was out of reach is granted anew and the key written back', { timeout: 30_000 }, async () => {
  const key = '/lain/lainlet/instances/t2';
  const proxy = await TcpProxy.start('127.0.0.1', Number(etcd.endpoint.split(':')[1]));
  const registry = new LeaseRegistry({ endpoints: [proxy.endpoint], key, value: () => ({ up: true }), ttlSeconds: 2, keepAliveMs: 500, logger: silentLogger });
  registry.start();
  await eventually(key, '{"up":true}', 5_000, 'registered');
  const firstLease = registry.status().leaseId;
  proxy.disconnect();
  await eventually(key, undefined, 6_000, 'the key to expire with its lease');
  proxy.restore();
  await eventually(key, '{"up":true}', 10_000, 'registered again');
  await until(() => registry.status().state === 'registered', 5_000, 'registered state');
  assert.notEqual(registry.status().leaseId, firstLease, 'a new lease');
  await registry.stop();
  await proxy.close();
});
