// Watch streams end to end: a real etcd with the sample cluster, lainlet as a child process,
// clients over real sockets. Covers the event stream contract (SPEC §5), the deliberate
// differences (SPEC §6: no gap between init and update, no re-sent answers, corrupt values
// contained, 503 before the first snapshot, slow clients isolated) and "one etcd watch".
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSampleEtcd, type ClusterSnapshot, type TestEtcd } from '../helpers/etcd.js';
import { get, getJson, startLainlet, watch, type LainletProcess, type SseEvent, type SseWatch } from '../helpers/lainlet.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const HELLO_WEB = '/lain/deployd/pod_groups/hello/hello.web.web';
const HELLO_FOO = '/lain/deployd/pod_groups/hello/hello.worker.foo';
const BROKEN = '/lain/deployd/pod_groups/broken/broken.web.web';
const HELLO_COREINFO = '/v2/coreinfowatcher?appname=hello';

let env: TestEtcd;
let cluster: ClusterSnapshot;
let main: LainletProcess;
/** Every watch opened by a test: closed in `after` even when the test failed half-way. */
const watches: SseWatch[] = [];
const sockets: net.Socket[] = [];

before(
  async () => {
    ({ cluster, ...env } = await startSampleEtcd());
    main = await startLainlet({ etcd: env.etcd.endpoint, readyPath: '/readyz' });
  },
  { timeout: 300_000 },
);

after(async () => {
  for (const w of watches) w.close();
  for (const s of sockets) s.destroy();
  await main?.stop();
  await env?.etcd.stop();
});

function open(path: string, opts: { from?: string; port?: number } = {}): SseWatch {
  const w = watch(opts.port ?? main.port, path, { from: opts.from });
  watches.push(w);
  return w;
}

/** The sample hello.web.web pod group with `mutate` applied. */
function helloWeb(mutate: (pg: PodGroupJson) => void = () => {}): string {
  const pg = JSON.parse(cluster[HELLO_WEB]) as PodGroupJson;
  mutate(pg);
  return JSON.stringify(pg);
}

interface PodGroupJson {
  Spec: { Pod: { Annotation: string; Containers: Array<{ MemoryLimit: number }> } };
  Pods: Array<{ Containers: Array<{ ContainerIp: string }> }>;
}

/** hello.web.web with spec container 0's memory set to `memory` (shows in coreinfo's `Memory`). */
function helloWebWithMemory(memory: number, annotation?: string): string {
  return helloWeb((pg) => {
    pg.Spec.Pod.Containers[0].MemoryLimit = memory;
    if (annotation !== undefined) pg.Spec.Pod.Annotation = annotation;
  });
}

/** coreinfo's Memory of hello.web.web's first container, from an answer. */
function helloMemory(data: string | undefined): number | undefined {
  const answer = JSON.parse(data ?? 'null') as Record<string, { PodInfos: Array<{ ContainerInfos: Array<{ Memory: number }> }> }> | null;
  return answer?.['hello.web.web']?.PodInfos[0]?.ContainerInfos[0]?.Memory;
}

const isUpdateOrDelete = (e: SseEvent) => e.event === 'update' || e.event === 'delete';

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

interface DebugJson {
  connections: number;
  rejected: Array<{ key: string; reason: string }>;
}

async function rejectedKeys(port: number): Promise<string[]> {
  const d = await getJson<DebugJson>(port, '/debug');
  return d.rejected.map((r) => r.key);
}

function assertIdsIncrease(w: SseWatch) {
  const ids = w.events.filter((e) => e.event !== 'heartbeat' && e.event !== 'error').map((e) => Number(e.id));
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids must grow: ${ids.join(',')}\n${w.describe()}`);
}

test('watch: init, update, delete with the whole answer; ids grow', { timeout: 60_000 }, async () => {
  const w = open(`${HELLO_COREINFO}&watch=1`);
  const res = await w.response;
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);

  const init = await w.next();
  assert.equal(init.event, 'init');
  assert.equal(init.id, '1');
  assert.equal(init.data, (await get(main.port, HELLO_COREINFO)).body);
  assert.deepEqual(Object.keys(JSON.parse(init.data!) as object).sort(), ['hello.web.web', 'hello.worker.foo']);

  try {
    await env.http.put(HELLO_WEB, helloWebWithMemory(111_111_111));
    const update = await w.next(isUpdateOrDelete, 10_000);
    assert.equal(update.event, 'update');
    assert.equal(helloMemory(update.data), 111_111_111);
    assert.equal(update.data, (await get(main.port, HELLO_COREINFO)).body);

    await env.http.del(HELLO_FOO);
    const del = await w.next(isUpdateOrDelete, 10_000);
    assert.equal(del.event, 'delete');
    assert.deepEqual(Object.keys(JSON.parse(del.data!) as object), ['hello.web.web']);
    assert.equal(del.data, (await get(main.port, HELLO_COREINFO)).body);

    await env.http.put(HELLO_FOO, cluster[HELLO_FOO]);
    const back = await w.next(isUpdateOrDelete, 10_000);
    assert.equal(back.event, 'update');
    assert.deepEqual(Object.keys(JSON.parse(back.data!) as object).sort(), ['hello.web.web', 'hello.worker.foo']);

    assert.ok(Number(update.id) > 1);
    assertIdsIncrease(w);
  } finally {
    await env.http.put(HELLO_FOO, cluster[HELLO_FOO]);
    await env.http.put(HELLO_WEB, cluster[HELLO_WEB]);
    w.close();
  }
});

test('watch: heartbeat=1 sends heartbeats (id 0, no data)', { timeout: 30_000 }, async () => {
  const w = open('/v2/configwatcher?target=domain&watch=1&heartbeat=1');
  const init = await w.next();
  assert.equal(init.event, 'init');
  assert.equal(init.data, '{"domain":"lain.local"}');
  for (let i = 0; i < 2; i++) {
    const hb = await w.next((e) => e.event === 'heartbeat', 5_000);
    assert.equal(hb.id, '0');
    assert.equal(hb.data, undefined);
  }
  w.close();
});

test('watch: a refused watch gets one error event (id 0) and the stream ends', { timeout: 30_000 }, async () => {
  const cases: Array<{ path: string; from?: string; message: string }> = [
    { path: '/v2/localspecquery?watch=1', message: '/localspecquery do not support watch action' },
    { path: '/v2/nodes?watch=1', from: '127.0.0.99', message: 'authorize failed, super required' },
    { path: '/v2/containers?watch=1', from: '127.0.0.99', message: 'authorize failed, super required' },
  ];
  for (const c of cases) {
    const w = open(c.path, { from: c.from });
    const e = await w.next(() => true, 10_000);
    assert.deepEqual(e, { id: '0', event: 'error', data: c.message }, c.path);
    await Promise.race([w.ended, sleep(10_000).then(() => assert.fail(`${c.path}: stream did not end`))]);
    assert.equal(w.events.length, 1, w.describe());
  }
});

test('watch: webrouter safety rule ends the stream when a web proc loses its IPs', { timeout: 30_000 }, async () => {
  const w = open('/v2/webrouter/webprocs?appname=hello&watch=1');
  const init = await w.next();
  assert.equal(init.event, 'init');
  assert.ok('hello.web.web' in (JSON.parse(init.data!) as object));
  try {
    await env.http.put(
      HELLO_WEB,
      helloWeb((pg) => {
        for (const pod of pg.Pods) for (const c of pod.Containers) c.ContainerIp = '';
      }),
    );
    const e = await w.next(() => true, 10_000);
    assert.deepEqual(e, { id: '0', event: 'error', data: 'over half of the containers lost their IPs' });
    await Promise.race([w.ended, sleep(10_000).then(() => assert.fail('stream did not end'))]);
    const now = await get(main.port, '/v2/webrouter/webprocs?appname=hello');
    assert.equal(now.status, 500);
    assert.equal(now.body, 'over half of the containers lost their IPs');
  } finally {
    await env.http.put(HELLO_WEB, cluster[HELLO_WEB]);
    w.close();
  }
  await until(async () => (await get(main.port, '/v2/webrouter/webprocs?appname=hello')).status === 200, 10_000, 'webprocs back to 200');
});

test('watch: an unchanged answer is not sent again', { timeout: 30_000 }, async () => {
  const w = open(`${HELLO_COREINFO}&watch=1`);
  const init = await w.next();
  assert.equal(init.event, 'init');
  try {
    await env.http.put('/lain/config/unrelated', 'x');
    await env.http.put(HELLO_WEB, cluster[HELLO_WEB]); // same value, new mod revision
    await env.http.put('/lain/deployd/pod_groups/registry/registry.web.web', cluster['/lain/deployd/pod_groups/registry/registry.web.web']);
    await env.http.put(HELLO_WEB, helloWebWithMemory(222_222_222));
    const next = await w.next(() => true, 10_000);
    assert.equal(next.event, 'update', w.describe());
    assert.equal(helloMemory(next.data), 222_222_222, w.describe());
    assert.equal(w.events.length, 2, w.describe());
  } finally {
    await env.http.put(HELLO_WEB, cluster[HELLO_WEB]);
    w.close();
  }
});

test('watch: no gap between init and the first update (50 watchers under a write storm)', { timeout: 90_000 }, async () => {
  const key = '/lain/config/gap';
  await env.http.put(key, '0');
  await until(async () => (await get(main.port, '/v2/configwatcher?target=gap')).body === '{"gap":"0"}', 10_000, 'gap=0 visible');
  let stop = false;
  let last = 0;
  const writer = (async () => {
    for (let i = 1; !stop; i++) {
      await env.http.put(key, String(i));
      last = i;
    }
  })();
  const ws: SseWatch[] = [];
  try {
    for (let i = 0; i < 50; i++) {
      ws.push(open('/v2/configwatcher?target=gap&watch=1'));
      await sleep(5);
    }
    // Stop right after the last init: the last watchers' registration races the last writes.
    await Promise.all(ws.map((w) => w.next((e) => e.event === 'init', 10_000)));
  } finally {
    stop = true;
    await writer;
  }
  const final = `{"gap":"${last}"}`;
  assert.ok(last > 5, `the writer should have kept writing while the watchers opened (made ${last} writes)`);
  const lastData = (w: SseWatch) => w.events.filter((e) => e.event === 'init' || e.event === 'update').at(-1)?.data;
  await until(() => ws.every((w) => lastData(w) === final), 15_000, `every watcher at ${final}`).catch(() => undefined);
  const wrong = ws.flatMap((w, i) => (lastData(w) === final ? [] : [`watcher ${i}: last ${lastData(w)}\n${w.describe()}`]));
  assert.deepEqual(wrong, [], `every watcher must end on ${final}`);
  for (const w of ws) {
    assert.equal(w.events[0].id, '1');
    assert.ok(w.events.every((e) => e.event === 'init' || e.event === 'update'), w.describe());
    assertIdsIncrease(w);
    w.close();
  }
});

test('corrupt value at start: lainlet starts, serves the rest and lists the key in /debug', { timeout: 90_000 }, async () => {
  const truncated = cluster[HELLO_WEB].replace(/hello/g, 'broken').slice(0, 500);
  await env.http.put(BROKEN, truncated);
  const other = await startLainlet({ etcd: env.etcd.endpoint, readyPath: '/readyz' });
  try {
    const hello = await get(other.port, HELLO_COREINFO);
    assert.equal(hello.status, 200, hello.body);
    assert.equal(hello.body, (await get(main.port, HELLO_COREINFO)).body);
    const all = await get(other.port, '/v2/coreinfowatcher');
    assert.equal(all.status, 200);
    assert.ok(!('broken.web.web' in (JSON.parse(all.body) as object)));
    const debug = await getJson<DebugJson>(other.port, '/debug');
    const entry = debug.rejected.find((r) => r.key === BROKEN);
    assert.ok(entry, `rejected: ${JSON.stringify(debug.rejected)}`);
    assert.equal(typeof entry.reason, 'string');
    assert.ok(entry.reason.length > 0);
  } finally {
    await other.stop();
    await env.http.del(BROKEN);
  }
  await until(async () => !(await rejectedKeys(main.port)).includes(BROKEN), 10_000, 'main lainlet forgets the deleted broken key');
});

test('corrupt value at run time: no event, last good value kept, listed until a good value comes', { timeout: 30_000 }, async () => {
  const w = open(`${HELLO_COREINFO}&watch=1`);
  const init = await w.next();
  assert.equal(init.event, 'init');
  try {
    await env.http.put(HELLO_WEB, '{"Spec": {"Name": "hello.web.web", garbage');
    await until(async () => (await rejectedKeys(main.port)).includes(HELLO_WEB), 10_000, '/debug to list hello.web.web');
    assert.equal((await get(main.port, HELLO_COREINFO)).body, init.data);
    assert.equal(w.events.length, 1, w.describe());

    await env.http.put(HELLO_WEB, helloWebWithMemory(333_333_333));
    const next = await w.next(() => true, 10_000);
    assert.equal(next.event, 'update', w.describe());
    assert.equal(helloMemory(next.data), 333_333_333);
    assert.ok(!(await rejectedKeys(main.port)).includes(HELLO_WEB));
  } finally {
    await env.http.put(HELLO_WEB, cluster[HELLO_WEB]);
    w.close();
  }
});

test('503 with Retry-After until the first snapshot, then 200', { timeout: 90_000 }, async () => {
  const proxy = await TcpProxy.start('127.0.0.1', Number(env.etcd.endpoint.split(':')[1]));
  proxy.disconnect();
  let cutOff: LainletProcess | undefined;
  try {
    cutOff = await startLainlet({ etcd: proxy.endpoint, readyPath: '/debug' });
    const early = await get(cutOff.port, '/v2/configwatcher?target=domain');
    assert.equal(early.status, 503, early.body);
    assert.equal(early.headers['retry-after'], '1');
    const earlyWatch = await get(cutOff.port, '/v2/configwatcher?target=domain&watch=1');
    assert.equal(earlyWatch.status, 503, earlyWatch.body);
    assert.equal((await get(cutOff.port, '/readyz')).status, 503);
    assert.equal((await get(cutOff.port, '/debug')).status, 200);

    proxy.restore();
    const port = cutOff.port;
    await until(async () => (await get(port, '/v2/configwatcher?target=domain')).status === 200, 15_000, 'GET 200 after restore');
    assert.equal((await get(port, '/v2/configwatcher?target=domain')).body, '{"domain":"lain.local"}');
    await until(async () => (await get(port, '/readyz')).status === 200, 15_000, '/readyz 200 after restore');
  } finally {
    await cutOff?.stop();
    await proxy.close();
  }
});

test('a client that stops reading does not delay the others and holds only the newest pending answer', { timeout: 90_000 }, async () => {
  // Make the whole-cluster coreinfo answer big (the padding shows once per redis pod, 3 pods):
  // a client that does not read fills the socket buffers after a few events.
  const bigKey = '/lain/deployd/pod_groups/redis-service/redis-service.worker.redis';
  const bigPg = JSON.parse(cluster[bigKey]) as PodGroupJson;
  bigPg.Spec.Pod.Annotation = JSON.stringify({ padding: 'x'.repeat(500_000) });
  await env.http.put(bigKey, JSON.stringify(bigPg));
  await until(async () => (await get(main.port, '/v2/coreinfowatcher')).body.length > 1_500_000, 10_000, 'big coreinfo answer');

  // A watcher of everything that sends its request and then never reads.
  const stuck = net.connect({ host: '127.0.0.1', port: main.port });
  sockets.push(stuck);
  stuck.on('error', () => {});
  await once(stuck, 'connect');
  stuck.write('GET /v2/coreinfowatcher?watch=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  stuck.pause();

  const ws = Array.from({ length: 20 }, () => open(`${HELLO_COREINFO}&watch=1`));
  // A reader of the same big query: it gets every answer the hub makes.
  const reader = open('/v2/coreinfowatcher?watch=1');
  ws.push(reader);
  const memory = (i: number) => 900_000_000 + i;
  try {
    await Promise.all(ws.map((w) => w.next((e) => e.event === 'init', 10_000)));
    for (let i = 1; i <= 20; i++) await env.http.put(HELLO_WEB, helloWebWithMemory(memory(i)));
    await Promise.all(ws.map((w) => w.next((e) => e.event === 'update' && helloMemory(e.data) === memory(20), 5_000)));
    for (const w of ws) {
      assertIdsIncrease(w);
      w.close();
    }
    // The stalled client holds nothing up: lainlet still answers.
    const debug = await get(main.port, '/debug');
    assert.equal(debug.status, 200);

    // The stalled client, once it reads again, skipped intermediate answers (so it really was
    // backed up) and still ends on the latest one.
    assert.ok(!stuck.destroyed, 'the stalled client is still connected (it is within the stall limit)');
    const chunks: Buffer[] = [];
    stuck.on('data', (c: Buffer) => chunks.push(c));
    stuck.resume();
    let events: SseEvent[] = [];
    await until(
      () => {
        events = parseSse(dechunk(Buffer.concat(chunks)));
        return helloMemory(events.at(-1)?.data) === memory(20);
      },
      15_000,
      'the stalled client to catch up on the latest answer',
    ).catch((err: Error) => assert.fail(`${err.message}; got ${events.length} events: ${events.map((e) => `${e.event}/${helloMemory(e.data)}`).join(', ')}`));
    assert.equal(events[0].event, 'init');
    // It holds at most one pending answer: it got fewer than a reader of the same query, which
    // got every answer made (the hub may merge writes, so that is the count to compare with).
    const made = reader.events.filter((e) => e.event === 'init' || e.event === 'update').length;
    assert.ok(events.length < made, `a backed-up client skips answers (got ${events.length} of the ${made} a reader got)`);
  } finally {
    stuck.destroy();
    for (const w of ws) w.close();
    await env.http.put(HELLO_WEB, cluster[HELLO_WEB]);
    await env.http.put(bigKey, cluster[bigKey]);
  }
});

/** The body of a chunked HTTP/1.1 response, as far as complete chunks go. */
function dechunk(raw: Buffer): string {
  let pos = raw.indexOf('\r\n\r\n');
  if (pos < 0) return '';
  pos += 4;
  const parts: Buffer[] = [];
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) break;
    const size = parseInt(raw.subarray(pos, eol).toString('latin1'), 16);
    if (!(size > 0) || eol + 2 + size + 2 > raw.length) break;
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Complete SSE events in `text`. */
function parseSse(text: string): SseEvent[] {
  const blocks = text.split('\n\n');
  blocks.pop(); // incomplete (or empty) tail
  return blocks.map((block) => {
    const e: SseEvent = { id: '', event: '', data: undefined };
    for (const line of block.split('\n')) {
      const [field, value] = [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)];
      if (field === 'id') e.id = value;
      else if (field === 'event') e.event = value;
      else if (field === 'data') e.data = value;
    }
    return e;
  });
}

test('one etcd watch, whatever the number of watch connections', { timeout: 90_000 }, async () => {
  const paths = [
    '/v2/configwatcher?target=domain',
    '/v2/configwatcher',
    '/v2/configwatcher?target=domains',
    '/v2/procwatcher?appname=hello',
    '/v2/coreinfowatcher',
    HELLO_COREINFO,
    '/v2/proxywatcher',
    '/v2/webrouter/webprocs',
    '/v2/rebellion/localprocs',
    '/v2/streamrouter/ports',
    '/v2/streamrouter/streamprocs',
    '/v2/appswatcher',
    '/v2/backupspec?appname=hello',
    '/v2/depends',
    '/v2/nodes',
    '/v2/containers',
  ];
  const ws: SseWatch[] = [];
  try {
    for (let i = 0; i < 200; i++) ws.push(open(`${paths[i % paths.length]}${paths[i % paths.length].includes('?') ? '&' : '?'}watch=1`));
    const inits = await Promise.all(ws.map((w) => w.next(() => true, 20_000)));
    const notInit = inits.flatMap((e, i) => (e.event === 'init' ? [] : [`${paths[i % paths.length]}: ${e.event} ${e.data}`]));
    assert.deepEqual(notInit, []);
    const debug = await getJson<DebugJson>(main.port, '/debug');
    assert.ok(debug.connections >= 200, `connections ${debug.connections}`);
    // Lainlets of earlier tests have exited; their etcd watches may take a moment to be reaped.
    await until(async () => (await env.http.metric('etcd_debugging_mvcc_watcher_total')) <= 1, 10_000, 'only main lainlet watching');
    for (let i = 0; i < 5; i++) {
      assert.equal(await env.http.metric('etcd_debugging_mvcc_watcher_total'), 1);
      await sleep(200);
    }
    // The watches are live: a change reaches the hello watchers.
    await env.http.put(HELLO_WEB, helloWebWithMemory(444_444_444));
    const helloWatchers = ws.filter((_, i) => paths[i % paths.length] === HELLO_COREINFO);
    await Promise.all(helloWatchers.map((w) => w.next((e) => e.event === 'update' && helloMemory(e.data) === 444_444_444, 10_000)));
  } finally {
    for (const w of ws) w.close();
    await env.http.put(HELLO_WEB, cluster[HELLO_WEB]);
  }
});

test('-noauth lets any caller in', { timeout: 90_000 }, async () => {
  const denied = await get(main.port, '/v2/nodes', { from: '127.0.0.99' });
  assert.equal(denied.status, 400);
  assert.equal(denied.body, 'authorize failed, super required');

  const noauth = await startLainlet({ etcd: env.etcd.endpoint, args: ['-noauth'], readyPath: '/readyz' });
  try {
    const allowed = await get(noauth.port, '/v2/nodes', { from: '127.0.0.99' });
    assert.equal(allowed.status, 200, allowed.body);
    assert.equal(allowed.body, (await get(main.port, '/v2/nodes')).body);
    assert.ok(Object.keys(JSON.parse(allowed.body) as object).length === 3, allowed.body);
  } finally {
    await noauth.stop();
  }
});
