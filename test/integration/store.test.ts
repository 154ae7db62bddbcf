// The store layer against a real etcd: one snapshot, one watch, every event exactly once across
// an etcd restart and a watch response cut mid-way, and a single re-read when etcd compacted
// past our revision.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { getChannelzHandlers } from '@grpc/grpc-js';
import { EtcdProcess } from '../../src/demo/etcd-process.js';
import { EtcdClient } from '../../src/store/etcd-client.js';
import { EtcdStore, type StoreChange, type StoreKV, type StoreSink } from '../../src/store/etcd-store.js';
import { silentLogger } from '../../src/util/log.js';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { RecordingSink, until } from '../helpers/store-sink.js';

interface Delivered {
  type: 'put' | 'delete';
  key: string;
  value: string;
  modRevision: number;
}

/** Every event the store delivered, in delivery order (duplicates kept: they are the bug to see). */
class EventLog implements StoreSink {
  readonly delivered: Delivered[] = [];
  snapshots = 0;
  snapshotRevision = 0;
  /** Called once, on the next events() call. */
  onNextEvents: (() => void) | null = null;
  snapshot(_kvs: StoreKV[], revision: number) {
    this.snapshots++;
    this.snapshotRevision = revision;
  }
  events(changes: StoreChange[]) {
    for (const { type, key, value, modRevision } of changes) this.delivered.push({ type, key, value, modRevision });
    const hook = this.onNextEvents;
    this.onNextEvents = null;
    hook?.();
  }
  get lastRevision(): number {
    return this.delivered.at(-1)?.modRevision ?? 0;
  }
}

/** etcd's own history of `prefix` from `fromRevision` through `toRevision`, read by a fresh watch. */
async function history(endpoint: string, prefix: string, fromRevision: number, toRevision: number): Promise<Delivered[]> {
  const client = new EtcdClient(endpoint);
  const stream = client.watchPrefix(prefix, fromRevision);
  const out: Delivered[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`history replay: only ${out.length} events within 20 s`)), 20_000);
      stream.on('error', reject);
      stream.on('data', (res: { events: Array<{ type: number; kv?: { key: Buffer; value: Buffer; modRevision: number } }> }) => {
        for (const e of res.events) {
          if (!e.kv) continue;
          const removed = e.type === 1;
          out.push({ type: removed ? 'delete' : 'put', key: e.kv.key.toString(), value: removed ? '' : e.kv.value.toString(), modRevision: e.kv.modRevision });
        }
        if ((out.at(-1)?.modRevision ?? 0) >= toRevision) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    stream.on('error', () => {});
    stream.cancel();
    client.close();
  }
  return out;
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

test('snapshot then watch: every write arrives once, other prefixes are ignored', async () => {
  await writer.put('/other/x', 'ignored');
  // The last write before the snapshot is in the prefix: the watch must start after it.
  const aRevision = await writer.put('/lain/a', '1');
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [`http://${etcd.endpoint}`], prefix: '/lain/', logger: silentLogger }, sink);
  assert.deepEqual(store.status(), {
    state: 'connecting',
    endpoint: `http://${etcd.endpoint}`,
    revision: 0,
    lastContactAt: null,
    snapshots: 0,
    reconnects: 0,
    compactionsSeen: 0,
    staleReads: 0,
    refreshedReads: 0,
    checkReads: 0,
    pageLimit: 64,
    lastSnapshot: null,
    lostEventsSeen: 0,
    catchUpsResumed: 0,
    catchingUp: false,
    catchUps: 0,
    settled: 0,
    behindProxy: null,
    mainShared: null,
    startSpreadMs: null,
    probes: 0,
    lastProbeMs: null,
    lastError: null,
    unreachableSince: null,
    failedAttempts: 0,
  });
  const running = store.run();
  await until(() => sink.snapshots === 1, 5000, 'snapshot');
  assert.equal(sink.data.get('/lain/a'), '1');
  assert.equal(sink.modRevisions.get('/lain/a'), aRevision);
  assert.equal(sink.revision, aRevision);
  assert.equal(sink.data.has('/other/x'), false);
  await until(() => store.status().state === 'connected', 5000, 'watch');
  const status = store.status();
  assert.equal(status.endpoint, etcd.endpoint, 'the endpoint without its scheme');
  assert.equal(status.snapshots, 1);
  assert.equal(status.reconnects, 0);
  assert.equal(status.lastError, null);
  assert.ok(status.lastContactAt !== null && Date.now() - status.lastContactAt < 60_000);
  assert.equal(status.behindProxy, false, 'etcd answered the progress request: not a proxy');
  assert.equal(status.catchUps, 0, 'straight to etcd: one watch from the snapshot, no catch-up');
  assert.equal(status.catchingUp, false);
  let last = 0;
  for (let i = 0; i < 50; i++) last = await writer.put(`/lain/k${i}`, `v${i}`);
  await until(() => sink.data.size === 51, 5000, '50 watched writes');
  assert.equal(sink.eventCount, 50, 'each write delivered once');
  assert.equal(sink.revision, last);
  assert.equal(store.status().revision, last, 'status shows the last revision etcd told');
  store.close();
  await running;
});

test('no etcd endpoint is an error at construction', () => {
  assert.throws(() => new EtcdStore({ endpoints: [], prefix: '/lain/', logger: silentLogger }, new RecordingSink()), /no etcd endpoint/);
});

test('a dead first endpoint: the store fails over to the next one and says which it uses', async () => {
  const dead = `127.0.0.1:${await freeLoopbackPort()}`;
  await writer.put('/lain/failover/a', '1');
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [dead, etcd.endpoint], prefix: '/lain/failover/', logger: silentLogger, readTimeoutMs: 2_000 }, sink);
  const running = store.run();
  try {
    await until(() => store.status().state === 'connected', 20_000, 'failover');
    assert.equal(store.status().endpoint, etcd.endpoint);
    assert.ok(store.status().reconnects >= 1);
    assert.equal(sink.data.get('/lain/failover/a'), '1');
  } finally {
    store.close();
    await running;
  }
});

test('a frozen etcd (SIGSTOP) is noticed by the progress probe; a quiet one is not; it recovers on SIGCONT', { timeout: 60_000 }, async () => {
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [etcd.endpoint], prefix: '/lain/frozen/', logger: silentLogger, probeIntervalMs: 1_000, probeTimeoutMs: 3_000 }, sink);
  const running = store.run();
  try {
    await until(() => store.status().state === 'connected', 10_000, 'watch');
    // Quiet, not frozen: the probes are answered, nothing is given up.
    await new Promise((r) => setTimeout(r, 5_000));
    assert.equal(store.status().state, 'connected');
    assert.equal(store.status().reconnects, 0, 'no false alarm on a quiet etcd');
    const contactBefore = store.status().lastContactAt!;
    assert.ok(Date.now() - contactBefore < 3_000, 'answered probes count as contact');

    etcd.freeze();
    const frozenAt = Date.now();
    try {
      await until(() => store.status().state === 'disconnected', 15_000, 'the frozen etcd to be noticed');
      assert.ok(Date.now() - frozenAt >= 2_900, 'not before the probe timeout');
      assert.match(store.status().lastError ?? '', /did not answer a liveness probe \(a watch create\) within 3000 ms/);
    } finally {
      etcd.thaw();
    }
    await until(() => store.status().state === 'connected', 15_000, 'reconnect after thaw');
    assert.equal(store.status().lastError, null);
    assert.equal(sink.snapshots, 1, 'resumed, not re-read');
    const rev = await writer.put('/lain/frozen/after', 'x');
    await until(() => sink.data.get('/lain/frozen/after') === 'x', 10_000, 'a write after the thaw');
    assert.equal(sink.revision, rev);
  } finally {
    etcd.thaw();
    store.close();
    await running;
  }
});

test('a snapshot larger than 4 MiB is read (no gRPC receive limit)', { timeout: 60_000 }, async () => {
  const big = 'x'.repeat(1_000_000);
  for (let i = 0; i < 5; i++) await writer.put(`/lain/big/${i}`, big);
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [etcd.endpoint], prefix: '/lain/big/', logger: silentLogger }, sink);
  const running = store.run();
  try {
    await until(() => sink.snapshots === 1, 20_000, 'the 5 MB snapshot');
    assert.equal(sink.data.size, 5);
    assert.equal(sink.data.get('/lain/big/4'), big);
  } finally {
    store.close();
    await running;
  }
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

test('resume revision: an etcd restart mid-burst and a catch-up response cut mid-way deliver every event exactly once, in order, as etcd history replays it', { timeout: 120_000 }, async () => {
  const prefix = '/lain/resume/';
  const proxy = await TcpProxy.start('127.0.0.1', etcd.clientPort);
  const sink = new EventLog();
  const store = new EtcdStore({ endpoints: [proxy.endpoint], prefix, logger: silentLogger }, sink);
  const running = store.run();
  let written = 0;
  let lastRevision = 0;
  /** Writes keys first..last-1 (50 keys, each value unique), `workers` at a time; retries through an etcd restart. */
  const burst = async (first: number, last: number, workers = 1) => {
    let next = first;
    const worker = async () => {
      while (next < last) {
        const i = next++;
        for (;;) {
          try {
            // Every 7th write a delete, so that deletes travel the same way.
            const key = `${prefix}${i % 50}`;
            const revision = i % 7 === 6 ? await writer.delete(key, 2_000) : await writer.put(key, `v${i}`, 2_000);
            lastRevision = Math.max(lastRevision, revision);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 50)); // etcd restarting: the write may or may not have landed; history tells
          }
        }
        written++;
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
  };
  try {
    await until(() => sink.snapshots === 1 && store.status().state === 'connected', 10_000, 'watch');
    const fromRevision = sink.snapshotRevision + 1;

    // 1. etcd restarts while the burst is in flight and the store is watching it live.
    const live = burst(0, 600);
    await until(() => written >= 300, 20_000, '300 writes');
    await etcd.restart();
    await live;
    await until(() => sink.lastRevision >= lastRevision, 20_000, 'the store to catch up after the restart');

    // 2. Cut off while 2,500 more revisions pile up: etcd replays them in batches of at most
    // 1,000 revisions, each with a header revision ahead of its last event.
    proxy.disconnect();
    await burst(600, 3_100, 8);
    // 3. Back: once the first catch-up batch is applied, the next response is cut after 200 bytes.
    let cut: Promise<void> | undefined;
    sink.onNextEvents = () => (cut = proxy.cutAfter(200));
    proxy.restore();
    await until(() => cut !== undefined, 20_000, 'the first catch-up batch');
    await Promise.race([cut, new Promise((_, reject) => setTimeout(() => reject(new Error('no cut within 10 s')), 10_000))]);
    await burst(3_100, 3_300);
    await until(() => sink.lastRevision >= lastRevision, 30_000, `the store to reach revision ${lastRevision}`);

    const expected = await history(etcd.endpoint, prefix, fromRevision, lastRevision);
    assert.ok(expected.length > 2_500, `etcd's history holds the writes (${expected.length})`);
    assert.equal(proxy.midStreamCuts, 1, 'a response was cut mid-way');
    assert.ok(store.status().reconnects >= 2, `reconnected after the restart and after the cut (${store.status().reconnects})`);
    assert.equal(sink.snapshots, 1, 'resumed from history, never re-read');
    assert.equal(sink.delivered.length, expected.length, `events delivered: ${sink.delivered.length}, written: ${expected.length}`);
    assert.ok(expected.some((e) => e.type === 'delete'), 'the history has deletes');
    const firstWrong = sink.delivered.findIndex(
      (e, i) => e.modRevision !== expected[i].modRevision || e.type !== expected[i].type || e.key !== expected[i].key || e.value !== expected[i].value,
    );
    assert.equal(firstWrong, -1, `event ${firstWrong} differs: got ${JSON.stringify(sink.delivered[firstWrong])}, etcd has ${JSON.stringify(expected[firstWrong])}`);
  } finally {
    store.close();
    await running;
    await proxy.close();
  }
});

test('a dead etcd is retried with a growing, capped backoff, not in a tight loop', { timeout: 30_000 }, async () => {
  const dead = `127.0.0.1:${await freeLoopbackPort()}`;
  const store = new EtcdStore({ endpoints: [dead], prefix: '/lain/', logger: silentLogger }, new RecordingSink());
  const running = store.run();
  await new Promise((r) => setTimeout(r, 6_000));
  const { reconnects, state, lastError } = store.status();
  store.close();
  await running;
  // 250 ms, 500 ms, then every 1 s (each +-25%): 7 to 10 attempts in 6 s.
  assert.ok(reconnects >= 4 && reconnects <= 12, `${reconnects} attempts in 6 s`);
  assert.equal(state, 'disconnected');
  assert.ok(lastError, 'the last error is kept for /debug');
});

/**
 * etcd's own auth, switched on and off over its JSON gateway. lainlet sends etcd no
 * credentials, so with auth on etcd refuses its reads and its watch creates: the real way to
 * make etcd cancel a watch for a reason other than a compaction.
 */
function etcdAuth(url: string) {
  const call = async (path: string, body: object, token?: string): Promise<Record<string, unknown>> => {
    const res = await fetch(url + path, { method: 'POST', body: JSON.stringify(body), headers: token ? { authorization: token } : {}, signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  let rootAdded = false;
  return {
    async enable() {
      if (!rootAdded) {
        await call('/v3/auth/user/add', { name: 'root', password: 'root-pw' });
        await call('/v3/auth/role/add', { name: 'root' });
        await call('/v3/auth/user/grant', { user: 'root', role: 'root' });
        rootAdded = true;
      }
      await call('/v3/auth/enable', {});
    },
    async disable() {
      const { token } = await call('/v3/auth/authenticate', { name: 'root', password: 'root-pw' });
      await call('/v3/auth/disable', {}, String(token));
    },
  };
}

test('etcd refuses the store (auth switched on while it was cut off: its newest-revision read, then the watch create): the store reconnects with etcd\'s reason in lastError, re-reads nothing, and resumes once etcd accepts it', { timeout: 60_000 }, async () => {
  const own = await EtcdProcess.start();
  const auth = etcdAuth(own.url);
  const proxy = await TcpProxy.start('127.0.0.1', own.clientPort);
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [proxy.endpoint], prefix: '/lain/refused/', logger: silentLogger, firstReadJitterMs: 0 }, sink);
  const running = store.run();
  const ownWriter = new EtcdClient(own.endpoint);
  try {
    await ownWriter.put('/lain/refused/a', '1');
    await until(() => store.status().state === 'connected' && sink.data.get('/lain/refused/a') === '1', 10_000, 'watch');
    proxy.disconnect();
    await auth.enable();
    proxy.restore();
    await until(() => /etcdserver: user name is empty$/.test(store.status().lastError ?? ''), 15_000, "etcd's refusal of the watch in lastError").catch((err: Error) => {
      throw new Error(`${err.message}; status: ${JSON.stringify(store.status())}`);
    });
    assert.equal(store.status().state, 'disconnected');
    const refusedAt = store.status().reconnects;
    // Refused again on every attempt, each one counted, never taken for a live watch.
    await until(() => store.status().reconnects >= refusedAt + 2, 15_000, 'two more refused attempts');
    assert.match(store.status().lastError ?? '', /etcdserver: user name is empty$/);
    assert.notEqual(store.status().state, 'connected');
    await auth.disable();
    await until(() => store.status().state === 'connected', 15_000, 'the watch accepted again');
    assert.equal(store.status().lastError, null);
    const rev = await ownWriter.put('/lain/refused/b', '2');
    await until(() => sink.data.get('/lain/refused/b') === '2', 10_000, 'a write after auth is off');
    assert.equal(sink.revision, rev);
    assert.equal(sink.snapshots, 1, 'resumed from its revision, never re-read');
  } finally {
    store.close();
    await running;
    ownWriter.close();
    await proxy.close();
    await own.stop();
  }
});

/** A counter or gauge from etcd's own /metrics (summed over its label sets). */
async function etcdMetric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) ? line.includes(labels) : line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Messages etcd received on Watch streams: our main watch's create, then per probe a create and (once answered) a cancel. */
const watchMessages = (url: string) => etcdMetric(url, 'grpc_server_msg_received_total', 'grpc_method="Watch"');

test("a refused liveness probe (auth switched on while watching) is the probe's answer, not the main watch cancelled: the store stays on its watch", { timeout: 60_000 }, async () => {
  const own = await EtcdProcess.start();
  const auth = etcdAuth(own.url);
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [own.endpoint], prefix: '/lain/probe-refused/', logger: silentLogger, probeIntervalMs: 300, probeTimeoutMs: 3_000, firstReadJitterMs: 0 }, sink);
  const running = store.run();
  const ownWriter = new EtcdClient(own.endpoint);
  try {
    await until(() => store.status().state === 'connected', 10_000, 'watch');
    await auth.enable();
    // etcd 3.4 answers each probe's create with created + canceled ("user name is empty"),
    // under watch_id -1: not the main watch's, whose events keep coming.
    const probes = store.status().probes;
    const messages = await watchMessages(own.url);
    await until(() => store.status().probes >= probes + 6, 10_000, 'six probes answered (refused) with auth on');
    // A refused probe has no watch to cancel: one message (its create) per probe, no cancel for watch_id -1.
    const sent = (await watchMessages(own.url)) - messages;
    const during = store.status();
    assert.ok(sent <= during.probes - probes + 2, `etcd received ${sent} watch messages for ${during.probes - probes} refused probes`);
    assert.equal(during.state, 'connected');
    assert.equal(during.reconnects, 0, 'the main watch was never given up');
    assert.equal(during.lastError, null);
    await auth.disable();
    const rev = await ownWriter.put('/lain/probe-refused/a', '1');
    await until(() => sink.data.get('/lain/probe-refused/a') === '1', 10_000, 'a write, on the same watch');
    assert.equal(sink.revision, rev);
    assert.equal(store.status().reconnects, 0);
    assert.equal(sink.snapshots, 1);
  } finally {
    store.close();
    await running;
    ownWriter.close();
    await own.stop();
  }
});

test('close() during the snapshot read (etcd hung): run() returns at once, nothing is delivered, and the shutdown is not counted as an etcd failure', { timeout: 30_000 }, async () => {
  const proxy = await TcpProxy.start('127.0.0.1', etcd.clientPort);
  proxy.hold();
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [proxy.endpoint], prefix: '/lain/', logger: silentLogger, firstReadJitterMs: 0 }, sink);
  let returned = false;
  const running = store.run().then(() => (returned = true));
  try {
    // The client connects on its first call, the read: once the proxy has the connection, the read is in flight.
    await until(() => proxy.accepted === 1, 5_000, 'the read to reach etcd');
    store.close();
    await until(() => returned, 1_000, 'run() to return after close()');
    assert.equal(sink.snapshots, 0, 'no snapshot after close()');
    const { state, reconnects, lastError, failedAttempts } = store.status();
    assert.deepEqual({ state, reconnects, lastError, failedAttempts }, { state: 'connecting', reconnects: 0, lastError: null, failedAttempts: 0 });
  } finally {
    store.close();
    proxy.release();
    await running;
    await proxy.close();
  }
});

/** The gRPC channels this process holds open to `endpoint`, as grpc-js's own channelz lists them (closing a channel removes it). */
function openChannels(endpoint: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = { request: { start_channel_id: '0', max_results: '100000' } } as unknown as Parameters<ReturnType<typeof getChannelzHandlers>['GetTopChannels']>[0];
    getChannelzHandlers().GetTopChannels(call, (err, res) => (err ? reject(err) : resolve((res?.channel ?? []).filter((c) => c.data?.target?.endsWith(endpoint)).length)));
  });
}

test('one gRPC client per endpoint, however often the store reconnects (no channel leak): close() leaves no channel or connection to etcd open', { timeout: 60_000 }, async () => {
  const proxy = await TcpProxy.start('127.0.0.1', etcd.clientPort);
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [proxy.endpoint], prefix: '/lain/one-client/', logger: silentLogger, firstReadJitterMs: 0 }, sink);
  const running = store.run();
  try {
    await until(() => store.status().state === 'connected', 10_000, 'watch');
    for (let i = 1; i <= 3; i++) {
      proxy.disconnect();
      await until(() => store.status().reconnects >= i, 10_000, `reconnect ${i}`);
      proxy.restore();
      await until(() => store.status().state === 'connected', 10_000, `watch ${i}`);
    }
    assert.equal(proxy.openConnections, 1, 'one connection to etcd');
    assert.equal(await openChannels(proxy.endpoint), 3, "one client's channels (KV, Watch, Lease), not one client per reconnect");
  } finally {
    store.close();
    await running;
  }
  assert.equal(await openChannels(proxy.endpoint), 0, 'close() closes every channel');
  await until(() => proxy.openConnections === 0, 5_000, 'close() to drop every connection to etcd');
  await proxy.close();
});


/**
 * Runs a store on its own etcd until `rounds` probes are answered (writing `writes` keys meanwhile),
 * then checks the probe bookkeeping against what etcd itself saw: one create per probe, one cancel per
 * answered probe, no probe watch left behind, every answer counted once with its round trip.
 */
async function probeRounds(probeIntervalMs: number, rounds: number, writes: number) {
  const own = await EtcdProcess.start();
  const prefix = '/lain/probe-rounds/';
  const sink = new RecordingSink();
  const store = new EtcdStore({ endpoints: [own.endpoint], prefix, logger: silentLogger, probeIntervalMs, probeTimeoutMs: 2_000, firstReadJitterMs: 0 }, sink);
  const running = store.run();
  const ownWriter = new EtcdClient(own.endpoint);
  try {
    await until(() => store.status().state === 'connected', 10_000, 'watch');
    for (let i = 0; i < writes; i++) await ownWriter.put(`${prefix}k${i}`, `${i}`);
    await until(() => store.status().probes >= rounds, 20_000, `${rounds} probes answered`);
    // etcd's watchers: the main watch and at most the one probe in flight, not one per probe sent.
    assert.ok((await etcdMetric(own.url, 'etcd_debugging_mvcc_watcher_total')) <= 2, 'answered probe watches are cancelled');
    const { lastProbeMs, reconnects } = store.status();
    assert.ok(lastProbeMs !== null && lastProbeMs >= 0 && lastProbeMs < 2_000, `a round trip, not ${lastProbeMs}`);
    assert.equal(reconnects, 0);
  } finally {
    store.close();
    await running;
    ownWriter.close();
  }
  try {
    // The stream is gone once etcd holds no watcher: every message it received has been counted.
    await until(() => false, 0, '').catch(() => {});
    const end = Date.now() + 10_000;
    while ((await etcdMetric(own.url, 'etcd_debugging_mvcc_watcher_total')) > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const received = await watchMessages(own.url);
    const { probes, lastProbeMs, catchUps, settled } = store.status();
    assert.equal(sink.eventCount, writes);
    assert.ok(lastProbeMs !== null && lastProbeMs >= 0 && lastProbeMs < 2_000, `a round trip, not ${lastProbeMs}`);
    // received = 1 (the progress request that tells etcd from a proxy, once) + 1 (main create) +
    // probes sent (answered, or one still in flight) + cancels (one per answered probe; the last
    // may be cut off by close()) + the catch-up's create and cancel, and for a settled one the new
    // main watch's create and the old one's cancel (see handover.ts; none straight to etcd).
    const handover = 2 * catchUps + 2 * settled;
    assert.ok(Math.abs(received - 2 - handover - 2 * probes) <= 1, `etcd received ${received} watch messages for ${probes} probes counted: one create and one cancel per probe`);
  } finally {
    await own.stop();
  }
}

test('liveness probes on a quiet stream: each answered probe counted once with its round trip, and its watch cancelled (etcd holds no probe watches)', { timeout: 60_000 }, async () => {
  await probeRounds(300, 5, 0);
});

test('liveness probes back to back while events stream: an event during a probe neither loses nor doubles its count', { timeout: 60_000 }, async () => {
  await probeRounds(1, 50, 300);
});
