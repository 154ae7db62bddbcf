// lainlet started while etcd is down: one clear log line (then a count now and then, not a line
// a second), /readyz and /debug say that etcd is unreachable and why; when etcd comes up, lainlet
// says so and becomes ready.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestEtcd } from '../helpers/etcd.js';
import { get, getJson, startLainlet } from '../helpers/lainlet.js';

test('etcd unreachable at start: logged once, named in /readyz and /debug, then reachable again', { timeout: 120_000 }, async () => {
  const { etcd } = await startTestEtcd();
  etcd.kill('SIGKILL');
  while (etcd.isRunning) await sleep(20);
  const lainlet = await startLainlet({ etcd: etcd.endpoint, readyPath: '/debug' });
  try {
    await sleep(3_000); // about six retries
    const log = lainlet.output();
    assert.equal(log.match(/etcd unreachable; retrying/g)?.length, 1, log);
    assert.doesNotMatch(log, /Resolution note/);
    assert.doesNotMatch(log, /etcd still unreachable/); // the first repeat comes after 10 s

    const ready = await get(lainlet.port, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body, new RegExp(`etcd unreachable for \\d+ s \\(\\d+ failed attempts; last at ${etcd.endpoint}: connect ECONNREFUSED`));
    const debug = await getJson<{ ready: { reason: string }; etcd: { state: string; failedAttempts: number; unreachableSince: number | null } }>(lainlet.port, '/debug');
    assert.equal(debug.etcd.state, 'disconnected');
    assert.ok(debug.etcd.failedAttempts >= 3, JSON.stringify(debug.etcd));
    assert.ok(debug.etcd.unreachableSince !== null);
    assert.match(debug.ready.reason, /etcd unreachable/);

    await etcd.restart();
    const deadline = Date.now() + 15_000;
    while ((await get(lainlet.port, '/readyz')).status !== 200) {
      assert.ok(Date.now() < deadline, 'not ready 15 s after etcd came up');
      await sleep(100);
    }
    assert.match(lainlet.output(), /etcd reachable again/);
    const after = await getJson<{ etcd: { failedAttempts: number; unreachableSince: number | null } }>(lainlet.port, '/debug');
    assert.deepEqual([after.etcd.failedAttempts, after.etcd.unreachableSince], [0, null]);
  } finally {
    await lainlet.stop();
    await etcd.stop();
  }
});
