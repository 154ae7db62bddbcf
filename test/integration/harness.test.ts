// The test harness itself: a throwaway etcd that tests can write to, read metrics from,
// kill and restart. Everything else in test/integration builds on this.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { EtcdHttp, EtcdProcess, loadSampleCluster, startTestEtcd } from '../helpers/etcd.js';
import { DeploydSimulator } from '../../src/demo/deployd-sim.js';

describe('test harness: throwaway etcd', () => {
  let etcd: EtcdProcess;
  let http: EtcdHttp;

  before(async () => ({ etcd, http } = await startTestEtcd()), { timeout: 300_000 });
  after(async () => etcd?.stop());

  it('listens on loopback with its own data dir', () => {
    assert.match(etcd.endpoint, /^127\.0\.0\.1:\d+$/);
    assert.ok(fs.existsSync(etcd.dataDir));
    assert.ok(etcd.pid && etcd.pid > 0);
  });

  it('puts, reads and deletes keys over the v3 gateway', async () => {
    const rev = await http.put('/lain/config/demo', 'v1');
    assert.equal(await http.get('/lain/config/demo'), 'v1');
    assert.equal(await http.getRevision(), rev);
    await http.putMany({ '/lain/config/a/x': '1', '/lain/config/a/y': '2', '/lain/config/ab': '3' });
    assert.deepEqual(await http.getPrefix('/lain/config/a/'), { '/lain/config/a/x': '1', '/lain/config/a/y': '2' });
    assert.equal(await http.del('/lain/config/a/', { prefix: true }), 2);
    assert.equal(await http.get('/lain/config/a/x'), undefined);
    assert.equal(await http.get('/lain/config/ab'), '3');
  });

  it('compacts', async () => {
    const rev = await http.put('/lain/config/demo', 'v2');
    await http.compact(rev);
    await assert.rejects(http.compact(rev - 1), /compacted/);
  });

  it('reads the watcher metric', async () => {
    const watchers = await http.metric('etcd_debugging_mvcc_watcher_total');
    assert.equal(watchers, 0); // nobody watches yet
    await assert.rejects(http.metric('no_such_metric_here'), /no metric named/);
  });

  it('survives kill and restart with its data', async () => {
    const pid = etcd.pid;
    assert.ok(etcd.kill('SIGKILL'));
    await assert.rejects(new EtcdHttp(etcd.endpoint, { timeoutMs: 500 }).get('/lain/config/demo'));
    await etcd.restart();
    assert.notEqual(etcd.pid, pid);
    assert.equal(await http.get('/lain/config/demo'), 'v2');
  });

  it('freezes and thaws', async () => {
    assert.ok(etcd.freeze());
    await assert.rejects(new EtcdHttp(etcd.endpoint, { timeoutMs: 300 }).get('/lain/config/demo'));
    assert.ok(etcd.thaw());
    assert.equal(await http.get('/lain/config/demo'), 'v2');
  });

  it('runs the simulated deployd against the sample cluster', async () => {
    const cluster = await loadSampleCluster();
    await http.putMany(cluster);
    const lines: string[] = [];
    const sim = new DeploydSimulator(http, cluster, { seed: 7, log: (l) => lines.push(l) });
    for (let i = 0; i < 8; i++) lines.push(await sim.step());
    await sim.stop();
    assert.equal(lines.length, 8, lines.join('\n'));
    assert.match(lines[0], /^deployd-sim: scaled \S+ up to \d+ instances?/);
    assert.match(lines[2], /^deployd-sim: added app simapp1 /);
    assert.match(lines[6], /^deployd-sim: removed app simapp1$/);
    assert.deepEqual(await http.getPrefix('/lain/deployd/pod_groups/simapp1/'), {});
    // Two toggles of the same config key: back where it started.
    assert.equal(await http.get('/lain/config/features/maintaining'), cluster['/lain/config/features/maintaining']);
  });

  it('stops: process gone, data dir removed', async () => {
    const pid = etcd.pid!;
    await etcd.stop();
    assert.equal(etcd.isRunning, false);
    assert.equal(fs.existsSync(etcd.dataDir), false);
    assert.throws(() => process.kill(pid, 0));
  });
});
