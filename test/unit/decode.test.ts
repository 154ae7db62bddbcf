import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { KeyedCollection } from '../../src/state/collections.js';
import {
  containersOf,
  decodeDepends,
  decodeNode,
  decodePodGroup,
  dependsServiceName,
} from '../../src/state/decode.js';
import { StateIndex } from '../../src/state/state-index.js';

const cluster = JSON.parse(readFileSync(new URL('../fixtures/cluster-small.json', import.meta.url), 'utf8')) as Record<string, string>;
const HELLO_WEB = '/lain/deployd/pod_groups/hello/hello.web.web';
const REDIS_PORTAL = '/lain/deployd/depends/pods/redis-service.portal.portal-redis';

/** A minimal pod group value with one pod of one container. */
function podGroupJson(app: string, proc: string, ip: string, id = `${proc}-c1`): string {
  return JSON.stringify({
    Spec: { Name: proc, Namespace: app, Pod: { Annotation: '{}', Containers: [{ Image: 'img', Env: ['LAIN_APP_RELEASE_VERSION=v1'], Expose: 80 }] } },
    Pods: [{ InstanceNo: 1, Containers: [{ Id: id, NodeName: 'node1', NodeIp: '10.0.0.1', ContainerIp: ip, ContainerPort: 80 }] }],
  });
}

describe('decodePodGroup', () => {
  test('decodes a deployd value', () => {
    const pg = decodePodGroup(cluster[HELLO_WEB]);
    assert.equal(pg.Name, 'hello.web.web');
    assert.equal(pg.Namespace, 'hello');
    assert.equal(pg.Pods?.length, 2);
    assert.equal(pg.Pods?.[0].InstanceNo, 1);
    assert.match(pg.Pods?.[0].Containers?.[0].ContainerIp ?? '', /^172\.20\./);
    assert.ok(pg.Pods?.[0].Containers?.[0].RuntimeEnv?.includes('LAIN_PROCNAME=web'));
    assert.equal(pg.Containers?.[0].Expose, 8080);
  });
  test('missing fields are Go zero values; null lists stay null', () => {
    const pg = decodePodGroup('{"Spec":{"Name":"a.web.web","Pod":{"Containers":[{"Image":"i","Env":null}],"Dependencies":null}},"Pods":[{"Containers":[{}]}]}');
    assert.deepEqual(pg, {
      Name: 'a.web.web',
      Namespace: '',
      Annotation: '',
      Containers: [{ Image: 'i', Env: null, Volumes: null, Command: null, CpuLimit: 0, MemoryLimit: 0, Expose: 0 }],
      Dependencies: null,
      Pods: [{ InstanceNo: 0, Containers: [{ Id: '', NodeName: '', NodeIp: '', ContainerIp: '', ContainerPort: 0, RuntimeEnv: null }] }],
    });
  });
  test('JSON null is the zero pod group, as for Go', () => {
    assert.deepEqual(decodePodGroup('null'), { Name: '', Namespace: '', Annotation: '', Containers: null, Dependencies: null, Pods: null });
  });
  const bad: Array<[string, string, RegExp]> = [
    ['truncated JSON', '{"Spec": {"Name": "x"', /invalid JSON/],
    ['a string where Go has an int', '{"Pods":[{"InstanceNo":"1"}]}', /Pods\.InstanceNo/],
    ['a float where Go has an int', '{"Spec":{"Pod":{"Containers":[{"Expose":80.5}]}}}', /Expose/],
    ['an object where Go has a slice', '{"Pods":{"0":{}}}', /Pods/],
    ['a number where Go has a string', '{"Spec":{"Name":5}}', /Spec\.Name/],
    ['an array where Go has a struct', '[]', /PodGroupWithSpec/],
    ['a string in a string list', '{"Spec":{"Pod":{"Containers":[{"Env":[1]}]}}}', /Env/],
  ];
  for (const [what, raw, message] of bad) {
    test(`rejects ${what}`, () => assert.throws(() => decodePodGroup(raw), message));
  }
  test('a 5 MB value with odd unicode decodes', () => {
    const odd = '\u0000\u2028😀\ud800<>&é'.repeat(500_000);
    const pg = decodePodGroup(JSON.stringify({ Spec: { Name: 'x', Pod: { Annotation: odd } } }));
    assert.equal(pg.Annotation, odd);
  });
});

describe('decodeDepends', () => {
  test('decodes node -> app -> shared pod', () => {
    const entry = decodeDepends(cluster[REDIS_PORTAL]);
    const shared = entry.get('node1')?.get('hello');
    assert.match(shared?.Annotation ?? '', /service_name/);
    assert.equal(shared?.Containers?.length, 1);
    assert.equal(shared?.Containers?.[0].Port, 6379);
  });
  test('null is empty; a wrong type is an error', () => {
    assert.equal(decodeDepends('null').size, 0);
    assert.throws(() => decodeDepends('{"node1":[]}'), /node1/);
    assert.throws(() => decodeDepends('{"node1":{"hello":{"Pod":{"Containers":[{"ContainerPort":"1"}]}}}}'), /ContainerPort/);
  });
});

describe('decodeNode', () => {
  test('an object, with leading spaces', () => {
    assert.deepEqual(decodeNode(' {"ssh_port": "22", "ip": "192.168.77.21"}'), { ssh_port: '22', ip: '192.168.77.21' });
  });
  test('valid JSON that is not an object is null', () => {
    for (const raw of ['null', '[1]', '"x"', '5', 'true']) assert.equal(decodeNode(raw), null, raw);
  });
  test('invalid JSON and numbers beyond float64 are errors', () => {
    assert.throws(() => decodeNode('{"a":'));
    assert.throws(() => decodeNode('{"a":[1e400]}'));
  });
});

describe('containersOf', () => {
  test('each container under its node name and node IP, with the app version', () => {
    const entries = containersOf(decodePodGroup(podGroupJson('app', 'app.web.web', '172.20.0.9', 'cid')));
    const info = { app: 'app', app_version: 'v1', proc: 'app.web.web', nodename: 'node1', nodeip: '10.0.0.1', ip: '172.20.0.9', port: 80, instanceNo: 1 };
    assert.deepEqual(entries, [
      ['node1/cid', info],
      ['10.0.0.1/cid', info],
    ]);
    assert.deepEqual(Object.keys(info), Object.keys(entries[0][1])); // Go field order
  });
  test('an env entry with a second = gives no version, as in Go', () => {
    const pg = decodePodGroup(podGroupJson('a', 'a.w.w', 'ip'));
    pg.Containers = [{ ...pg.Containers![0], Env: ['LAIN_APP_RELEASE_VERSION=a=b'] }];
    assert.equal(containersOf(pg)[0][1].app_version, '');
  });
});

test('dependsServiceName', () => {
  assert.equal(dependsServiceName('redis-service.portal.portal-redis'), 'redis-service');
  assert.equal(dependsServiceName('resource.mysql.hello.portal.portal-mysql'), 'resource.mysql.hello');
  assert.equal(dependsServiceName('plain'), 'plain');
});

describe('KeyedCollection', () => {
  const c = new KeyedCollection<number>();
  for (const [i, k] of ['b/2', 'a/1', 'ab/1', 'b/1', 'a/2'].entries()) c.set(k, i);
  test('entries come out in key order', () => {
    assert.deepEqual([...c.entries()].map(([k]) => k), ['a/1', 'a/2', 'ab/1', 'b/1', 'b/2']);
  });
  test('query: * is all, an exact key is that entry, else a prefix', () => {
    assert.equal(c.query('*').length, 5);
    assert.deepEqual(c.query('a/1'), [['a/1', 1]]);
    assert.deepEqual(c.query('a/').map(([k]) => k), ['a/1', 'a/2']);
    assert.deepEqual(c.query('a').map(([k]) => k), ['a/1', 'a/2', 'ab/1']);
    assert.deepEqual(c.query('zz'), []);
  });
  test('delete keeps the order', () => {
    c.delete('a/2');
    assert.deepEqual([...c.entries()].map(([k]) => k), ['a/1', 'ab/1', 'b/1', 'b/2']);
    assert.equal(c.size, 4);
  });
});

describe('StateIndex', () => {
  test('a pod group update reports every container key before and after, and moves the IP index', () => {
    const s = new StateIndex();
    s.put('/lain/deployd/pod_groups/app/app.web.web', podGroupJson('app', 'app.web.web', '172.20.0.1', 'old'));
    assert.equal(s.appByIp('172.20.0.1'), 'app');
    const changes = s.put('/lain/deployd/pod_groups/app/app.web.web', podGroupJson('app', 'app.web.web', '172.20.0.2', 'new'));
    assert.deepEqual(changes, [
      { source: 'podgroups', changedKeys: ['app/app.web.web'] },
      { source: 'containers', changedKeys: ['node1/old', '10.0.0.1/old', 'node1/new', '10.0.0.1/new'] },
    ]);
    assert.equal(s.appByIp('172.20.0.1'), undefined);
    assert.equal(s.appByIp('172.20.0.2'), 'app');
    assert.deepEqual([...s.containers.entries()].map(([k]) => k), ['10.0.0.1/new', 'node1/new']);
  });
  test('removing a pod group removes its containers and IPs', () => {
    const s = new StateIndex();
    s.put('/lain/deployd/pod_groups/app/app.web.web', podGroupJson('app', 'app.web.web', '172.20.0.1'));
    const changes = s.remove('/lain/deployd/pod_groups/app/app.web.web');
    assert.equal(changes?.[1].changedKeys.length, 2);
    assert.equal(s.containers.size, 0);
    assert.equal(s.podGroups.size, 0);
    assert.equal(s.appByIp('172.20.0.1'), undefined);
    assert.equal(s.remove('/lain/deployd/pod_groups/app/app.web.web'), null);
  });
  test('a bad value is rejected and the last good one kept', () => {
    const s = new StateIndex();
    s.put(HELLO_WEB, cluster[HELLO_WEB]);
    const result = s.put(HELLO_WEB, '{"Spec": not json');
    assert.ok('rejected' in result && result.rejected.includes(HELLO_WEB));
    assert.equal(s.podGroups.get('hello/hello.web.web')?.Name, 'hello.web.web');
  });
  test('depends index: IP -> services, updated and removed', () => {
    const s = new StateIndex();
    s.put(REDIS_PORTAL, cluster[REDIS_PORTAL]);
    const ip = decodeDepends(cluster[REDIS_PORTAL]).get('node1')?.get('hello')?.Containers?.[0].IP ?? '';
    assert.deepEqual(s.servicesByIp(ip), ['redis-service']);
    s.remove(REDIS_PORTAL);
    assert.deepEqual(s.servicesByIp(ip), []);
  });
  test('config, nodes and super apps; keys lainlet does not serve change nothing', () => {
    const s = new StateIndex();
    s.put('/lain/config/super_apps/console', ' {}');
    assert.ok(s.isSuperApp('console'));
    assert.ok(!s.isSuperApp('con'));
    s.put('/lain/nodes/nodes/n1:1.2.3.4:22', '{"a":1}');
    s.put('/lain/nodes/nodes/n1:1.2.3.4:22', '[1]');
    assert.equal(s.nodes.size, 0);
    assert.deepEqual(s.put('/lain/deployd/depends/specs/x', '{}'), []);
    assert.equal(s.remove('/lain/other'), null);
  });
});
