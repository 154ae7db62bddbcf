// Fault suite, etcd side (issue #3, faults 1-4): etcd killed, a cluster member killed,
// compaction while cut off, etcd frozen. Real etcd processes, real lainlet processes. Faults 1,
// 3 and 4 run in both topologies (issue 12): lainlet on etcd itself, and lainlet on an
// `etcd grpc-proxy` in front of it, where a frozen proxy and a quiet minute are tested too.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdHttp, EtcdProcess, useEtcd } from '../helpers/etcd.js';
import { get, startLainlet, watch, type LainletProcess } from '../helpers/lainlet.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { GrpcProxyProcess } from '../helpers/grpc-proxy.js';
import {
  ClusterWriter,
  assertHealthyStreams,
  converge,
  debug,
  figure,
  loadCluster,
  openWatchers,
  until,
  type Watcher,
} from './support.js';

const env = useEtcd();
const cleanup: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

function closeAll(watchers: Watcher[]) {
  for (const { w } of watchers) w.close();
}

/** Where lainlet's -etcd points: etcd itself, or one `etcd grpc-proxy` in front of it (started once). */
type Topology = 'direct' | 'proxy';
let grpcProxy: GrpcProxyProcess | undefined;
async function front(topology: Topology): Promise<{ endpoint: string; port: number }> {
  if (topology === 'proxy' && !grpcProxy) {
    const p = (grpcProxy = await GrpcProxyProcess.start(env.etcd.endpoint));
    cleanup.push(() => p.stop());
  }
  const endpoint = topology === 'proxy' ? grpcProxy!.endpoint : env.etcd.endpoint;
  return { endpoint, port: Number(endpoint.split(':').pop()) };
}

/** The sample cluster, a writer for it, and a lainlet with `count` watchers that have their init. */
async function lainletWithWatchers(count: number, topology: Topology = 'direct') {
  const cluster = await loadCluster(env.http);
  const writer = new ClusterWriter(env.http, cluster);
  const lainlet = await startLainlet({ etcd: (await front(topology)).endpoint, readyPath: '/readyz' });
  cleanup.push(() => lainlet.stop());
  const watchers = openWatchers(lainlet.port, count);
  await Promise.all(watchers.map(({ w }) => w.next((e) => e.event === 'init')));
  return { writer, lainlet, watchers };
}

async function fault1(topology: Topology) {
  const { writer, lainlet, watchers } = await lainletWithWatchers(50, topology);
  const before = await get(lainlet.port, '/v2/coreinfowatcher?appname=hello');

  env.etcd.kill('SIGKILL');
  const killedAt = Date.now();
  const heartbeatsBefore = watchers.map(({ w }) => w.events.filter((e) => e.event === 'heartbeat').length);
  const down = await until('lainlet to notice etcd is down', 10_000, async () => {
    const d = await debug(lainlet.port);
    return d.etcd.state !== 'connected' && d;
  });
  figure(`fault 1 (${topology}) etcd down noticed after`, Date.now() - killedAt, 'ms');
  assert.equal(down.ready.ready, false);
  assert.equal((await get(lainlet.port, '/readyz')).status, 503);
  // GETs keep answering the last state.
  const during = await get(lainlet.port, '/v2/coreinfowatcher?appname=hello');
  assert.equal(during.status, 200);
  assert.equal(during.body, before.body);
  await sleep(Math.max(0, 10_000 - (Date.now() - killedAt)));
  const late = await debug(lainlet.port);
  assert.ok((late.etcd.lastContactAgoMs ?? 0) >= 9_000, `debug says how long since etcd was reached (${late.etcd.lastContactAgoMs} ms)`);
  assert.equal(late.revision, down.revision, 'debug keeps the last applied revision');
  watchers.forEach(({ w }, i) => {
    const hb = w.events.filter((e) => e.event === 'heartbeat').length - heartbeatsBefore[i];
    assert.ok(hb >= 5, `heartbeats continue during the outage (${hb})`);
  });

  await env.etcd.restart();
  const backAt = Date.now();
  // Through a proxy, the proxy itself must reconnect first: grpc-go's backoff (1 s x 1.6 per
  // failed attempt, jittered) makes that take a few seconds after a 10 s outage.
  const reconnectBudgetMs = topology === 'direct' ? 2_000 : 10_000;
  for (let i = 0; i < 20; i++) await writer.change();
  const ms = await converge(watchers, { etcd: env.etcd.endpoint, lainletPort: lainlet.port, timeoutMs: reconnectBudgetMs + (Date.now() - backAt) });
  figure(`fault 1 (${topology}) convergence after etcd back`, Date.now() - backAt, 'ms');
  figure(`fault 1 (${topology}) convergence after last write`, ms, 'ms');
  await until('ready again', 5_000, async () => (await get(lainlet.port, '/readyz')).status === 200);
  assertHealthyStreams(watchers);
  closeAll(watchers);
  await lainlet.stop();
}
test('fault 1: etcd killed for 10 s under 50 watchers; writes right after it returns', { timeout: 90_000 }, () => fault1('direct'));
test('fault 1 through etcd grpc-proxy: etcd killed for 10 s under 50 watchers', { timeout: 90_000 }, () => fault1('proxy'));

async function fault3(topology: Topology) {
  await loadCluster(env.http);
  const proxy = await TcpProxy.start('127.0.0.1', (await front(topology)).port);
  cleanup.push(() => proxy.close());
  const lainlet = await startLainlet({ etcd: proxy.endpoint, readyPath: '/readyz' });
  cleanup.push(() => lainlet.stop());
  for (let i = 0; i < 50; i++) await env.http.put(`/lain/config/bulk/${i}`, 'old');
  const changed = ['/v2/configwatcher?target=bulk/', '/v2/coreinfowatcher?appname=hello', '/v2/appswatcher'];
  const unchanged = ['/v2/coreinfowatcher?appname=registry', '/v2/configwatcher?target=domain', '/v2/nodes'];
  await until('bulk keys visible', 5_000, async () => (await get(lainlet.port, '/v2/configwatcher?target=bulk/49')).body.includes('old'));
  const watchers = [...changed, ...unchanged].map((path) => ({ path, w: watch(lainlet.port, `${path}${path.includes('?') ? '&' : '?'}watch=1`) }));
  await Promise.all(watchers.map(({ w }) => w.next((e) => e.event === 'init')));
  const debugBefore = await debug(lainlet.port);
  const snapshotsBefore = debugBefore.etcd.snapshots;

  proxy.disconnect();
  const hello = (await env.http.get('/lain/deployd/pod_groups/hello/hello.web.web'))!;
  let rev = 0;
  for (let i = 0; i < 500; i++) {
    const k = `/lain/config/bulk/${i % 100}`;
    rev = i % 3 === 2 ? await env.http.del(k) : await env.http.put(k, `v${i}`);
  }
  // Each topology's run moves hello elsewhere and adds its own app (both runs share one etcd).
  const movedHello = hello.replace(/"ContainerIp":"[^"]*"/, `"ContainerIp":"172.20.77.${topology === 'direct' ? 7 : 8}"`);
  assert.notEqual(movedHello, hello);
  rev = await env.http.put('/lain/deployd/pod_groups/hello/hello.web.web', movedHello);
  // Its own container ids: two pod groups claiming one container make the answer depend on write order.
  const app = `newapp${topology}`;
  const newapp = hello.replaceAll('hello', app).replaceAll('"Id":"', `"Id":"${app}-`);
  rev = await env.http.put(`/lain/deployd/pod_groups/${app}/${app}.web.web`, newapp);
  await env.http.compact(rev);
  proxy.restore();

  const restoredAt = Date.now();
  const d = await until('re-read after the compaction', 20_000, async () => {
    const x = await debug(lainlet.port);
    return x.etcd.compactionsSeen >= 1 && x.revision >= rev && x;
  });
  figure(`fault 3 (${topology}) recovery after reconnect`, Date.now() - restoredAt, 'ms');
  assert.equal(d.etcd.snapshots, snapshotsBefore + 1, 'exactly one re-read');
  await converge(watchers, { etcd: env.etcd.endpoint, lainletPort: lainlet.port, timeoutMs: 3_000 });
  await sleep(500);
  for (const { path, w } of watchers) {
    const sent = w.events.filter((e) => e.event === 'update' || e.event === 'delete').length;
    assert.equal(sent, changed.includes(path) ? 1 : 0, `${path}: ${sent} events after the resync`);
  }
  closeAll(watchers);
  await lainlet.stop();
  return { staleReads: d.etcd.staleReads - debugBefore.etcd.staleReads };
}
test('fault 3: cut off while 500 writes and deletes happen and etcd compacts: one re-read, one event per changed view', { timeout: 90_000 }, async () => {
  await fault3('direct');
});
test('fault 3 through etcd grpc-proxy: the stale cached read is recognized, still one re-read', { timeout: 90_000 }, async () => {
  const { staleReads } = await fault3('proxy');
  // The proxy still holds lainlet's start-up read, from before the compaction.
  assert.equal(staleReads, 1, 'the re-read went past the stale cache to etcd itself');
});

/** Fault 4: SIGSTOP `frozen` (etcd, or the proxy in front of it); lainlet must notice within ~10 s. */
async function fault4(topology: Topology, frozen: 'etcd' | 'proxy') {
  const { writer, lainlet, watchers } = await lainletWithWatchers(10, topology);
  await until('connected', 5_000, async () => (await get(lainlet.port, '/readyz')).status === 200);
  const target = frozen === 'etcd' ? env.etcd : grpcProxy!;

  target.freeze();
  const frozenAt = Date.now();
  cleanup.push(() => target.thaw());
  // The probe: quiet for 4 s, then 4 s for an answer (src/store/etcd-store.ts).
  await until('lainlet to report not ready', 12_000, async () => (await get(lainlet.port, '/readyz')).status === 503);
  figure(`fault 4 (${topology}) frozen ${frozen} detected after`, Date.now() - frozenAt, 'ms');
  assert.equal((await get(lainlet.port, '/v2/coreinfowatcher?appname=hello')).status, 200, 'GETs still answer');

  target.thaw();
  const thawedAt = Date.now();
  await until('ready after thaw', 15_000, async () => (await get(lainlet.port, '/readyz')).status === 200);
  figure(`fault 4 (${topology}) ready again after ${frozen} thawed`, Date.now() - thawedAt, 'ms');
  for (let i = 0; i < 5; i++) await writer.change();
  await converge(watchers, { etcd: env.etcd.endpoint, lainletPort: lainlet.port, timeoutMs: 3_000 });
  assertHealthyStreams(watchers);
  closeAll(watchers);
  await lainlet.stop();
}
test('fault 4: etcd frozen (SIGSTOP): lainlet notices, reports not ready, recovers on SIGCONT', { timeout: 90_000 }, () => fault4('direct', 'etcd'));
test('fault 4 through etcd grpc-proxy: etcd frozen behind the proxy', { timeout: 90_000 }, () => fault4('proxy', 'etcd'));
test('fault 4 through etcd grpc-proxy: the proxy itself frozen', { timeout: 90_000 }, () => fault4('proxy', 'proxy'));

test('through etcd grpc-proxy: 60 quiet seconds, no watch re-opened, /readyz steady', { timeout: 120_000 }, async () => {
  const { lainlet, watchers } = await lainletWithWatchers(10, 'proxy');
  await until('connected', 5_000, async () => (await get(lainlet.port, '/readyz')).status === 200);
  const before = await debug(lainlet.port);
  const started = Date.now();
  let answers = 0;
  while (Date.now() - started < 60_000) {
    const r = await get(lainlet.port, '/readyz');
    assert.equal(r.status, 200, `/readyz after ${Date.now() - started} ms: ${r.body}`);
    answers++;
    await sleep(500);
  }
  const now = await debug(lainlet.port);
  assert.equal(now.etcd.reconnects, before.etcd.reconnects, 'no watch re-opened');
  assert.equal(now.etcd.snapshots, before.etcd.snapshots, 'no re-read');
  figure('liveness probes answered by the proxy in 60 quiet s', now.etcd.probes - before.etcd.probes);
  assert.ok(now.etcd.probes - before.etcd.probes >= 10, 'probed all along');
  assert.ok(answers >= 100, `readyz polled all along (${answers})`);
  assertHealthyStreams(watchers);
  closeAll(watchers);
  await lainlet.stop();
});

test('fault 2: a 3-member cluster loses the member lainlet uses: failover, no watcher dropped', { timeout: 120_000 }, async () => {
  const members = await EtcdProcess.startCluster(3);
  cleanup.push(() => Promise.all(members.map((m) => m.stop())));
  const http = members.map((m) => new EtcdHttp(m.url));
  const cluster = await loadCluster(http[0]);
  const lainlet: LainletProcess = await startLainlet({ etcd: members.map((m) => m.endpoint).join(','), readyPath: '/readyz' });
  cleanup.push(() => lainlet.stop());
  const watchers = openWatchers(lainlet.port, 30);
  await Promise.all(watchers.map(({ w }) => w.next((e) => e.event === 'init')));
  const d = await until('connected', 5_000, async () => {
    const x = await debug(lainlet.port);
    return x.etcd.state === 'connected' && x;
  });
  const used = members.findIndex((m) => m.endpoint === d.etcd.endpoint);
  assert.ok(used >= 0, `debug names the member in use (${d.etcd.endpoint})`);
  members[used].kill('SIGKILL');
  const killedAt = Date.now();
  const failedOver = until('failover to another member', 15_000, async () => {
    const x = await debug(lainlet.port);
    return x.etcd.state === 'connected' && x.etcd.endpoint !== members[used].endpoint;
  }).then(() => Date.now() - killedAt);
  const survivor = http[(used + 1) % 3];
  const writer = new ClusterWriter(survivor, cluster);
  // The survivors may be electing a new leader (the killed member may have led): retry a write
  // that times out meanwhile.
  for (let i = 0; i < 10; i++) await until('a write to the surviving members', 20_000, () => writer.change().then(() => true, () => false));
  figure('fault 2 failover', await failedOver, 'ms');
  await converge(watchers, { etcd: members[(used + 1) % 3].endpoint, lainletPort: lainlet.port, timeoutMs: 3_000 });
  assertHealthyStreams(watchers);
  assert.equal((await debug(lainlet.port)).connections, 30, 'no watcher dropped');
  closeAll(watchers);
});

