// The mirror: what each etcd snapshot or batch of events changed, in the key spaces the views
// query (once per batch); a resync applies only what differs; malformed values are kept out,
// listed, and healed by the next good value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Mirror, type ChangeSet } from '../../src/state/mirror.js';
import { silentLogger } from '../../src/util/log.js';

function podGroup(app: string, ip: string, id = `${app}-1`): string {
  return JSON.stringify({
    Spec: { Name: `${app}.web.web`, Namespace: app },
    Pods: [{ InstanceNo: 1, Containers: [{ Id: id, ContainerIp: ip, NodeName: 'node1', NodeIp: '192.168.77.21' }] }],
  });
}

const HELLO = '/lain/deployd/pod_groups/hello/hello.web.web';

/** A mirror and every change set it emitted, as plain `source -> key -> kind` objects. */
function recorded() {
  const mirror = new Mirror(silentLogger);
  const sets: Array<{ revision: number; changes: Record<string, Record<string, string>> }> = [];
  mirror.onChange((set: ChangeSet) =>
    sets.push({ revision: set.revision, changes: Object.fromEntries([...set.changes].map(([source, keys]) => [source, Object.fromEntries(keys)])) }),
  );
  return { mirror, sets };
}

test('a snapshot loads the state, sets the revision and reports every key it brought, once', () => {
  const { mirror, sets } = recorded();
  assert.equal(mirror.ready, false);
  mirror.snapshot(
    [
      { key: '/lain/config/domain', value: 'lain.local', modRevision: 3 },
      { key: HELLO, value: podGroup('hello', '172.20.0.32'), modRevision: 4 },
      { key: '/lain/other/x', value: 'ignored', modRevision: 5 },
    ],
    9,
  );
  assert.equal(mirror.ready, true);
  assert.equal(mirror.revision, 9);
  assert.equal(mirror.state.revision, 9);
  assert.equal(mirror.stats.snapshotsApplied, 1);
  assert.deepEqual(sets, [
    {
      revision: 9,
      changes: {
        config: { domain: 'put' },
        podgroups: { 'hello/hello.web.web': 'put' },
        containers: { 'node1/hello-1': 'put', '192.168.77.21/hello-1': 'put' },
      },
    },
  ]);
  assert.equal(mirror.state.config.get('domain'), 'lain.local');
  assert.equal(mirror.state.appByIp('172.20.0.32'), 'hello');
});

test('a resync snapshot applies only the difference: changed keys put, vanished keys deleted, the rest untouched', () => {
  const { mirror, sets } = recorded();
  mirror.snapshot(
    [
      { key: '/lain/config/a', value: '1', modRevision: 2 },
      { key: '/lain/config/b', value: '1', modRevision: 3 },
      { key: '/lain/config/c', value: '1', modRevision: 4 },
    ],
    4,
  );
  mirror.snapshot(
    [
      { key: '/lain/config/a', value: '1', modRevision: 2 },
      { key: '/lain/config/b', value: '2', modRevision: 7 },
      { key: '/lain/config/d', value: '1', modRevision: 8 },
    ],
    10,
  );
  assert.deepEqual(sets[1], { revision: 10, changes: { config: { b: 'put', c: 'delete', d: 'put' } } });
  assert.deepEqual([...mirror.state.config.query('*')], [['a', '1'], ['b', '2'], ['d', '1']]);
  assert.equal(mirror.stats.snapshotsApplied, 2);
});

test('events: puts and deletes of one batch make one change set at the batch revision; a put wins over a delete in it', () => {
  const { mirror, sets } = recorded();
  mirror.snapshot([{ key: '/lain/config/a', value: '1', modRevision: 2 }], 2);
  mirror.events(
    [
      { type: 'put', key: '/lain/config/b', value: 'x', modRevision: 3 },
      { type: 'delete', key: '/lain/config/a', value: '', modRevision: 4 },
      { type: 'delete', key: '/lain/config/b', value: '', modRevision: 5 },
      { type: 'put', key: '/lain/config/b', value: 'y', modRevision: 6 },
      { type: 'put', key: '/lain/config/c', value: 'z', modRevision: 7 },
      { type: 'delete', key: '/lain/config/c', value: '', modRevision: 8 },
      { type: 'delete', key: '/lain/config/never', value: '', modRevision: 9 },
      { type: 'put', key: '/lain/unserved/x', value: 'x', modRevision: 10 },
    ],
    10,
  );
  assert.deepEqual(sets[1], { revision: 10, changes: { config: { b: 'put', a: 'delete', c: 'put' } } });
  assert.equal(mirror.revision, 10);
  assert.equal(mirror.state.revision, 10);
  assert.equal(mirror.stats.eventsApplied, 8);
  assert.ok(mirror.stats.lastEventAt !== null && Date.parse(mirror.stats.lastEventAt) > 0);
  assert.deepEqual([...mirror.state.config.query('*')], [['b', 'y']]);
});

test('a malformed value is kept out and listed; the key keeps its last good value; a good value or a delete clears it', () => {
  const { mirror, sets } = recorded();
  mirror.snapshot([{ key: HELLO, value: podGroup('hello', '172.20.0.32'), modRevision: 2 }], 2);
  mirror.events([{ type: 'put', key: HELLO, value: '{"Spec":', modRevision: 3 }], 3);
  assert.deepEqual(sets[1], { revision: 3, changes: {} }, 'nothing changed');
  assert.equal(mirror.state.appByIp('172.20.0.32'), 'hello', 'the last good value stays');
  assert.equal(mirror.stats.rejectedTotal, 1);
  const [rejected] = mirror.rejected;
  assert.equal(rejected.key, HELLO);
  assert.equal(rejected.modRevision, 3);
  assert.match(rejected.reason, /hello\.web\.web/);
  assert.ok(Date.parse(rejected.at) > 0);

  // The same bad value again in a resync is not re-applied (its mod_revision is known)...
  mirror.snapshot([{ key: HELLO, value: '{"Spec":', modRevision: 3 }], 4);
  assert.equal(mirror.stats.rejectedTotal, 1);
  assert.equal(mirror.rejected.length, 1);
  // ...and a good one heals it.
  mirror.events([{ type: 'put', key: HELLO, value: podGroup('hello', '172.20.0.33'), modRevision: 5 }], 5);
  assert.deepEqual(mirror.rejected, []);
  assert.equal(mirror.state.appByIp('172.20.0.33'), 'hello');

  mirror.events([{ type: 'put', key: '/lain/nodes/nodes/n:1:22', value: 'not json', modRevision: 6 }], 6);
  assert.equal(mirror.rejected.length, 1);
  mirror.events([{ type: 'delete', key: '/lain/nodes/nodes/n:1:22', value: '', modRevision: 7 }], 7);
  assert.deepEqual(mirror.rejected, [], 'a deleted key is no longer listed');
});

test('a listener that throws is logged and does not stop the others or the mirror', () => {
  const lines: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
  const mirror = new Mirror(logger);
  let second = 0;
  mirror.onChange(() => {
    throw new Error('listener bug');
  });
  mirror.onChange(() => second++);
  mirror.snapshot([{ key: '/lain/config/a', value: '1', modRevision: 2 }], 2);
  mirror.events([{ type: 'put', key: '/lain/config/a', value: '2', modRevision: 3 }], 3);
  assert.equal(second, 2);
  assert.equal(mirror.revision, 3);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /change listener failed/);
  assert.match(lines[0], /listener bug/);
});
