// The instance registry with real lainlet processes: each one is listed by /v2/lainlets while it
// runs; a crashed one (kill -9) leaves when its lease expires (TTL 5 s), a stopped one (SIGTERM)
// at once; `-register=false` stays out. Direct and through `etcd grpc-proxy`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { useEtcd } from '../helpers/etcd.js';
import { GrpcProxyProcess } from '../helpers/grpc-proxy.js';
import { getJson, startLainlet, type LainletProcess } from '../helpers/lainlet.js';
import type { LainletsAnswer } from '../../src/views/answers.js';

const env = useEtcd();
const cleanup: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function lainlet(hostname: string, etcd: string, args: string[] = []): Promise<LainletProcess> {
  const l = await startLainlet({ etcd, hostname, args, readyPath: '/readyz' });
  cleanup.push(() => l.stop());
  return l;
}

async function listed(port: number): Promise<LainletsAnswer> {
  return (await getJson(port, '/v2/lainlets')) as LainletsAnswer;
}

/** Polls until `cond` holds for the listing seen on `port`; returns the ms it took. */
async function untilListing(port: number, cond: (a: LainletsAnswer) => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (cond(await listed(port))) return Date.now() - started;
    if (Date.now() - started > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(await listed(port))}`);
    await sleep(50);
  }
}

test('live lainlets are listed; kill -9 leaves within the lease TTL, SIGTERM at once; -register=false stays out', { timeout: 90_000 }, async () => {
  await env.http.put('/lain/config/domain', 'lain.local');
  const a = await lainlet('node-a', env.etcd.endpoint);
  const b = await lainlet('node-b', env.etcd.endpoint);
  const c = await lainlet('node-c', env.etcd.endpoint);
  const quiet = await lainlet('node-quiet', env.etcd.endpoint, ['-register=false']);
  await untilListing(a.port, (l) => ['node-a', 'node-b', 'node-c'].every((h) => h in l), 10_000, 'three instances');

  const all = await listed(a.port);
  const entry = all['node-b'];
  assert.equal(entry.hostname, 'node-b');
  assert.equal(entry.ip, '127.0.0.1');
  assert.equal(entry.web, `127.0.0.1:${b.port}`);
  assert.equal(typeof entry.version, 'string');
  assert.ok(!Number.isNaN(Date.parse(entry.startedAt)), 'startedAt is a time');
  assert.ok(entry.revision > 0, 'the revision it applied');
  assert.equal(entry.lag, 0, 'all on the same data');
  assert.deepEqual(await listed(b.port), all, 'every lainlet gives the same answer');
  await sleep(2_500); // more than a keep-alive period
  assert.equal('node-quiet' in (await listed(quiet.port)), false, '-register=false is not listed');

  b.kill('SIGKILL');
  await b.exited;
  const expiredMs = await untilListing(a.port, (l) => !('node-b' in l), 10_000, 'the crashed instance to expire');
  console.log(`figure: killed lainlet left /v2/lainlets after = ${expiredMs} ms (lease TTL 5 s)`);
  assert.ok(expiredMs <= 7_000, `gone within ~5 s (${expiredMs} ms)`);

  const stoppingAt = Date.now();
  c.kill('SIGTERM');
  await c.exited;
  const goneMs = await untilListing(a.port, (l) => !('node-c' in l), 5_000, 'the stopped instance to leave');
  console.log(`figure: SIGTERM lainlet left /v2/lainlets after = ${Date.now() - stoppingAt} ms from the signal (${goneMs} ms after it exited)`);
  assert.ok(Date.now() - stoppingAt <= 1_500, `gone at once (${Date.now() - stoppingAt} ms after SIGTERM)`);
  assert.deepEqual(Object.keys(await listed(a.port)), ['node-a']);
});

test('through etcd grpc-proxy: registered, kept alive past the TTL, kill -9 expires, SIGTERM revokes', { timeout: 90_000 }, async () => {
  const proxy = await GrpcProxyProcess.start(env.etcd.endpoint);
  cleanup.push(() => proxy.stop());
  const viewer = await lainlet('viewer', env.etcd.endpoint, ['-register=false']);
  const p1 = await lainlet('proxied-1', proxy.endpoint);
  const p2 = await lainlet('proxied-2', proxy.endpoint);
  await untilListing(viewer.port, (l) => 'proxied-1' in l && 'proxied-2' in l, 10_000, 'the proxied instances');
  await sleep(7_000); // beyond the TTL: only keep-alives through the proxy hold the keys
  assert.ok('proxied-1' in (await listed(viewer.port)) && 'proxied-2' in (await listed(viewer.port)), 'kept alive through the proxy');

  p1.kill('SIGKILL');
  await p1.exited;
  const expiredMs = await untilListing(viewer.port, (l) => !('proxied-1' in l), 10_000, 'the crashed proxied instance to expire');
  console.log(`figure: killed lainlet behind a proxy left /v2/lainlets after = ${expiredMs} ms`);
  assert.ok(expiredMs <= 7_000, `gone within ~5 s (${expiredMs} ms)`);

  const stoppingAt = Date.now();
  p2.kill('SIGTERM');
  await p2.exited;
  await untilListing(viewer.port, (l) => !('proxied-2' in l), 5_000, 'the stopped proxied instance to leave');
  console.log(`figure: SIGTERM lainlet behind a proxy left /v2/lainlets after = ${Date.now() - stoppingAt} ms`);
  assert.ok(Date.now() - stoppingAt <= 1_500, 'revoked through the proxy at once');
});
