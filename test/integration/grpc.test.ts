// The gRPC API end to end: a real etcd with the sample cluster, lainlet as a child process with
// `-grpc.addr`, and a plain @grpc/grpc-js client built at run time from proto/lainlet/message.proto
// by @grpc/proto-loader (not from our generated code): what any client generated from the Go
// lainlet's message.proto does. Every service's Get is checked against the HTTP answer for the
// same query, every Watch for init-then-updates; plus auth, errors, slow readers, TLS.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { loadSampleCluster, startTestEtcd, writeCluster, type ClusterSnapshot, type TestEtcd } from '../helpers/etcd.js';
import { get, REPO_ROOT, startLainlet, type LainletProcess } from '../helpers/lainlet.js';
import { rejection as rejectionOf, until } from '../helpers/wait.js';
import { selfSignedCert } from '../helpers/tls.js';

const PROTO = path.join(REPO_ROOT, 'proto', 'lainlet', 'message.proto');
const packageDefinition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, objects: true });
const pkg = (grpc.loadPackageDefinition(packageDefinition) as unknown as { message: Record<string, grpc.ServiceClientConstructor> }).message;

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Callback = (err: grpc.ServiceError | null, reply: Json) => void;
type UnaryMethod = (request: object, options: grpc.CallOptions, callback: Callback) => grpc.ClientUnaryCall;
type StreamMethod = (request: object) => grpc.ClientReadableStream<Json>;

let env: TestEtcd;
let cluster: ClusterSnapshot;
let lainlet: LainletProcess;
let grpcPort: number;
const clients: grpc.Client[] = [];
const watches: Watch[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

before(
  async () => {
    env = await startTestEtcd();
    cluster = await loadSampleCluster();
    await writeCluster(env.http, cluster);
    grpcPort = await freeLoopbackPort();
    lainlet = await startLainlet({ etcd: env.etcd.endpoint, args: ['-grpc.addr', `127.0.0.1:${grpcPort}`], readyPath: '/readyz' });
  },
  { timeout: 300_000 },
);

after(async () => {
  for (const w of watches) w.close();
  for (const c of clients) c.close();
  for (const f of cleanups.reverse()) await f();
  await lainlet?.stop();
  await env?.etcd.stop();
});

function client(service: string, port = grpcPort, credentials = grpc.credentials.createInsecure(), options: grpc.ClientOptions = {}): grpc.Client {
  const c = new pkg[service](`127.0.0.1:${port}`, credentials, options);
  clients.push(c);
  return c;
}

/** A unary call with a deadline; rejects with the ServiceError. */
function unary(c: grpc.Client, method: string, request: object = {}, timeoutMs = 10_000): Promise<Json> {
  const fn = (c as unknown as Record<string, UnaryMethod>)[method].bind(c);
  return new Promise((resolve, reject) => fn(request, { deadline: Date.now() + timeoutMs }, (err, reply) => (err ? reject(err) : resolve(reply))));
}

class Watch {
  readonly messages: Json[] = [];
  error: grpc.ServiceError | undefined;
  ended = false;
  readonly stream: grpc.ClientReadableStream<Json>;
  constructor(c: grpc.Client, request: object = {}) {
    this.stream = (c as unknown as Record<string, StreamMethod>).Watch.bind(c)(request);
    this.stream.on('data', (m: Json) => this.messages.push(m));
    this.stream.on('error', (e: grpc.ServiceError) => (this.error = e));
    this.stream.on('end', () => (this.ended = true));
    watches.push(this);
  }
  get last(): Json {
    return this.messages[this.messages.length - 1];
  }
  async until(cond: (w: Watch) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    await until(() => cond(this), timeoutMs, `${what} (got ${this.messages.length} messages, error ${this.error?.message ?? 'none'})`);
  }
  close(): void {
    this.stream.cancel();
  }
}

const rejection = (p: Promise<unknown>) => rejectionOf<grpc.ServiceError>(p);

// ---- The expected reply for an HTTP answer, written independently of src/transports/grpc/convert.ts ----

const mapObj = (o: Json, f: (v: Json) => Json): Json => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, f(v)]));
const arr = (l: Json): Json[] => l ?? [];

const EXPECT: Record<string, (j: Json) => Json> = {
  Appname: (j) => ({ Data: j }),
  Apps: (j) => ({ Data: mapObj(j, (a) => ({ Appname: a.Appname })) }),
  Backupctl: (j) => ({
    Data: mapObj(j, (pods) => ({
      pods: arr(pods).map((p) => ({
        Annotation: p.Annotation,
        Containers: arr(p.Containers).map((c) => ({ Id: c.Id, Ip: c.Ip, NodeIp: c.NodeIp, NodeName: c.NodeName })),
        InstanceNo: p.InstanceNo,
      })),
    })),
  }),
  Config: (j) => ({ Data: j }),
  Containers: (j) => ({
    Data: mapObj(j, (c) => ({
      AppName: c.app,
      AppVersion: c.app_version,
      ProcName: c.proc,
      NodeName: c.nodename,
      NodeIP: c.nodeip,
      IP: c.ip,
      Port: c.port,
      InstanceNo: c.instanceNo,
    })),
  }),
  Coreinfo: (j) => ({
    Data: mapObj(j, (ci) => ({
      PodInfos: arr(ci.PodInfos).map((pi) => ({
        Annotation: pi.Annotation,
        Containers: arr(pi.ContainerInfos).map((c) => ({
          Command: arr(c.Command),
          Id: c.ContainerId,
          Ip: c.ContainerIp,
          Cpu: c.Cpu,
          Env: arr(c.Env),
          Expose: c.Expose,
          Image: c.Image,
          Memory: c.Memory,
          NodeIp: c.NodeIp,
          NodeName: c.NodeName,
          Volumes: arr(c.Volumes),
        })),
        Dependencies: arr(pi.Dependencies).map((d) => ({ PodName: d.PodName, Policy: d.Policy })),
        InstanceNo: pi.InstanceNo,
      })),
    })),
  }),
  Depends: (j) => ({
    Data: mapObj(j, (nodes) => ({
      nodes: mapObj(nodes, (apps) => ({
        apps: mapObj(apps, (item) => ({
          Annotation: item.Annotation,
          Containers: arr(item.Containers).map((c) => ({ ContainerID: c.ContainerID, NodeIP: c.NodeIP, IP: c.IP, Port: c.Port })),
        })),
      })),
    })),
  }),
  // LocalIP and ip: in the original contract, never set (by Go either).
  Localspec: (j) => ({ Data: j, LocalIP: '', ip: '' }),
  Nodes: (j) => ({
    Data: mapObj(j, (node) => ({
      v: mapObj(node, (v) =>
        typeof v === 'string'
          ? { Vtype: 'STRING', sval: v, mval: {} }
          : typeof v === 'object' && v !== null && !Array.isArray(v)
            ? { Vtype: 'MAP', sval: '', mval: mapObj(v, (x) => (typeof x === 'string' ? x : JSON.stringify(x))) }
            : { Vtype: 'STRING', sval: JSON.stringify(v), mval: {} },
      ),
    })),
  }),
  Podgroup: (j) => ({ Data: arr(j).map((g) => ({ Pods: arr(g.proc).map((p) => ({ InstanceNo: p.InstanceNo, IP: p.IP, Port: p.Port, ProcName: p.ProcName })) })) }),
  Proxy: (j) => ({ Data: mapObj(j, (p) => ({ Containers: arr(p.containers).map((c) => ({ ContainerIp: c.container_ip, ContainerPort: c.container_port })) })) }),
  RebellionLocalprocs: (j) => ({
    Data: mapObj(j, (ci) => ({ PodInfos: arr(ci.PodInfos).map((p) => ({ Annotation: p.Annotation, AppVersion: p.AppVersion, InstanceNo: p.InstanceNo })) })),
  }),
  StreamrouterPorts: (j) => ({ Data: j }),
  StreamrouterStreamprocs: (j) => ({
    Data: mapObj(j, (procs) => ({
      procs: arr(procs).map((p) => ({
        Name: p.Name,
        Upstreams: arr(p.Upstreams).map((u) => ({ Host: u.Host, InstanceNo: u.InstanceNo })),
        Services: arr(p.Services).map((s) => ({ UpstreamPort: s.UpstreamPort, ListenPort: s.ListenPort, Send: s.Send, Expect: s.Expect })),
      })),
    })),
  }),
  WebrouterWebprocs: (j) => ({
    Data: mapObj(j, (ci) => ({
      PodInfos: arr(ci.PodInfos).map((pi) => ({ Annotation: pi.Annotation, Containers: arr(pi.ContainerInfos).map((c) => ({ IP: c.ContainerIp, Expose: c.Expose })) })),
    })),
  }),
};

/** gRPC service -> HTTP route; the request fields are the route's query parameters, capitalised. */
const ROUTES: Record<string, string> = {
  Appname: '/appname',
  Apps: '/v2/appswatcher',
  Backupctl: '/v2/backupspec',
  Config: '/v2/configwatcher',
  Containers: '/v2/containers',
  Coreinfo: '/v2/coreinfowatcher',
  Depends: '/v2/depends',
  Localspec: '/v2/localspecquery',
  Nodes: '/v2/nodes',
  Podgroup: '/v2/procwatcher',
  Proxy: '/v2/proxywatcher',
  RebellionLocalprocs: '/v2/rebellion/localprocs',
  StreamrouterPorts: '/v2/streamrouter/ports',
  StreamrouterStreamprocs: '/v2/streamrouter/streamprocs',
  WebrouterWebprocs: '/v2/webrouter/webprocs',
};

const WATCHABLE = Object.keys(ROUTES).filter((s) => s !== 'Appname' && s !== 'Localspec');

function httpPath(service: string, request: Record<string, string>): string {
  const q = new URLSearchParams(Object.entries(request).map(([field, value]) => [field.toLowerCase(), value])).toString();
  return q ? `${ROUTES[service]}?${q}` : ROUTES[service];
}

/** Get over gRPC and GET over HTTP for the same query must agree (answer or error message). */
async function assertGetMatchesHttp(service: string, request: Record<string, string>): Promise<void> {
  const http = await get(lainlet.port, httpPath(service, request));
  const c = client(service);
  const label = `${service} ${JSON.stringify(request)}`;
  if (http.status === 200) {
    const reply = await unary(c, 'Get', request);
    assert.deepEqual(reply, EXPECT[service](JSON.parse(http.body)), label);
  } else {
    const err = await rejection(unary(c, 'Get', request));
    assert.equal(err.details, http.body, label);
    assert.notEqual(err.code, grpc.status.OK, label);
  }
}

// ---- Test data: a new app whose pod group touches every pod-group view ----

const HELLO_WEB = '/lain/deployd/pod_groups/hello/hello.web.web';
const GRPCAPP_WEB = '/lain/deployd/pod_groups/grpcapp/grpcapp.web.web';
const GRPCAPP_IP = '172.20.99.9';

function grpcappPodGroup(memory = 33554432, padding = ''): string {
  const pg = JSON.parse(cluster[HELLO_WEB]) as Json;
  pg.Spec.Name = pg.Spec.Pod.Name = 'grpcapp.web.web';
  pg.Spec.Namespace = pg.Spec.Pod.Namespace = 'grpcapp';
  pg.Spec.Pod.Annotation = JSON.stringify({ ports: [{ srcport: 19000, dstport: 9000, proto: 'tcp' }], padding });
  pg.Spec.Pod.Containers[0].MemoryLimit = memory;
  pg.Pods = pg.Pods.slice(0, 1);
  for (const c of pg.Pods[0].Containers) {
    c.Id = 'grpcapp0000000000000000000000000000000000000000000000000000000001';
    c.ContainerIp = GRPCAPP_IP;
    // The machine lainlet runs on: rebellion/localprocs lists it.
    c.NodeName = hostname();
  }
  return JSON.stringify(pg);
}

// ---- Tests ----

test('every service: Get answers what the HTTP route answers for the same query', { timeout: 60_000 }, async () => {
  const containers = JSON.parse((await get(lainlet.port, '/v2/containers')).body) as Record<string, { ip: string; nodeip: string }>;
  const some = Object.values(containers).find((c) => c.ip !== '');
  assert.ok(some, 'the sample cluster has a container with an IP');
  const cases: Array<[string, Record<string, string>]> = [
    ['Appname', { ip: some.ip }],
    ['Appname', { ip: '10.255.255.1' }],
    ['Apps', {}],
    ['Backupctl', {}],
    ['Backupctl', { Appname: 'hello' }],
    ['Config', {}],
    ['Config', { Target: 'domains' }],
    ['Containers', {}],
    ['Containers', { Nodename: 'node1' }],
    ['Coreinfo', {}],
    ['Coreinfo', { Appname: 'hello' }],
    ['Depends', {}],
    ['Localspec', { Nodeip: some.nodeip }],
    ['Localspec', {}],
    ['Nodes', {}],
    ['Nodes', { Name: 'node1' }],
    ['Podgroup', { Appname: 'hello' }],
    ['Podgroup', {}],
    ['Proxy', {}],
    ['RebellionLocalprocs', {}],
    ['StreamrouterPorts', {}],
    ['StreamrouterStreamprocs', {}],
    ['WebrouterWebprocs', {}],
    ['WebrouterWebprocs', { Appname: 'hello' }],
  ];
  for (const [service, request] of cases) await assertGetMatchesHttp(service, request);

  const version = await unary(client('Lainlet'), 'Version');
  assert.equal(version.Version, (await get(lainlet.port, '/version')).body);
  assert.equal(version.APIVersion, '2.4');
  const status = await unary(client('Lainlet'), 'Status');
  assert.deepEqual(Object.keys(status.Status).sort(), ['configwatcher', 'containerwatcher', 'dependswatcher', 'nodeswatcher', 'podgroupwatcher']);
  assert.ok(status.Status.podgroupwatcher.TotalKeys > 0);
});

test('every Watch sends the current answer, then one message per change from etcd writes', { timeout: 90_000 }, async (t) => {
  const requests: Record<string, Record<string, string>> = { Podgroup: { Appname: 'grpcapp' } };
  const opened = new Map<string, Watch>();
  const reopen: string[] = [];
  for (const service of WATCHABLE) {
    const request = requests[service] ?? {};
    const w = new Watch(client(service), request);
    opened.set(service, w);
    const http = await get(lainlet.port, httpPath(service, request));
    if (http.status === 200) {
      await w.until((x) => x.messages.length >= 1, `${service}: init`);
      assert.deepEqual(w.messages[0], EXPECT[service](JSON.parse(http.body)), `${service}: init`);
    } else {
      // e.g. streamprocs' safety rule: the Watch ends with the HTTP error's message.
      await w.until((x) => x.error !== undefined, `${service}: error`);
      assert.equal(w.error!.details, http.body);
      reopen.push(service); // opened again once the data exists
    }
  }

  const depends = Object.keys(cluster).find((k) => k.startsWith('/lain/deployd/depends/pods/'))!;
  await env.http.put('/lain/config/grpc_test', 'v1');
  await env.http.put(GRPCAPP_WEB, grpcappPodGroup());
  await env.http.put('/lain/deployd/depends/pods/grpc-service.portal.portal-grpc', cluster[depends]);
  await env.http.put('/lain/nodes/nodes/grpcnode:10.9.9.9:22', JSON.stringify({ name: 'grpcnode', ip: '10.9.9.9', ssh_port: '22', labels: { disk: 'ssd' } }));

  for (const service of reopen) opened.set(service, new Watch(client(service), requests[service] ?? {}));
  for (const service of WATCHABLE) {
    const w = opened.get(service)!;
    const request = requests[service] ?? {};
    // Wait until the stream shows the HTTP route's current answer, then check nothing else came.
    let expected: Json;
    await w.until((x) => x.messages.length >= 1 || x.error !== undefined, `${service}: messages`);
    assert.equal(w.error, undefined, `${service}: ${w.error?.message}`);
    await until(
      async () => {
        expected = EXPECT[service](JSON.parse((await get(lainlet.port, httpPath(service, request))).body));
        try {
          assert.deepEqual(w.last, expected);
          return true;
        } catch {
          return false;
        }
      },
      15_000,
      `${service}: an update equal to the HTTP answer`,
    );
    const min = reopen.includes(service) ? 1 : 2; // init, then at least one update
    assert.ok(w.messages.length >= min && w.messages.length <= 5, `${service}: ${w.messages.length} messages`);
    // No message repeats the one before it (an unchanged answer is not re-sent).
    for (let i = 1; i < w.messages.length; i++) assert.notDeepEqual(w.messages[i], w.messages[i - 1], `${service}: message ${i} repeats`);
    assert.deepEqual(await unary(client(service), 'Get', request), w.last, `${service}: Get equals the last Watch message`);
  }
  const nodes = opened.get('Nodes')!.last;
  assert.deepEqual(nodes.Data['grpcnode:10.9.9.9:22'].v.labels, { Vtype: 'MAP', sval: '', mval: { disk: 'ssd' } });
  assert.deepEqual(opened.get('StreamrouterPorts')!.last.Data.includes(19000), true);
  assert.ok(opened.get('RebellionLocalprocs')!.last.Data['grpcapp.web.web'], 'the local proc is listed');
  for (const w of opened.values()) w.close();
  t.diagnostic(`watches re-opened after an initial error: ${reopen.join(', ') || 'none'}`);
});

test('a slow Watch reader skips intermediate answers but ends on the latest', { timeout: 90_000 }, async (t) => {
  const w = new Watch(client('Coreinfo'), { Appname: 'grpcapp' });
  await w.until((x) => x.messages.length >= 1, 'init');
  w.stream.pause();
  const padding = 'x'.repeat(200_000); // ~200 kB a message: far beyond the HTTP/2 windows
  const writes = 40;
  for (let i = 1; i <= writes; i++) await env.http.put(GRPCAPP_WEB, grpcappPodGroup(1_000_000 + i, padding));
  // lainlet has made the latest answer (so the paused stream is backed up behind it).
  await until(async () => new RegExp(`"Memory":${1_000_000 + writes}[,}]`).test((await get(lainlet.port, '/v2/coreinfowatcher?appname=grpcapp')).body), 15_000, 'the latest answer over HTTP');
  w.stream.resume();
  const memoryOf = (m: Json): number => m?.Data?.['grpcapp.web.web']?.PodInfos[0]?.Containers[0]?.Memory;
  await w.until((x) => memoryOf(x.last) === 1_000_000 + writes, 'the latest answer');
  assert.ok(w.messages.length < writes + 1, `intermediate answers were skipped (${w.messages.length} messages for ${writes} writes)`);
  t.diagnostic(`slow reader: ${w.messages.length - 1} updates for ${writes} writes`);
  // In order: never an older answer after a newer one.
  const seen = w.messages.slice(1).map(memoryOf);
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
  w.close();
  await env.http.put(GRPCAPP_WEB, grpcappPodGroup());
});

/** A loopback proxy whose connections to lainlet come from `localAddress` (a non-local caller). */
async function proxyFrom(localAddress: string, targetPort: number): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort, localAddress });
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

test('/metrics lainlet_watchers counts open gRPC Watch streams with the HTTP ones', { timeout: 60_000 }, async () => {
  const watchers = async () => Number(/^lainlet_watchers (\d+)$/m.exec((await get(lainlet.port, '/metrics')).body)?.[1]);
  const before = await watchers();
  const w = new Watch(client('Apps'));
  await w.until((x) => x.messages.length >= 1, 'Apps.Watch init');
  await until(async () => (await watchers()) === before + 1, 10_000, 'lainlet_watchers to count the gRPC stream');
  w.close();
  await until(async () => (await watchers()) === before, 10_000, 'lainlet_watchers to drop the closed stream');
});

test('auth by the caller IP: the HTTP rules and messages, as gRPC status codes', { timeout: 60_000 }, async () => {
  const port = await proxyFrom('127.0.0.99', grpcPort);
  const denied = async (service: string, request: object, code: grpc.status, message: string) => {
    const err = await rejection(unary(client(service, port), 'Get', request));
    assert.equal(err.code, code, `${service} ${JSON.stringify(request)}: ${err.message}`);
    assert.equal(err.details, message);
  };
  await denied('Nodes', {}, grpc.status.PERMISSION_DENIED, 'authorize failed, super required');
  await denied('Containers', {}, grpc.status.PERMISSION_DENIED, 'authorize failed, super required');
  await denied('Apps', {}, grpc.status.PERMISSION_DENIED, 'authorize failed, super required');
  await denied('Config', {}, grpc.status.PERMISSION_DENIED, 'authorize failed, super required');
  await denied('Coreinfo', {}, grpc.status.PERMISSION_DENIED, 'authorize failed, can not confirm the app by request ip');
  await denied('Coreinfo', { Appname: 'hello' }, grpc.status.PERMISSION_DENIED, 'authorize failed, no permission');
  await denied('Podgroup', {}, grpc.status.INVALID_ARGUMENT, 'appname required');
  // A config key that is not secret is open to anyone, as over HTTP.
  assert.deepEqual(await unary(client('Config', port), 'Get', { Target: 'domain' }), EXPECT.Config(JSON.parse((await get(lainlet.port, '/v2/configwatcher?target=domain')).body)));

  const w = new Watch(client('Nodes', port));
  await w.until((x) => x.error !== undefined, 'the Watch to be refused');
  assert.equal(w.error!.code, grpc.status.PERMISSION_DENIED);
  assert.equal(w.error!.details, 'authorize failed, super required');
  assert.equal(w.messages.length, 0);

  // Localspec has no Watch in the proto (a raw call to the path a client could make up).
  const raw = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  clients.push(raw);
  const pass = (b: Buffer) => b;
  const ls = raw.makeServerStreamRequest('/message.Localspec/Watch', pass, pass, Buffer.alloc(0));
  const [lsErr] = (await once(ls, 'error')) as [grpc.ServiceError];
  assert.equal(lsErr.code, grpc.status.UNIMPLEMENTED);
});

test('until the first etcd snapshot, calls get UNAVAILABLE', { timeout: 60_000 }, async () => {
  const deadEtcd = await freeLoopbackPort(); // nothing listens there
  const port = await freeLoopbackPort();
  const starting = await startLainlet({ etcd: `127.0.0.1:${deadEtcd}`, args: ['-grpc.addr', `127.0.0.1:${port}`], readyPath: '/debug' });
  try {
    const err = await rejection(unary(client('Coreinfo', port), 'Get', {}));
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.equal(err.details, 'lainlet is starting: the cluster state is not loaded yet');
    const w = new Watch(client('Coreinfo', port));
    await w.until((x) => x.error !== undefined, 'the Watch to be refused');
    assert.equal(w.error!.code, grpc.status.UNAVAILABLE);
    // Lainlet itself answers.
    assert.equal((await unary(client('Lainlet', port), 'Version')).APIVersion, '2.4');
  } finally {
    await starting.stop();
  }
});

test('TLS with -grpc.TLS -grpc.key -grpc.cert (a self-signed certificate made here); a key that does not match the certificate stops the start', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lainlet-grpc-tls-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const { key, cert } = selfSignedCert(dir, 'IP:127.0.0.1');

  const port = await freeLoopbackPort();
  const tls = await startLainlet({ etcd: env.etcd.endpoint, args: ['-grpc.addr', `127.0.0.1:${port}`, '-grpc.TLS', '-grpc.key', key, '-grpc.cert', cert], readyPath: '/readyz' });
  try {
    const creds = grpc.credentials.createSsl(readFileSync(cert));
    const named = { 'grpc.ssl_target_name_override': 'localhost' };
    assert.deepEqual(await unary(client('Coreinfo', port, creds, named), 'Get', { Appname: 'hello' }), EXPECT.Coreinfo(JSON.parse((await get(tls.port, '/v2/coreinfowatcher?appname=hello')).body)));
    const w = new Watch(client('Config', port, creds, named), { Target: 'grpc_tls' });
    await w.until((x) => x.messages.length === 1, 'init');
    await env.http.put('/lain/config/grpc_tls', 'on');
    await w.until((x) => x.messages.length === 2, 'the update');
    assert.deepEqual(w.last, { Data: { grpc_tls: 'on' } });
    w.close();
    // A plaintext client gets nowhere.
    const err = await rejection(unary(client('Lainlet', port), 'Version', {}, 3_000));
    assert.equal(err.code, grpc.status.UNAVAILABLE);
  } finally {
    await tls.stop();
  }

  // Missing files: a clear start-up error, exit status 1.
  await assert.rejects(
    startLainlet({ etcd: env.etcd.endpoint, args: ['-grpc.addr', `127.0.0.1:${port}`, '-grpc.TLS', '-grpc.key', path.join(dir, 'nope.pem'), '-grpc.cert', cert] }),
    (err: Error) => /exited before it was ready \(code 1/.test(err.message) && /-grpc\.key \S*nope\.pem: cannot read the TLS private key/.test(err.message),
  );
  await assert.rejects(
    startLainlet({ etcd: env.etcd.endpoint, args: ['-grpc.addr', `127.0.0.1:${port}`, '-grpc.TLS', '-grpc.key', cert, '-grpc.cert', cert] }),
    /not a usable PEM key and certificate pair/,
  );
  // A real mismatch: a good private key, a good certificate, but of another key.
  const otherKey = path.join(dir, 'other-key.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', otherKey], { stdio: 'ignore', timeout: 30_000 });
  await assert.rejects(
    startLainlet({ etcd: env.etcd.endpoint, args: ['-grpc.addr', `127.0.0.1:${port}`, '-grpc.TLS', '-grpc.key', otherKey, '-grpc.cert', cert] }),
    (err: Error) => /exited before it was ready \(code 1/.test(err.message) && /not a usable PEM key and certificate pair/.test(err.message),
  );
});
