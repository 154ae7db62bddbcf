// Hostile callers and hostile data (README "Security"): each hole a red-team pass found,
// reproduced over HTTP and gRPC against a real etcd and lainlet as a child process. Callers are told apart by
// their loopback source address: 127.0.0.99 is no container, 127.0.0.60 a container of a super
// app, 127.0.0.61 a container whose pod group has no app name, 127.0.0.62 an IP that only a
// depends key starting with `.` lists.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { startSampleEtcd, type ClusterSnapshot, type TestEtcd } from '../helpers/etcd.js';
import { isSecretConfigKey } from '../helpers/secrets.js';
import { get, REPO_ROOT, startLainlet, watch, type LainletProcess, type SseWatch } from '../helpers/lainlet.js';
import { rejection as rejectionOf, until } from '../helpers/wait.js';

const PROTO = path.join(REPO_ROOT, 'proto', 'lainlet', 'message.proto');
const pkg = (
  grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, objects: true })) as unknown as {
    message: Record<string, grpc.ServiceClientConstructor>;
  }
).message;

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const STRANGER = '127.0.0.99';
const BOSS = '127.0.0.60';
const NONAME = '127.0.0.61';
const DOTTED = '127.0.0.62';


let env: TestEtcd;
let cluster: ClusterSnapshot;
let lainlet: LainletProcess;
let grpcPort: number;
const watches: SseWatch[] = [];
const clients: grpc.Client[] = [];
const streams: grpc.ClientReadableStream<Json>[] = [];
const sockets: net.Socket[] = [];

function podGroup(app: string, proc: string, ip: string, namespace: string = app): string {
  return JSON.stringify({
    Spec: { Name: `${app}.web.${proc}`, Namespace: namespace, Pod: { Annotation: '{}', Containers: [{ Image: `${app}:1`, Env: ['SECRET_ENV=1'] }] } },
    Pods: [{ InstanceNo: 1, Containers: [{ Id: `${app}-${proc}-1`, NodeName: 'node1', NodeIp: '192.168.77.21', ContainerIp: ip, ContainerPort: 80 }] }],
  });
}

before(
  async () => {
    ({ cluster, ...env } = await startSampleEtcd());
    await env.http.putMany({
      '/lain/deployd/pod_groups/boss/boss.web.web': podGroup('boss', 'web', BOSS),
      '/lain/config/super_apps/boss': '{}',
      // Bad data: a pod group without Spec.Namespace, a depends key that starts with `.`.
      '/lain/deployd/pod_groups/noname/noname.web.web': podGroup('noname', 'web', NONAME, ''),
      '/lain/deployd/depends/pods/.hidden.portal': JSON.stringify({ node1: { hello: { Pod: { Containers: [{ Id: 'x', ContainerIp: DOTTED }] } } } }),
    });
    grpcPort = await freeLoopbackPort();
    lainlet = await startLainlet({ etcd: env.etcd.endpoint, args: ['-grpc.addr', `127.0.0.1:${grpcPort}`], readyPath: '/readyz' });
  },
  { timeout: 300_000 },
);

after(async () => {
  for (const w of watches) w.close();
  for (const s of streams) s.cancel();
  for (const c of clients) c.close();
  for (const s of [...proxySockets, ...sockets]) s.destroy();
  for (const s of proxyServers) s.close();
  await lainlet?.stop();
  await env?.etcd.stop();
});

function open(p: string, from: string, port = lainlet.port): SseWatch {
  const w = watch(port, p, { from });
  watches.push(w);
  return w;
}

/** A loopback proxy whose connections to `targetPort` come from `localAddress` (grpc-js cannot pick its source address). */
const proxies = new Map<string, Promise<number>>();
const proxySockets = new Set<net.Socket>();
const proxyServers: net.Server[] = [];
function proxyFrom(localAddress: string, targetPort: number): Promise<number> {
  const id = `${localAddress}>${targetPort}`;
  let port = proxies.get(id);
  if (!port) {
    const server = net.createServer((downstream) => {
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort, localAddress });
      for (const s of [downstream, upstream]) {
        proxySockets.add(s);
        s.on('error', () => {});
        s.on('close', () => proxySockets.delete(s));
      }
      downstream.pipe(upstream).pipe(downstream);
      downstream.on('close', () => upstream.destroy());
      upstream.on('close', () => downstream.destroy());
    });
    proxyServers.push(server);
    server.listen(0, '127.0.0.1');
    port = once(server, 'listening').then(() => (server.address() as net.AddressInfo).port);
    proxies.set(id, port);
  }
  return port;
}

/** A client of `service` whose calls come from the source address `from`. */
async function grpcClient(service: string, from: string, port = grpcPort): Promise<grpc.Client> {
  const c = new pkg[service](`127.0.0.1:${await proxyFrom(from, port)}`, grpc.credentials.createInsecure());
  clients.push(c);
  return c;
}

async function grpcGet(service: string, from: string, request: object, port = grpcPort): Promise<Json> {
  const c = (await grpcClient(service, from, port)) as unknown as Record<string, (r: object, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Json) => void) => void>;
  return new Promise((resolve, reject) => c.Get(request, { deadline: Date.now() + 10_000 }, (err, reply) => (err ? reject(err) : resolve(reply))));
}

class GrpcWatch {
  readonly messages: Json[] = [];
  error: grpc.ServiceError | undefined;
  private constructor(readonly stream: grpc.ClientReadableStream<Json>) {
    streams.push(stream);
    stream.on('data', (m: Json) => this.messages.push(m));
    stream.on('error', (e: grpc.ServiceError) => (this.error = e));
  }
  static async open(service: string, from: string, request: object, port = grpcPort): Promise<GrpcWatch> {
    const c = (await grpcClient(service, from, port)) as unknown as Record<string, (r: object) => grpc.ClientReadableStream<Json>>;
    return new GrpcWatch(c.Watch(request));
  }
  async until(cond: (w: GrpcWatch) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    await until(() => cond(this), timeoutMs, `${what} (got ${this.messages.length} messages, error ${this.error?.message ?? 'none'})`);
  }
}

const rejection = (p: Promise<unknown>) => rejectionOf<grpc.ServiceError>(p);

/** The secret config keys an answer body holds (a JSON object keyed by config key), if any. */
function secretKeysIn(body: string): string[] {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  return Object.keys(parsed).filter(isSecretConfigKey);
}

// ---- 1 and 2: config secrets ----

const SNEAKY_TARGETS = ['=rsyncd_secrets', '=etcd_cluster_token', '=ssl', '=super_apps/console', 'r', 'e', 's', 'v', 'super', 'rs', 'n', 'c', 'b', 'd', 't', 'sw'];

test('1-2. a caller that is no container reads no secret config key, whatever the target (HTTP GET and watch)', async () => {
  for (const target of SNEAKY_TARGETS) {
    const q = `/v2/configwatcher?target=${encodeURIComponent(target)}`;
    const answer = await get(lainlet.port, q, { from: STRANGER });
    if (answer.status === 200) assert.deepEqual(secretKeysIn(answer.body), [], `GET ${q}`);
    else assert.equal(answer.status, 400, `GET ${q}: ${answer.body}`);
    const w = open(`${q}&watch=1`, STRANGER);
    const first = await w.next((e) => e.event === 'init' || e.event === 'error');
    if (first.event === 'init') assert.deepEqual(secretKeysIn(first.data!), [], `watch ${q}`);
    w.close();
  }
  // Not super callers but containers: the same.
  const hello = await get(lainlet.port, '/v2/configwatcher?target=s', { from: NONAME });
  assert.deepEqual(secretKeysIn(hello.body), []);
});

test('1-2. the same targets over gRPC Config.Get and Config.Watch', async () => {
  for (const target of SNEAKY_TARGETS) {
    try {
      const reply = await grpcGet('Config', STRANGER, { Target: target });
      assert.deepEqual(Object.keys(reply.Data).filter(isSecretConfigKey), [], `Config.Get ${target}`);
    } catch (err) {
      assert.equal((err as grpc.ServiceError).code, grpc.status.PERMISSION_DENIED, `Config.Get ${target}: ${(err as Error).message}`);
    }
  }
  const w = await GrpcWatch.open('Config', STRANGER, { Target: 's' });
  await w.until((x) => x.messages.length > 0, 'Config.Watch init');
  assert.deepEqual(Object.keys(w.messages[0].Data).filter(isSecretConfigKey), []);
  assert.ok(Object.keys(w.messages[0].Data).some((k) => k.startsWith('streamrouter/')), 'the keys that are not secret are still there');
});

test('1-2. super callers still read secrets, and the plain rules still hold', async () => {
  const boss = JSON.parse((await get(lainlet.port, '/v2/configwatcher?target=rsyncd_secrets', { from: BOSS })).body) as Record<string, string>;
  assert.equal(boss.rsyncd_secrets, cluster['/lain/config/rsyncd_secrets']);
  const bossPrefix = JSON.parse((await get(lainlet.port, '/v2/configwatcher?target=s', { from: BOSS })).body) as Record<string, string>;
  assert.ok('ssl' in bossPrefix && 'super_apps/console' in bossPrefix);
  const denied = await get(lainlet.port, '/v2/configwatcher?target=ssl', { from: STRANGER });
  assert.deepEqual([denied.status, denied.body], [400, 'authorize failed, super required']);
  const domain = JSON.parse((await get(lainlet.port, '/v2/configwatcher?target=domain', { from: STRANGER })).body) as Record<string, string>;
  assert.deepEqual(Object.keys(domain), ['domain']);
  const reply = await grpcGet('Config', BOSS, { Target: '=rsyncd_secrets' });
  assert.deepEqual(reply.Data, {}, 'a target starting with = is a plain prefix, for super callers too');
});

// ---- 4: an empty app name is no app ----

test('4. a container whose app name comes out empty reads no app (HTTP and gRPC)', async () => {
  for (const from of [NONAME, DOTTED]) {
    for (const route of ['/v2/coreinfowatcher', '/v2/proxywatcher', '/v2/rebellion/localprocs', '/v2/streamrouter/ports']) {
      const answer = await get(lainlet.port, route, { from });
      assert.deepEqual([answer.status, answer.body], [400, 'authorize failed, can not confirm the app by request ip'], `${route} from ${from}`);
    }
    const w = open('/v2/coreinfowatcher?watch=1', from);
    const first = await w.next((e) => e.event === 'init' || e.event === 'error');
    assert.equal(first.event, 'error', `watch from ${from}: ${first.data?.slice(0, 200)}`);
    const err = await rejection(grpcGet('Coreinfo', from, {}));
    assert.equal(err.code, grpc.status.PERMISSION_DENIED, `Coreinfo.Get from ${from}`);
    const appname = await get(lainlet.port, `/appname?ip=${from}`);
    assert.equal(appname.status, 500, `/appname?ip=${from}: ${appname.body}`);
  }
});

// ---- 3 and 9: hostile values ----

interface Debug {
  rejected: Array<{ key: string; reason: string }>;
  state: { rejectedByCause: Record<string, number> };
  [k: string]: unknown;
}
async function debug(port = lainlet.port): Promise<Debug> {
  return JSON.parse((await get(port, '/debug')).body) as Debug;
}

async function listsAll(keys: string[]): Promise<boolean> {
  const listed = new Set((await debug()).rejected.map((r) => r.key));
  return keys.every((k) => listed.has(k));
}

const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

test('3. a value nested thousands deep is rejected and listed; the rest of the view is served (HTTP and gRPC)', async () => {
  const w = open('/v2/nodes?watch=1', '127.0.0.1');
  await w.next((e) => e.event === 'init');
  const g = await GrpcWatch.open('Nodes', '127.0.0.1', {});
  await g.until((x) => x.messages.length === 1, 'Nodes.Watch init');
  const keys = ['/lain/nodes/nodes/deep5k:10.0.0.1:22', '/lain/nodes/nodes/deep3k:10.0.0.2:22', '/lain/nodes/nodes/deep200:10.0.0.3:22'];
  await env.http.put(keys[0], nested(5000));
  await env.http.put(keys[1], nested(3000));
  await env.http.put(keys[2], nested(200));
  await until(async () => listsAll(keys), 10_000, '/debug to list the deep values');
  const d = await debug();
  for (const k of keys) assert.match(d.rejected.find((r) => r.key === k)!.reason, /nested deeper than 100 levels/);
  assert.ok(d.state.rejectedByCause['too-deep'] >= 3);
  const nodes = await get(lainlet.port, '/v2/nodes');
  assert.equal(nodes.status, 200, nodes.body.slice(0, 200));
  assert.ok(Object.keys(JSON.parse(nodes.body) as object).some((k) => k.startsWith('node1:')));
  assert.ok(!nodes.body.includes('deep'));
  const reply = await grpcGet('Nodes', '127.0.0.1', {});
  assert.ok(Object.keys(reply.Data).some((k: string) => k.startsWith('node1:')));
  // Nothing changed in the answer: the open watches got no error and are still open.
  await env.http.put('/lain/nodes/nodes/shallow:10.0.0.4:22', '{"a":{"b":1}}');
  const update = await w.next((e) => e.event !== 'heartbeat');
  assert.equal(update.event, 'update', update.data?.slice(0, 200));
  await g.until((x) => x.messages.length === 2, 'Nodes.Watch update');
  assert.equal(g.error, undefined);
  assert.match(metric(await get(lainlet.port, '/metrics'), 'lainlet_rejected_too_deep_total'), /^[3-9]|\d\d/);
  for (const k of [...keys, '/lain/nodes/nodes/shallow:10.0.0.4:22']) await env.http.del(k);
});

function metric(answer: { body: string }, name: string): string {
  const line = answer.body.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  assert.ok(line, `metric ${name} in /metrics`);
  return line.slice(line.lastIndexOf(' ') + 1);
}

test('9. /debug gives the reason a value was rejected without any of its bytes', async () => {
  const values: Record<string, string> = {
    '/lain/nodes/nodes/leak1:10.0.0.5:22': '{"password":"TOPSECRET-9f2c',
    '/lain/nodes/nodes/leak2:10.0.0.6:22': '{"password": TOPSECRET-9f2c}',
    '/lain/nodes/nodes/leak3:10.0.0.7:22': 'TOPSECRET-9f2c',
    '/lain/deployd/depends/pods/leak.portal.x': '{"node1":{"hello":{"Pod":{"Containers":[{"ContainerPort":1234.5678}]}}}}',
  };
  for (const [k, v] of Object.entries(values)) await env.http.put(k, v);
  await until(async () => listsAll(Object.keys(values)), 10_000, '/debug to list them');
  const text = JSON.stringify((await debug()).rejected);
  for (const secret of ['TOPSECRET', '9f2c', 'password', '1234.5678']) assert.ok(!text.includes(secret), `/debug shows ${secret}: ${text}`);
  for (const k of Object.keys(values)) await env.http.del(k);
});

async function putBytes(key: Buffer, value: string): Promise<void> {
  const res = await fetch(`${env.etcd.url}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: key.toString('base64'), value: Buffer.from(value).toString('base64') }) });
  assert.equal(res.status, 200, await res.text());
}
async function deleteBytes(key: Buffer): Promise<void> {
  const res = await fetch(`${env.etcd.url}/v3/kv/deleterange`, { method: 'POST', body: JSON.stringify({ key: key.toString('base64') }) });
  assert.equal(res.status, 200, await res.text());
}

test('9. keys that are not valid UTF-8 are never merged: each is rejected and listed apart', async () => {
  const ff = Buffer.concat([Buffer.from('/lain/config/zzx'), Buffer.from([0xff])]);
  const fe = Buffer.concat([Buffer.from('/lain/config/zzx'), Buffer.from([0xfe])]);
  // The valid key first: once both others are listed, it is applied too (events come in order).
  await env.http.put('/lain/config/zzxé', 'valid');
  await putBytes(ff, 'from-ff');
  await putBytes(fe, 'from-fe');
  const listed = async () => (await debug()).rejected.map((r) => r.key).filter((k) => k.startsWith('/lain/config/zzx'));
  await until(async () => (await listed()).length === 2, 10_000, '/debug to list both keys');
  assert.deepEqual((await listed()).sort(), ['/lain/config/zzx\\xfe', '/lain/config/zzx\\xff']);
  const answer = JSON.parse((await get(lainlet.port, '/v2/configwatcher?target=zzx')).body) as Record<string, string>;
  assert.deepEqual(answer, { 'zzxé': 'valid' });
  assert.deepEqual((await grpcGet('Config', '127.0.0.1', { Target: 'zzx' })).Data, { 'zzxé': 'valid' });
  await deleteBytes(fe);
  await until(async () => (await listed()).length === 1, 10_000, '/debug to forget the deleted one');
  assert.deepEqual(await listed(), ['/lain/config/zzx\\xff']);
  await deleteBytes(ff);
  await env.http.del('/lain/config/zzxé');
});

test('9. HEAD ...?watch=1 answers and holds no watch slot', async () => {
  const before = (await debug()).connections as number;
  // A client that keeps its connection open after the answer (HTTP/1.1 keep-alive).
  const socket = net.connect({ host: '127.0.0.1', port: lainlet.port });
  sockets.push(socket);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.write('HEAD /v2/coreinfowatcher?watch=1 HTTP/1.1\r\nHost: lainlet\r\n\r\n');
  await until(() => received.includes('\r\n\r\n'), 5_000, 'the HEAD answer');
  assert.match(received, /^HTTP\/1\.1 200 /);
  await sleep(200);
  assert.equal((await debug()).connections, before, 'no watch stream held for a HEAD');
  socket.destroy();
});

// ---- 8: rights checked again when they change ----

test('8. a watch whose caller lost its right ends with an error event (gRPC: PERMISSION_DENIED)', async () => {
  const apps = open('/v2/appswatcher?watch=1', BOSS);
  const config = open('/v2/configwatcher?target=s&watch=1', BOSS);
  const coreinfo = open('/v2/coreinfowatcher?appname=hello&watch=1', BOSS);
  const own = open('/v2/coreinfowatcher?appname=boss&watch=1', BOSS);
  for (const w of [apps, config, coreinfo, own]) await w.next((e) => e.event === 'init');
  const g = await GrpcWatch.open('Apps', BOSS, {});
  await g.until((x) => x.messages.length === 1, 'Apps.Watch init');

  await env.http.del('/lain/config/super_apps/boss');
  for (const [w, message] of [
    [apps, 'authorize failed, super required'],
    [config, /^authorize failed/],
    [coreinfo, 'authorize failed, no permission'],
  ] as const) {
    const e = await w.next((x) => x.event !== 'heartbeat');
    assert.equal(e.event, 'error', e.data?.slice(0, 200));
    if (typeof message === 'string') assert.equal(e.data, message);
    else assert.match(e.data!, message);
    await w.ended;
  }
  await g.until((x) => x.error !== undefined, 'Apps.Watch to end');
  assert.equal(g.error!.code, grpc.status.PERMISSION_DENIED);
  assert.equal(g.error!.details, 'authorize failed, super required');

  // The new state is not sent to the streams that lost their right; the app's own stream goes on.
  await env.http.put('/lain/deployd/pod_groups/newapp/newapp.web.web', podGroup('newapp', 'web', '172.20.77.1'));
  await env.http.put('/lain/deployd/pod_groups/boss/boss.web.web', podGroup('boss', 'web', BOSS).replace('boss:1', 'boss:2'));
  const update = await own.next((e) => e.event !== 'heartbeat');
  assert.equal(update.event, 'update');
  assert.ok(apps.events.every((e) => e.event !== 'update') && g.messages.length === 1);
  await env.http.put('/lain/config/super_apps/boss', '{}');
  await env.http.del('/lain/deployd/pod_groups/newapp/newapp.web.web');
});

// ---- 5: watch slots per source address, slots kept for local and super callers ----

/** Opens a watch on a raw socket from `from`; resolves with the HTTP status once the head arrives (the socket stays open). */
function rawWatch(port: number, from: string, p: string): Promise<{ status: number; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: from });
    sockets.push(socket);
    let head = '';
    socket.on('error', reject);
    socket.on('data', (b: Buffer) => {
      head += b.toString('latin1');
      const m = /^HTTP\/1\.1 (\d+)/.exec(head);
      if (m) {
        socket.removeAllListeners('data');
        socket.resume();
        resolve({ status: Number(m[1]), socket });
      }
    });
    socket.write(`GET ${p} HTTP/1.1\r\nHost: lainlet\r\n\r\n`);
  });
}

test('5. a stranger cannot take every watch slot: per-address limit, slots kept for local and super callers (HTTP and gRPC)', { timeout: 120_000 }, async () => {
  const port = await freeLoopbackPort();
  const small = await startLainlet({ etcd: env.etcd.endpoint, args: ['-max-watchers', '300', '-grpc.addr', `127.0.0.1:${port}`], readyPath: '/readyz' });
  try {
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const { status } = await rawWatch(small.port, STRANGER, `/v2/configwatcher?target=domain&watch=1&n=${i}`);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    const accepted = statuses.get(200) ?? 0;
    assert.ok(accepted > 0 && accepted < 300, `a stranger got ${accepted} of 300 watches`);
    assert.equal(statuses.get(503), 300 - accepted);
    // The stranger's gRPC watches count against the same address.
    const g = await GrpcWatch.open('Config', STRANGER, { Target: 'domain' }, port);
    await g.until((x) => x.error !== undefined, 'the stranger\'s gRPC watch to be refused');
    assert.equal(g.error!.code, grpc.status.RESOURCE_EXHAUSTED);
    // Other strangers fill what is left for callers that are neither local nor super ...
    let more = 0;
    for (let a = 0; a < 3; a++) {
      for (let i = 0; i < 120; i++) if ((await rawWatch(small.port, `127.0.0.${90 + a}`, '/v2/configwatcher?target=domain&watch=1')).status === 200) more++;
    }
    assert.ok(accepted + more < 300, `strangers took ${accepted + more} of 300 slots`);
    assert.equal((await rawWatch(small.port, '127.0.0.94', '/v2/configwatcher?target=domain&watch=1')).status, 503);
    // ... and a local webrouter and a super app still get theirs, over HTTP and gRPC.
    const local = open('/v2/webrouter/webprocs?watch=1', '127.0.0.1', small.port);
    assert.equal((await local.next((e) => e.event === 'init' || e.event === 'error')).event, 'init');
    const boss = open('/v2/appswatcher?watch=1', BOSS, small.port);
    assert.equal((await boss.next((e) => e.event === 'init' || e.event === 'error')).event, 'init');
    const localGrpc = await GrpcWatch.open('Apps', '127.0.0.1', {}, port);
    await localGrpc.until((x) => x.messages.length === 1, 'the local gRPC watch');
    const d = JSON.parse((await get(small.port, '/debug')).body) as { watchSlots: { open: number; refusedPerAddress: number; refusedReserved: number } };
    assert.ok(d.watchSlots.refusedPerAddress >= 300 - accepted, JSON.stringify(d.watchSlots));
    assert.ok(d.watchSlots.refusedReserved >= 1, JSON.stringify(d.watchSlots));
    const m = await get(small.port, '/metrics');
    assert.ok(Number(metric(m, 'lainlet_watchers_refused_per_address_total')) >= 300 - accepted);
  } finally {
    for (const s of sockets.splice(0)) s.destroy();
    await small.stop();
  }
});

// ---- 7: the answer cache is bounded in bytes ----

const MB = 1024 * 1024;
const figure = (name: string, value: number | string, unit = '') => console.log(`figure: ${name} = ${value}${unit ? ' ' + unit : ''}`);
const memoryOf = async (port: number) => (JSON.parse((await get(port, '/debug')).body) as { memory: NodeJS.MemoryUsage }).memory;
const rssOf = async (port: number) => (await memoryOf(port)).rss / MB;

test('7. strangers cannot fill the answer cache: GETs and watches on distinct prefixes of a big value', { timeout: 180_000 }, async () => {
  const bigKey = `bigdata-${'k'.repeat(400)}`;
  const size = 1 * MB; // etcd takes requests up to 1.5 MB
  await env.http.put(`/lain/config/${bigKey}`, 'x'.repeat(size));
  const spread = Array.from({ length: 12 }, (_, i) => `spread/${String(i).padStart(2, '0')}`);
  for (const [i, k] of spread.entries()) await env.http.put(`/lain/config/${k}`, String.fromCharCode(97 + i).repeat(size));
  const port = await freeLoopbackPort();
  const fresh = await startLainlet({ etcd: env.etcd.endpoint, readyPath: '/readyz', args: ['-answer-cache-bytes', '8M', '-grpc.addr', `127.0.0.1:${port}`] });
  try {
    await get(fresh.port, '/v2/configwatcher?target=domain', { from: STRANGER });
    await sleep(500);
    const rss0 = await rssOf(fresh.port);
    for (let i = 1; i <= 256; i++) {
      const answer = await get(fresh.port, `/v2/configwatcher?target=${bigKey.slice(0, 8 + i)}`, { from: STRANGER });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.length, size + bigKey.length + 7);
    }
    const rss1 = await rssOf(fresh.port);
    for (let i = 1; i <= 300; i++) {
      const from = `127.0.0.${80 + Math.floor(i / 150)}`;
      const { status } = await rawWatch(fresh.port, from, `/v2/configwatcher?target=${bigKey.slice(0, 8 + i)}&watch=1`);
      assert.equal(status, 200);
    }
    // gRPC Gets of the same prefixes share the answers, and their replies are encoded once each.
    for (let i = 1; i <= 256; i++) {
      const reply = await grpcGet('Config', STRANGER, { Target: bigKey.slice(0, 8 + i) }, port);
      assert.equal(Object.keys(reply.Data).length, 1);
    }
    await sleep(1_000);
    const rss2 = await rssOf(fresh.port);
    const d = JSON.parse((await get(fresh.port, '/debug')).body) as { hub: { cacheBytes: number; queries: number } };
    figure('7 RSS before', Math.round(rss0), 'MB');
    figure('7 RSS after 256 GETs on distinct prefixes of a 1 MB value', Math.round(rss1), 'MB');
    figure('7 RSS after 300 watches and 256 gRPC Gets more', Math.round(rss2), 'MB');
    figure('7 answer cache', `${Math.round(d.hub.cacheBytes / MB)} MB in ${d.hub.queries} queries`);
    assert.ok(rss1 - rss0 < 80, `256 GETs grew RSS by ${Math.round(rss1 - rss0)} MB`);
    assert.ok(rss2 - rss0 < 120, `256 GETs, 300 watches and 256 gRPC Gets grew RSS by ${Math.round(rss2 - rss0)} MB`);

    // Distinct answers: GETs are answered, but no more than -answer-cache-bytes is kept ...
    for (const k of spread) assert.equal((await get(fresh.port, `/v2/configwatcher?target=${k}`, { from: STRANGER })).status, 200);
    const afterGets = JSON.parse((await get(fresh.port, '/debug')).body) as { hub: { cacheBytes: number; cacheEvictions: number } };
    assert.ok(afterGets.hub.cacheBytes <= 8 * MB, `cache holds ${afterGets.hub.cacheBytes} bytes`);
    assert.ok(afterGets.hub.cacheEvictions > 0);
    // ... and watches of new answers by strangers are refused once watched answers fill it;
    // local and super callers still get theirs.
    const statuses: number[] = [];
    for (const k of spread) statuses.push((await rawWatch(fresh.port, '127.0.0.83', `/v2/configwatcher?target=${k}&watch=1`)).status);
    assert.ok(statuses.includes(503) && statuses.filter((x) => x === 200).length <= 8, `stranger watches: ${statuses.join(' ')}`);
    const local = open('/v2/configwatcher?target=spread/&watch=1', '127.0.0.1', fresh.port);
    const init = await local.next((e) => e.event === 'init' || e.event === 'error');
    assert.equal(init.event, 'init');
    const m = await get(fresh.port, '/metrics');
    assert.ok(Number(metric(m, 'lainlet_watchers_refused_cache_full_total')) >= 1);
    assert.ok(Number(metric(m, 'lainlet_answer_cache_bytes')) > 0);
  } finally {
    for (const s of sockets.splice(0)) s.destroy();
    await fresh.stop();
    await env.http.del(`/lain/config/${bigKey}`);
    await env.http.del('/lain/config/spread/', { prefix: true });
  }
});

// ---- 6: stalled gRPC watches are dropped after the stall timeout, like HTTP ones ----

/** A raw HTTP/2 gRPC Watch call (an empty request) whose answers are never read. */
function stalledGrpcWatch(port: number, method: string): { session: http2.ClientHttp2Session; closed: Promise<number> } {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const stream = session.request({ ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => {});
  stream.end(Buffer.alloc(5)); // one empty message: compression flag 0, length 0
  stream.pause(); // never read: the flow-control window closes and the server's writes stall
  const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1)));
  return { session, closed };
}

test('6. gRPC watch streams that stop reading are dropped after the stall timeout, and their memory freed', { timeout: 180_000 }, async () => {
  const port = await freeLoopbackPort();
  const fresh = await startLainlet({ etcd: env.etcd.endpoint, readyPath: '/readyz', args: ['-grpc.addr', `127.0.0.1:${port}`, '-stall-timeout', '3s'] });
  const sessions: http2.ClientHttp2Session[] = [];
  try {
    await sleep(500);
    const rss0 = await rssOf(fresh.port);
    const stalled = Array.from({ length: 100 }, () => stalledGrpcWatch(port, '/message.Config/Watch'));
    sessions.push(...stalled.map((s) => s.session));
    await until(async () => ((JSON.parse((await get(fresh.port, '/debug')).body) as { grpc: { watchers: number } }).grpc.watchers === 100), 15_000, '100 gRPC watches');
    // A healthy reader on the side must not be disturbed.
    const healthy = await GrpcWatch.open('Config', '127.0.0.1', { Target: 'stall' }, port);
    await healthy.until((x) => x.messages.length === 1, 'the healthy watch init');
    let peak = 0;
    let peakBuffers = 0;
    for (let i = 0; i < 10; i++) {
      await env.http.put('/lain/config/stall', String.fromCharCode(97 + i).repeat(MB));
      await sleep(100);
      const m = await memoryOf(fresh.port);
      peak = Math.max(peak, m.rss / MB);
      peakBuffers = Math.max(peakBuffers, m.arrayBuffers / MB);
    }
    await healthy.until((x) => x.messages.at(-1)?.Data?.stall?.[0] === 'j', 'the healthy watch to get the last value');
    const codes = await Promise.race([Promise.all(stalled.map((s) => s.closed)), sleep(20_000).then(() => null)]);
    await sleep(2_000);
    const after = await memoryOf(fresh.port);
    figure('6 RSS before 100 stalled gRPC watches', Math.round(rss0), 'MB');
    figure('6 RSS / Buffers at the peak of 10 writes of a 1 MB value', `${Math.round(peak)} / ${Math.round(peakBuffers)}`, 'MB');
    figure('6 RSS / Buffers after the stall timeout', `${Math.round(after.rss / MB)} / ${Math.round(after.arrayBuffers / MB)}`, 'MB');
    assert.ok(codes, 'every stalled stream was closed by lainlet within 20 s');
    const d = JSON.parse((await get(fresh.port, '/debug')).body) as { grpc: { watchers: number; watchersDropped: number } };
    assert.equal(d.grpc.watchers, 1, 'only the healthy watch is left');
    assert.equal(d.grpc.watchersDropped, 100);
    assert.ok(codes.every((c) => c === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM), `RST codes: ${[...new Set(codes)].join(',')}`);
    // Freed: the Buffers the stalled streams held are gone (the allocator may keep the RSS for reuse).
    assert.ok(peakBuffers > 50 && after.arrayBuffers / MB < 20, `Buffers: ${Math.round(peakBuffers)} MB at the peak, ${Math.round(after.arrayBuffers / MB)} MB after`);
    assert.equal(healthy.error, undefined);
    assert.ok(Number(metric(await get(fresh.port, '/metrics'), 'lainlet_watchers_dropped_total')) >= 100);
  } finally {
    for (const s of sessions) s.destroy();
    await fresh.stop();
    await env.http.del('/lain/config/stall');
  }
});
