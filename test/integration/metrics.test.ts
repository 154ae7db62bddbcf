// /metrics (made on the first scrape) and /debug's etcd and memory report, on a real etcd.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
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
