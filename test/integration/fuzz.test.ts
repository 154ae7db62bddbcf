// A fuzz pass over query parameters (hostile callers: README "Security") from a caller that is
// no container: random bytes, `=`, `*`, %-escapes, every prefix of every secret name, very long
// values, repeated params, on every route over HTTP (GET and watch) and gRPC. No answer may hold a secret config key or
// value, none may be a 500 (or a hang), and the process's memory stays bounded. Seeded and
// bounded in count and time: a failure prints the seed and the request to replay it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { startSampleEtcd, type ClusterSnapshot, type TestEtcd } from '../helpers/etcd.js';
import { mulberry32 } from '../../src/demo/deployd-sim.js';
import { isSecretConfigKey, SECRET_CONFIG_PREFIXES } from '../helpers/secrets.js';
import { get, REPO_ROOT, startLainlet, watch, type LainletProcess } from '../helpers/lainlet.js';

const SEED = Number(process.env.LAINLET_FUZZ_SEED ?? 20261129);
const HTTP_REQUESTS = 10_000;
const WATCHES = 1_000;
const GRPC_CALLS = 2_000;
const TIME_LIMIT_MS = 90_000;
const STRANGER = '127.0.0.99';
const MB = 1024 * 1024;


const ROUTES: Record<string, string[]> = {
  '/v2/configwatcher': ['target'],
  '/v2/procwatcher': ['appname'],
  '/v2/coreinfowatcher': ['appname'],
  '/v2/proxywatcher': ['appname'],
  '/v2/webrouter/webprocs': ['appname'],
  '/v2/rebellion/localprocs': ['appname'],
  '/v2/streamrouter/ports': ['appname'],
  '/v2/streamrouter/streamprocs': ['appname'],
  '/v2/appswatcher': [],
  '/v2/backupspec': ['appname'],
  '/v2/depends': ['target'],
  '/v2/nodes': ['name'],
  '/v2/containers': ['nodename'],
  '/v2/localspecquery': ['nodeip'],
  '/appname': ['ip'],
};

// Request fields by the original message.proto's names (Go capitalisation; AppnameRequest keeps `ip`).
const GRPC_SERVICES: Record<string, string[]> = {
  Config: ['Target'],
  Coreinfo: ['Appname'],
  Podgroup: ['Appname'],
  Proxy: ['Appname'],
  WebrouterWebprocs: ['Appname'],
  RebellionLocalprocs: ['Appname'],
  StreamrouterPorts: ['Appname'],
  StreamrouterStreamprocs: ['Appname'],
  Apps: [],
  Backupctl: ['Appname'],
  Depends: ['Target'],
  Nodes: ['Name'],
  Containers: ['Nodename'],
  Localspec: ['Nodeip'],
  Appname: ['ip'],
};


let env: TestEtcd;
let cluster: ClusterSnapshot;
let lainlet: LainletProcess;
let grpcPort: number;
let secretKeys: string[];
let secretValues: string[];

before(
  async () => {
    ({ cluster, ...env } = await startSampleEtcd());
    grpcPort = await freeLoopbackPort();
    lainlet = await startLainlet({ etcd: env.etcd.endpoint, args: ['-grpc.addr', `127.0.0.1:${grpcPort}`], readyPath: '/readyz' });
    secretKeys = Object.keys(cluster)
      .filter((k) => k.startsWith('/lain/config/'))
      .map((k) => k.slice('/lain/config/'.length))
      .filter(isSecretConfigKey);
    // Values distinctive enough that they can only come from the secret key itself.
    secretValues = secretKeys.map((k) => cluster[`/lain/config/${k}`].trim()).filter((v) => v.length >= 12 && /[a-z0-9]{8}/.test(v) && !v.startsWith('{'));
  },
  { timeout: 300_000 },
);

after(async () => {
  await lainlet?.stop();
  await env?.etcd.stop();
});

/** Param values a hostile caller would try. */
function valueGenerator(rand: () => number): () => string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const prefixes = [...SECRET_CONFIG_PREFIXES, ...secretKeysForGen()].flatMap((s) => Array.from({ length: s.length }, (_, i) => s.slice(0, i + 1)));
  // Some bytes %-escaped (upper or lower case hex), the others as they are.
  const escape = (s: string) =>
    [...Buffer.from(s)]
      .map((b) => (rand() < 0.5 ? encodeURIComponent(String.fromCharCode(b)) : `%${b.toString(16).padStart(2, '0')[rand() < 0.5 ? 'toUpperCase' : 'toLowerCase']()}`))
      .join('');
  const randomBytes = () => Array.from({ length: 1 + Math.floor(rand() * 12) }, () => `%${Math.floor(rand() * 256).toString(16).padStart(2, '0')}`).join('');
  const forms: Array<() => string> = [
    () => encodeURIComponent(pick(prefixes)),
    () => `%3D${encodeURIComponent(pick(prefixes))}`,
    () => `=${encodeURIComponent(pick(prefixes))}`,
    () => escape(pick(prefixes)),
    () => pick(['*', '%2A', '**', '*%00', '%2a/', '']),
    () => `*${encodeURIComponent(pick(prefixes))}`,
    () => randomBytes(),
    () => `${encodeURIComponent(pick(prefixes))}${randomBytes()}`,
    () => pick(['%00', '%0A', '%0D%0A', '+', '%20', '..', '%2F', '/', '%FF%FE', '%C3', '%E2%80%AE', '%ED%A0%80']),
    () => 'a'.repeat(Math.floor(rand() * 7_000)),
    () => encodeURIComponent(pick(prefixes)).repeat(1 + Math.floor(rand() * 300)).slice(0, 7_000),
    () => pick(['hello', 'console', 'webrouter', 'node1', '192.168.77.21', '172.20.0.12', 'redis-service', 'hello/', 'hello.web.web']),
  ];
  return () => pick(forms)();
}

function secretKeysForGen(): string[] {
  return secretKeys ?? [];
}

/** The secrets found in an answer body: a secret key as a JSON key, or a secret value anywhere. */
function leaks(body: string): string[] {
  const found = secretKeys.filter((k) => body.includes(`${JSON.stringify(k)}:`));
  for (const v of secretValues) if (body.includes(v)) found.push(`value of a secret (${v.slice(0, 4)}...)`);
  return found;
}

test('fuzzing the query parameters from a caller that is no container: no secret, no 500, memory bounded', { timeout: 240_000 }, async () => {
  assert.ok(secretKeys.length > 10 && secretValues.length >= 2, `the sample cluster has secrets to find: ${secretKeys.length} keys, ${secretValues.length} values`);
  const rand = mulberry32(SEED);
  const value = valueGenerator(rand);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const routes = Object.keys(ROUTES);
  const query = (names: string[]): string => {
    const parts: string[] = [];
    for (const name of names) if (rand() < 0.85) parts.push(`${name}=${value()}`);
    if (rand() < 0.2 && names.length > 0) parts.push(`${pick(names)}=${value()}`); // repeated
    if (rand() < 0.2) parts.push(`${value()}=${value()}`); // unknown
    if (rand() < 0.1) parts.push(`heartbeat=${value()}`);
    return parts.join('&');
  };
  const started = Date.now();
  const timeLeft = () => Date.now() - started < TIME_LIMIT_MS;
  const memory = async () => (JSON.parse((await get(lainlet.port, '/debug')).body) as { memory: NodeJS.MemoryUsage }).memory;
  const rss0 = (await memory()).rss;
  const statuses = new Map<number, number>();
  const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);

  let gets = 0;
  for (; gets < HTTP_REQUESTS && timeLeft(); gets++) {
    const route = pick(routes);
    const q = query(ROUTES[route]);
    const p = q ? `${route}?${q}` : route;
    const answer = await get(lainlet.port, p, { from: STRANGER });
    count(answer.status);
    const label = `seed ${SEED}, GET ${p.slice(0, 300)} -> ${answer.status} ${answer.body.slice(0, 200)}`;
    assert.ok(answer.status < 500, label);
    assert.deepEqual(leaks(answer.body), [], label);
  }

  let watches = 0;
  for (; watches < WATCHES && timeLeft(); watches++) {
    const route = pick(routes.filter((r) => r.startsWith('/v2/')));
    const q = query(ROUTES[route]);
    const p = `${route}?${q}${q ? '&' : ''}watch=${pick(['1', 'true', 'yes', '%01', value()])}`;
    const w = watch(lainlet.port, p, { from: STRANGER });
    try {
      const { status } = await w.response;
      count(status);
      const label = `seed ${SEED}, watch ${p.slice(0, 300)} -> ${status}`;
      assert.ok(status < 500, label);
      if (status === 200 && (await w.response).headers['content-type'] === 'text/event-stream') {
        const first = await w.next((e) => e.event === 'init' || e.event === 'error');
        assert.deepEqual(leaks(first.data ?? ''), [], `${label} ${first.event}`);
      } else {
        await w.ended;
        assert.deepEqual(leaks(w.raw), [], label);
      }
    } finally {
      w.close();
    }
  }

  // gRPC: the same values as request fields, through a proxy that connects from the stranger's address.
  const proxy = net.createServer((down) => {
    const up = net.connect({ host: '127.0.0.1', port: grpcPort, localAddress: STRANGER });
    for (const s of [down, up]) s.on('error', () => {});
    down.pipe(up).pipe(down);
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const proto = protoLoader.loadSync(path.join(REPO_ROOT, 'proto', 'lainlet', 'message.proto'), { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, objects: true });
  const pkg = (grpc.loadPackageDefinition(proto) as unknown as { message: Record<string, grpc.ServiceClientConstructor> }).message;
  const target = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
  const clients = new Map(Object.keys(GRPC_SERVICES).map((name) => [name, new pkg[name](target, grpc.credentials.createInsecure())]));
  const codes = new Map<string, number>();
  let calls = 0;
  try {
    for (; calls < GRPC_CALLS && timeLeft(); calls++) {
      const service = pick(Object.keys(GRPC_SERVICES));
      const request: Record<string, string> = {};
      for (const field of GRPC_SERVICES[service]) {
        let v = value();
        try {
          v = decodeURIComponent(v);
        } catch {
          // keep the escapes as text
        }
        request[field] = v;
      }
      const c = clients.get(service) as unknown as Record<string, (r: object, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void>;
      const outcome = await new Promise<{ err: grpc.ServiceError | null; reply: unknown }>((resolve) =>
        c.Get(request, { deadline: Date.now() + 10_000 }, (err, reply) => resolve({ err, reply })),
      );
      const code = outcome.err ? grpc.status[outcome.err.code] : 'OK';
      codes.set(code, (codes.get(code) ?? 0) + 1);
      const label = `seed ${SEED}, ${service}.Get ${JSON.stringify(request).slice(0, 300)} -> ${code} ${outcome.err?.details ?? ''}`;
      assert.ok(!outcome.err || ![grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DEADLINE_EXCEEDED].includes(outcome.err.code), label);
      assert.deepEqual(leaks(JSON.stringify(outcome.reply ?? {})), [], label);
    }
  } finally {
    for (const c of clients.values()) c.close();
    proxy.close();
  }

  const end = await memory();
  console.log(`figure: fuzz requests = ${gets} GETs, ${watches} watches, ${calls} gRPC Gets in ${Math.round((Date.now() - started) / 1000)} s (seed ${SEED})`);
  console.log(`figure: fuzz HTTP statuses = ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; gRPC codes = ${JSON.stringify(Object.fromEntries(codes))}`);
  console.log(`figure: fuzz RSS = ${Math.round(rss0 / MB)} -> ${Math.round(end.rss / MB)} MB`);
  assert.ok(gets >= 500 && watches >= 50 && calls >= 100, 'enough requests within the time limit');
  assert.ok(end.rss - rss0 < 150 * MB, `RSS grew by ${Math.round((end.rss - rss0) / MB)} MB`);
  assert.equal((await get(lainlet.port, '/readyz')).status, 200);
});
