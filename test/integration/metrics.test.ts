// /metrics (made at start) and /debug's etcd and memory report, on a real etcd.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { get, startLainlet, type LainletProcess } from '../helpers/lainlet.js';
import { VERSION } from '../../src/version.js';

let env: TestEtcd;
let lainlet: LainletProcess;
before(async () => {
  env = await startTestEtcd();
  await env.http.put('/lain/config/domain', 'lain.local');
  lainlet = await startLainlet({ etcd: env.etcd.endpoint, readyPath: '/readyz' });
});
after(async () => {
  await lainlet?.stop();
  await env?.etcd.stop();
});

test('/metrics reports the etcd connection, revision and watchers in Prometheus text', async () => {
  const m = await get(lainlet.port, '/metrics');
  assert.equal(m.status, 200);
  assert.match(String(m.headers['content-type']), /text\/plain/);
  assert.match(m.body, /^lainlet_etcd_connected 1$/m);
  assert.match(m.body, /^lainlet_revision [1-9]\d*$/m);
  assert.match(m.body, /^lainlet_watchers 0$/m);
  assert.match(m.body, /^lainlet_process_resident_memory_bytes \d+/m);
});

test('/debug reports the etcd state, one watch stream, and memory', async () => {
  const d = JSON.parse((await get(lainlet.port, '/debug')).body);
  assert.equal(d.etcd.state, 'connected');
  assert.equal(d.etcd.watchStreams, 1);
  assert.equal(d.version, VERSION);
  assert.equal(d.goCompatible, '2.4.3');
  assert.ok(d.memory.rss > 0);
  // Our own version, not the Go binary's `2.4.3+git`: a caller can tell the two apart.
  assert.equal((await get(lainlet.port, '/version')).body, VERSION);
  assert.notEqual(VERSION, '2.4.3+git');
});

test('/metrics: totals are counters, and process CPU counts from the start, not from the first scrape', async () => {
  // CPU the process has used so far (utime + stime, in clock ticks of 1/100 s), before the scrape.
  const stat = fs.readFileSync(`/proc/${lainlet.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const cpuSoFar = (Number(stat[11]) + Number(stat[12])) / 100;
  const m = await get(lainlet.port, '/metrics');
  assert.match(m.body, /^# TYPE lainlet_rejected_values_total counter$/m);
  assert.match(m.body, /^# TYPE lainlet_view_renders_total counter$/m);
  assert.match(m.body, /^lainlet_view_renders_total \d+$/m);
  const cpu = Number(/^lainlet_process_cpu_seconds_total (\S+)$/m.exec(m.body)?.[1]);
  assert.ok(cpuSoFar > 0.2, `the process used ${cpuSoFar} s of CPU to start`);
  assert.ok(cpu >= cpuSoFar * 0.9, `process_cpu_seconds_total ${cpu} s, but the process had used ${cpuSoFar} s before the scrape`);
});
