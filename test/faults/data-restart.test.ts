// Fault suite (faults 7-8 of the fault suite, README "When things go wrong"): random corruptions of real values while watchers run,
// and a restart (SIGTERM, then a new process that serves 503 until synced).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { useEtcd } from '../helpers/etcd.js';
import { get, startLainlet, watch } from '../helpers/lainlet.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { WATCHED_PATHS, assertHealthyStreams, converge, debug, figure, loadCluster, openWatchers, until } from './support.js';

// Room for the 5 MB values (etcd's default request limit is 1.5 MB).
const env = useEtcd({ extraArgs: ['--max-request-bytes=8388608'] });
const cleanup: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every (container, key) place in a parsed value, to pick one at random. */
function places(v: Json, out: Array<[Json[] | { [k: string]: Json }, string | number]> = []) {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push([v, i]);
      places(x, out);
    });
  } else if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) {
      out.push([v, k]);
      places(v[k], out);
    }
  }
  return out;
}

const ODD = ['\ud800', '\u2028\u2029', '😀\u0000', '\uffff\ufeff', 'e\u0301', '<script>&'];

function mutate(value: string, rnd: () => number): { kind: string; value: string } {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const kind = pick(['truncate', 'wrong-type', 'missing-field', 'huge-array', '5MB', 'odd-unicode', 'not-json']);
  if (kind === 'truncate') return { kind, value: value.slice(0, Math.floor(rnd() * value.length)) };
  if (kind === '5MB') return { kind, value: rnd() < 0.5 ? 'x'.repeat(5_000_000) : value.replace(/"Annotation":"/, `"Annotation":"${'y'.repeat(5_000_000)}`) };
  if (kind === 'not-json') return { kind, value: pick(['', 'null', '[]', '42', '"str"', '{', '{"a":']) };
  let parsed: Json;
  try {
    parsed = JSON.parse(value) as Json;
  } catch {
    return { kind: 'truncate', value: value.slice(0, value.length >> 1) };
  }
  const spots = places(parsed);
  if (spots.length === 0) return { kind: 'not-json', value: '{' };
  const [holder, key] = pick(spots);
  const h = holder as Record<string | number, Json>;
  if (kind === 'wrong-type') h[key] = pick<Json>(['7', 7.5, [], {}, null, true, -1]);
  else if (kind === 'missing-field' && !Array.isArray(holder)) delete h[key];
  else if (kind === 'huge-array') h[key] = Array.from({ length: 50_000 }, (_, i) => i);
  else if (kind === 'odd-unicode') h[key] = pick(ODD);
  return { kind, value: JSON.stringify(parsed) };
}

test('fault 7: random corruptions of real values while watchers run: contained, reported, then healed', { timeout: 240_000 }, async () => {
  const cluster = await loadCluster(env.http);
  const lainlet = await startLainlet({ etcd: env.etcd.endpoint, readyPath: '/readyz' });
  cleanup.push(() => lainlet.stop());
  const watchers = openWatchers(lainlet.port, 20, '');
  const control = watch(lainlet.port, '/v2/configwatcher?target=features/control&watch=1');
  cleanup.push(() => control.close());
  await Promise.all([...watchers, { w: control }].map(({ w }) => w.next((e) => e.event === 'init')));
  const targets = Object.keys(cluster).filter((k) =>
    /^\/lain\/(deployd\/pod_groups\/|deployd\/depends\/pods\/|nodes\/nodes\/|config\/(domain|vips\/|ssl|super_apps\/))/.test(k),
  );
  const rnd = prng(20261127);
  const kinds = new Map<string, number>();
  let sawRejected = 0;
  for (let i = 0; i < 150; i++) {
    const key = targets[Math.floor(rnd() * targets.length)];
    const { kind, value } = mutate(cluster[key], rnd);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    await env.http.put(key, value);
    if (i % 10 === 9) {
      // Other keys keep updating while the garbage flows.
      await env.http.put('/lain/config/features/control', `c${i}`);
      await control.next((e) => e.data === `{"features/control":"c${i}"}`, 10_000);
      const d = await debug(lainlet.port);
      sawRejected = Math.max(sawRejected, d.rejected.length);
      assert.ok(d.rejected.every((r) => r.key.startsWith('/lain/') && r.reason.length > 0));
    }
  }
  figure('fault 7 mutations written', JSON.stringify(Object.fromEntries(kinds)));
  figure('fault 7 most keys rejected at once', sawRejected);
  assert.ok(sawRejected > 0, '/debug listed rejected keys');
  assert.ok(lainlet.isRunning, 'never crashed');

  // Good values again: every one is picked up.
  for (const key of targets) await env.http.put(key, cluster[key]);
  await until('no rejected key left', 10_000, async () => (await debug(lainlet.port)).rejected.length === 0);
  // The healed state is exactly what a fresh read of etcd gives.
  await converge(watchers, { etcd: env.etcd.endpoint, lainletPort: lainlet.port, timeoutMs: 5_000 });
  for (const { w } of watchers) assert.equal(w.events.some((e) => e.event === 'error'), false);
  for (const { w } of watchers) w.close();
});

/** etcd's count of Range calls it has served (gRPC server metrics). */
async function rangeCalls(): Promise<number> {
  const text = await (await fetch(`${env.etcd.url}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith('grpc_server_handled_total{') && line.includes('grpc_method="Range"')) n += Number(line.split(' ').pop());
  return n;
}

test('fault 8: SIGTERM ends every stream cleanly and exits fast; a restarted lainlet serves 503 until synced, then the same answers, from one read', { timeout: 120_000 }, async () => {
  await loadCluster(env.http);
  const proxy = await TcpProxy.start('127.0.0.1', env.etcd.clientPort);
  cleanup.push(() => proxy.close());
  const first = await startLainlet({ etcd: proxy.endpoint, readyPath: '/readyz' });
  const watchers = openWatchers(first.port, 100, '');
  await Promise.all(watchers.map(({ w }) => w.next((e) => e.event === 'init')));
  const answers = new Map<string, string>();
  for (const path of WATCHED_PATHS) answers.set(path, (await get(first.port, path)).body);

  const termAt = Date.now();
  first.kill('SIGTERM');
  const exit = await first.exited;
  const exitMs = Date.now() - termAt;
  figure('fault 8 exit after SIGTERM', exitMs, 'ms');
  assert.ok(exitMs < 5_000, `exited within 5 s (${exitMs} ms)`);
  assert.equal(exit.code, 0);
  await Promise.all(watchers.map(({ w }) => Promise.race([w.ended, sleep(2_000).then(() => assert.fail('stream not closed'))])));
  // Closed, not cut: each response ends with its last chunk (a reset connection would look like a crash to clients).
  assert.deepEqual(
    watchers.filter(({ w }) => !w.endedCleanly).map(({ path }) => path),
    [],
    'every stream ended cleanly',
  );

  // The new process cannot reach etcd yet: 503, never empty data.
  proxy.disconnect();
  const rangesBefore = await rangeCalls();
  const second = await startLainlet({ etcd: proxy.endpoint, port: first.port });
  cleanup.push(() => second.stop());
  for (const path of WATCHED_PATHS) {
    const a = await get(second.port, path);
    assert.equal(a.status, 503, path);
    assert.equal(a.headers['retry-after'], '1');
  }
  proxy.restore();
  const syncedAt = Date.now();
  await until('synced', 15_000, async () => (await get(second.port, '/readyz')).status === 200);
  figure('fault 8 ready after etcd reachable', Date.now() - syncedAt, 'ms');
  // All clients come back at once: served from the mirror, not from etcd.
  const back = openWatchers(second.port, 100, '');
  await Promise.all(back.map(({ w }) => w.next((e) => e.event === 'init')));
  for (const { path, w } of back) assert.equal(w.events[0].data, answers.get(path), `${path}: same answer after the restart`);
  const ranges = (await rangeCalls()) - rangesBefore;
  figure('fault 8 etcd range reads for 100 reconnecting clients', ranges);
  // One snapshot read (its pages: 64 keys each, the instance registry's keys apart, and the
  // store's small checks of etcd's newest revision) served them all.
  const { etcd } = await debug(second.port);
  assert.equal(etcd.snapshots, 1);
  assert.equal(ranges, etcd.lastSnapshot!.pages + etcd.checkReads, 'one read served them all');
  // And it follows etcd from there.
  await env.http.put('/lain/config/features/fault', 'after-restart');
  await converge(back, { etcd: env.etcd.endpoint, lainletPort: second.port, timeoutMs: 3_000 });
  assertHealthyStreams(back);
  for (const { w } of back) w.close();
});
