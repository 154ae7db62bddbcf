// Fault suite, client side (issue #3, faults 5-6): watchers that stop reading, and hostile
// clients (connection floods beyond the watcher limit, slowloris, oversize URLs, odd params).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { useEtcd } from '../helpers/etcd.js';
import { get, startLainlet, watch, type LainletProcess } from '../helpers/lainlet.js';
import { HELLO_WEB, debug, figure, loadCluster, until } from './support.js';

// Values up to 8 MB (etcd's default limit is 1.5 MB).
const env = useEtcd({ extraArgs: ['--max-request-bytes=8388608'] });
const cleanup: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A raw watch socket: records when each `step-N` value first arrives; can stop reading. */
class RawWatcher {
  readonly seen = new Map<number, number>();
  private tail = '';
  closed = false;
  readonly socket: net.Socket;

  constructor(port: number, path: string, from: string, reading = true) {
    this.socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: lainlet\r\n\r\n`);
    if (!reading) {
      // Never read: the kernel buffers fill, then lainlet's writes back up.
      this.socket.pause();
      return;
    }
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => {
      const now = performance.now();
      const text = this.tail + chunk;
      for (const m of text.matchAll(/step-(\d+)/g)) {
        const n = Number(m[1]);
        if (!this.seen.has(n)) this.seen.set(n, now);
      }
      this.tail = text.slice(-32);
    });
  }
}

async function openRaw(port: number, count: number, path: string, reading: boolean, firstAddress: number): Promise<RawWatcher[]> {
  const out: RawWatcher[] = [];
  for (let i = 0; i < count; i++) {
    out.push(new RawWatcher(port, path, `127.0.1.${firstAddress + (i % 50)}`, reading));
    if (i % 100 === 99) await sleep(20);
  }
  return out;
}

/** Writes step values and returns, per step, each reader's delivery latency (ms). */
async function deliver(lainlet: LainletProcess, readers: RawWatcher[], steps: number[], write: (n: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  for (const n of steps) {
    await write(n);
    const wroteAt = performance.now();
    await until(`step ${n} delivered to all ${readers.length} readers`, 10_000, async () => readers.every((r) => r.seen.has(n)));
    for (const r of readers) latencies.push(Math.max(0, r.seen.get(n)! - wroteAt));
    await sleep(30);
  }
  assert.ok(lainlet.isRunning);
  return latencies;
}

test('fault 5: 10% of 1000 watchers stop reading: the others get every change while those stay stuck, and stalled ones are dropped', { timeout: 180_000 }, async () => {
  const cluster = await loadCluster(env.http);
  // A big answer for the stalled watchers: a 2 MB annotation on a copy of hello.
  const padded = cluster[HELLO_WEB].replace(/"Annotation":"(?:[^"\\]|\\.)*"/, `"Annotation":"${'x'.repeat(2_000_000)}"`);
  await env.http.put('/lain/deployd/pod_groups/pad/pad.web.web', padded.replaceAll('hello', 'pad'));
  // The stall limit outlasts the measured phase even on a loaded machine: readers that get every
  // step while all stalled watchers are still connected were not held up by them.
  const lainlet = await startLainlet({ etcd: env.etcd.endpoint, readyPath: '/readyz', args: ['-stall-timeout', '15', '-noauth'] });
  cleanup.push(() => lainlet.stop());
  const small = '/v2/configwatcher?target=features/fault&watch=1';
  await env.http.put('/lain/config/features/fault', 'step-0');

  const readers = await openRaw(lainlet.port, 900, small, true, 1);
  cleanup.push(() => readers.forEach((r) => r.socket.destroy()));
  await until('900 readers have init', 20_000, async () => readers.every((r) => r.seen.has(0)));
  const write = async (n: number) => {
    await env.http.put('/lain/config/features/fault', `step-${n}`);
  };
  const padAt = (n: number) =>
    env.http.put('/lain/deployd/pod_groups/pad/pad.web.web', padded.replaceAll('hello', 'pad').replace('"InstanceNo":1', `"InstanceNo":${n}`));
  // Each step changes the big answer, then the small one; one reader of the big answer keeps up,
  // so both phases pay for computing it and only the stalled watchers differ.
  const bigReader = new RawWatcher(lainlet.port, '/v2/coreinfowatcher?watch=1', '127.0.0.1');
  cleanup.push(() => bigReader.socket.destroy());
  const step = async (n: number) => {
    await padAt(n);
    await write(n);
  };
  const baseline = await deliver(lainlet, readers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], step);
  const rssBefore = rssMb(lainlet.pid!);
  assert.deepEqual((await debug(lainlet.port)).rejected, [], 'the padded pod group is valid');

  const stalled = await openRaw(lainlet.port, 100, '/v2/coreinfowatcher?watch=1', false, 101);
  cleanup.push(() => stalled.forEach((r) => r.socket.destroy()));
  await until('100 stalled watchers registered', 10_000, async () => (await debug(lainlet.port)).connections >= 1001);
  // Back them up first (the kernel holds ~10 MB per socket): lainlet has made the last of these answers.
  for (let n = 1000; n < 1008; n++) await padAt(n);
  await until('the last padded answer made', 10_000, async () => /"InstanceNo":1007[,}]/.test((await get(lainlet.port, '/v2/coreinfowatcher?appname=pad')).body));
  const withStalled = await deliver(lainlet, readers, [11, 12, 13, 14, 15, 16, 17, 18, 19, 20], step);
  const rssStalled = rssMb(lainlet.pid!);
  // Every reader got every step while every stalled watcher was still connected and backed up.
  const during = await debug(lainlet.port);
  assert.equal(during.http.watchersDropped, 0, 'no stalled watcher dropped yet: the readers did not wait for them');
  assert.equal(during.connections, 1001);
  // How fast and how big are figures (they depend on the machine's load), not assertions; the
  // one-pending-frame rule itself is asserted in watch.test.ts (a backed-up client skips answers).
  figure('fault 5 delivery p99 to 900 readers, no stalled watchers', percentile(baseline, 99).toFixed(1), 'ms');
  figure('fault 5 delivery p99 to 900 readers, 100 stalled watchers', percentile(withStalled, 99).toFixed(1), 'ms');
  figure('fault 5 RSS before / with 100 stalled watchers of a 2 MB answer', `${rssBefore.toFixed(0)} / ${rssStalled.toFixed(0)}`, 'MB');

  const d = await until('stalled watchers dropped after the stall timeout', 30_000, async () => {
    const x = await debug(lainlet.port);
    return x.http.watchersDropped >= 100 && x;
  });
  figure('fault 5 stalled watchers dropped', d.http.watchersDropped);
  assert.equal(d.connections, 901, 'only the stalled watchers were dropped');
  assert.ok(readers.every((r) => !r.closed), 'readers still connected');
  await deliver(lainlet, readers, [21], write);
});

test('fault 6: 20k watch attempts beyond the limit get 503 with Retry-After: 5; slowloris is cut at the 10 s header timeout; the 8 KB URL limit holds at its boundary; odd requests get answers, not 500 or a hang', { timeout: 180_000 }, async () => {
  await loadCluster(env.http);
  const lainlet = await startLainlet({ etcd: env.etcd.endpoint, readyPath: '/readyz', args: ['-max-watchers', '100'] });
  cleanup.push(() => lainlet.stop());
  const keep = await openRaw(lainlet.port, 100, '/v2/configwatcher?target=features/fault&watch=1', true, 1);
  cleanup.push(() => keep.forEach((r) => r.socket.destroy()));
  await until('100 watchers', 10_000, async () => (await debug(lainlet.port)).connections === 100);

  // The flood: 20,000 watch attempts, 200 at a time, from 50 source addresses.
  const statuses = new Map<string, number>();
  let next = 0;
  const attempt = (i: number) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ port: lainlet.port, host: '127.0.0.1', localAddress: `127.0.2.${1 + (i % 50)}` });
      let head = '';
      const done = (what: string) => {
        statuses.set(what, (statuses.get(what) ?? 0) + 1);
        s.destroy();
        resolve();
      };
      s.setTimeout(10_000, () => done('timeout'));
      s.on('error', () => done('error'));
      s.on('data', (b) => {
        head += b.toString('latin1');
        const m = /^HTTP\/1\.1 (\d+)/.exec(head);
        if (m) done(m[1]);
      });
      s.write('GET /v2/coreinfowatcher?watch=1 HTTP/1.1\r\nHost: lainlet\r\n\r\n');
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 200 }, async () => {
      while (next < 20_000) await attempt(next++);
    }),
  );
  figure('fault 6 20k refused watch attempts took', Date.now() - started, 'ms');
  figure('fault 6 answers', JSON.stringify(Object.fromEntries(statuses)));
  assert.equal(statuses.get('503'), 20_000, `every attempt answered 503: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok(lainlet.isRunning);
  assert.ok((await debug(lainlet.port)).http.watchersRefused >= 20_000);
  const refused = watch(lainlet.port, '/v2/coreinfowatcher?watch=1');
  const refusedHead = await refused.response;
  refused.close();
  assert.equal(refusedHead.status, 503);
  assert.equal(refusedHead.headers['retry-after'], '5', 'the watcher-cap 503 says Retry-After: 5');
  await env.http.put('/lain/config/features/fault', 'step-1');
  await until('kept watchers still served', 5_000, async () => keep.every((r) => r.seen.has(1)));

  // Slowloris: headers trickling in, never finished.
  const slow = net.connect({ port: lainlet.port, host: '127.0.0.1' });
  slow.on('error', () => {});
  const slowClosed = new Promise<number>((r) => slow.on('close', () => r(Date.now())));
  const slowStart = Date.now();
  slow.write('GET /v2/nodes HTTP/1.1\r\nHost: lainlet\r\n');
  const trickle = setInterval(() => slow.write('X-Slow: 1\r\n'), 500);
  const closedAt = await Promise.race([slowClosed, sleep(20_000, 0)]);
  clearInterval(trickle);
  slow.destroy();
  assert.ok(closedAt > 0, 'slowloris connection closed by lainlet');
  figure('fault 6 slowloris cut after', closedAt - slowStart, 'ms');
  // The 10 s header timeout, checked once a second: not before 10 s, and not much after.
  assert.ok(closedAt - slowStart >= 9_900 && closedAt - slowStart <= 13_000, `headers timed out after ${closedAt - slowStart} ms, expected 10-11 s`);

  // Oversize and odd requests: an answer within a bound, never a 500.
  // The URL limit is 8,192 bytes: at the limit an answer, one byte over 414.
  const urlOf = (length: number) => `/v2/configwatcher?target=${'a'.repeat(length - '/v2/configwatcher?target='.length)}`;
  const odd: Array<[string, number[]]> = [
    [urlOf(8_192), [200]],
    [urlOf(8_193), [414]],
    [`/v2/configwatcher?target=${'a'.repeat(10_000)}`, [414]],
    [`/v2/configwatcher?target=${'a'.repeat(100_000)}`, [431, 414]],
    ['/v2/configwatcher?target=domain&heartbeat=-1', [200]],
    ['/v2/configwatcher?target=domain&heartbeat=abc', [200]],
    ['/v2/configwatcher?target=domain&target=vips', [200]],
    ['/v2/configwatcher?target=%zz%', [200]],
    ['/v2/configwatcher?target=%00%ff%fe', [200]],
    ['/v2/coreinfowatcher?appname=%E2%80%A8%F0%9F%98%80', [200]],
    ['/v2/procwatcher?appname=', [400]],
    ['/v2/../v2/nodes', [200, 404]],
    ['/%zz', [404]],
  ];
  for (const [path, expected] of odd) {
    const status = await rawStatus(lainlet.port, path);
    assert.ok(expected.includes(status), `${path.slice(0, 60)}: got ${status}, expected ${expected}`);
  }
  const repeated = await get(lainlet.port, '/v2/configwatcher?target=domain&target=vips');
  assert.equal(repeated.body, (await get(lainlet.port, '/v2/configwatcher?target=domain')).body, 'first of repeated params wins');
  // Make room under the limit for the watch-parameter checks.
  keep.slice(0, 10).forEach((r) => r.socket.destroy());
  await until('room under the limit', 5_000, async () => (await debug(lainlet.port)).connections <= 90);
  // Watch params: `watch=maybe` is a watch (Go: anything but empty/0/false); bad heartbeat means none.
  for (const path of ['/v2/configwatcher?target=domain&watch=maybe', '/v2/configwatcher?target=domain&watch=1&heartbeat=-1', '/v2/configwatcher?target=domain&watch=1&heartbeat=abc']) {
    const head = await rawHead(lainlet.port, path, 1_500);
    assert.match(head, /^HTTP\/1\.1 200/, path);
    assert.match(head, /event: init/, path);
    assert.doesNotMatch(head, /heartbeat/, path);
  }
  assert.ok(lainlet.isRunning);
});

function rawHead(port: number, path: string, forMs: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    s.on('data', (b) => (text += b.toString('latin1')));
    s.on('error', () => {});
    s.write(`GET ${path} HTTP/1.1\r\nHost: lainlet\r\n\r\n`);
    setTimeout(() => {
      s.destroy();
      resolve(text);
    }, forMs);
  });
}

function rawStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`${path.slice(0, 60)}: no answer within 5 s`));
    }, 5_000);
    s.on('data', (b) => {
      text += b.toString('latin1');
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    s.write(`GET ${path} HTTP/1.1\r\nHost: lainlet\r\nConnection: close\r\n\r\n`);
  });
}
