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
import { buildState } from '../../src/state/snapshot-state.js';

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

describe('decode errors name the Go type and the full path (they are shown in /debug rejected)', () => {
  const podGroupCases: Array<[string, string]> = [
    ['[]', 'cannot unmarshal array into PodGroupWithSpec of Go type struct'],
    ['{"Spec":1}', 'cannot unmarshal number into Spec of Go type struct'],
    ['{"Spec":{"Pod":"x"}}', 'cannot unmarshal string into Spec.Pod of Go type struct'],
    ['{"Spec":{"Name":true}}', 'cannot unmarshal boolean into Spec.Name of Go type string'],
    ['{"Spec":{"Namespace":{}}}', 'cannot unmarshal object into Spec.Namespace of Go type string'],
    ['{"Spec":{"Pod":{"Annotation":1}}}', 'cannot unmarshal number into Spec.Pod.Annotation of Go type string'],
    ['{"Spec":{"Pod":{"Containers":{}}}}', 'cannot unmarshal object into Spec.Pod.Containers of Go type slice'],
    ['{"Spec":{"Pod":{"Containers":[1]}}}', 'cannot unmarshal number into Spec.Pod.Containers of Go type struct'],
    ['{"Spec":{"Pod":{"Containers":[{"Image":1}]}}}', 'cannot unmarshal number into Spec.Pod.Containers.Image of Go type string'],
    ['{"Spec":{"Pod":{"Containers":[{"Env":"x"}]}}}', 'cannot unmarshal string into Spec.Pod.Containers.Env of Go type slice'],
    ['{"Spec":{"Pod":{"Containers":[{"Volumes":{}}]}}}', 'cannot unmarshal object into Spec.Pod.Containers.Volumes of Go type slice'],
    ['{"Spec":{"Pod":{"Containers":[{"Command":1}]}}}', 'cannot unmarshal number into Spec.Pod.Containers.Command of Go type slice'],
    ['{"Spec":{"Pod":{"Containers":[{"CpuLimit":"1"}]}}}', 'cannot unmarshal string into Spec.Pod.Containers.CpuLimit of Go type int'],
    ['{"Spec":{"Pod":{"Containers":[{"MemoryLimit":true}]}}}', 'cannot unmarshal boolean into Spec.Pod.Containers.MemoryLimit of Go type int'],
    ['{"Spec":{"Pod":{"Containers":[{"Expose":[]}]}}}', 'cannot unmarshal array into Spec.Pod.Containers.Expose of Go type int'],
    // The number itself stays out of the message: /debug is public and a value may be a secret.
    ['{"Spec":{"Pod":{"Containers":[{"Expose":80.5}]}}}', 'cannot unmarshal a number that is not an int64 into Spec.Pod.Containers.Expose of Go type int'],
    [`{"Spec":{"Pod":{"Containers":[{"Expose":${2 ** 63}}]}}}`, 'cannot unmarshal a number that is not an int64 into Spec.Pod.Containers.Expose of Go type int'],
    ['{"Spec":{"Pod":{"Dependencies":"x"}}}', 'cannot unmarshal string into Spec.Pod.Dependencies of Go type slice'],
    ['{"Spec":{"Pod":{"Dependencies":[{"PodName":1}]}}}', 'cannot unmarshal number into Spec.Pod.Dependencies.PodName of Go type string'],
    ['{"Spec":{"Pod":{"Dependencies":[{"Policy":"0"}]}}}', 'cannot unmarshal string into Spec.Pod.Dependencies.Policy of Go type int'],
    ['{"Pods":{}}', 'cannot unmarshal object into Pods of Go type slice'],
    ['{"Pods":[{"InstanceNo":"1"}]}', 'cannot unmarshal string into Pods.InstanceNo of Go type int'],
    ['{"Pods":[{"Containers":1}]}', 'cannot unmarshal number into Pods.Containers of Go type slice'],
    ['{"Pods":[{"Containers":[{"Id":1}]}]}', 'cannot unmarshal number into Pods.Containers.Id of Go type string'],
    ['{"Pods":[{"Containers":[{"NodeName":1}]}]}', 'cannot unmarshal number into Pods.Containers.NodeName of Go type string'],
    ['{"Pods":[{"Containers":[{"NodeIp":1}]}]}', 'cannot unmarshal number into Pods.Containers.NodeIp of Go type string'],
    ['{"Pods":[{"Containers":[{"ContainerIp":1}]}]}', 'cannot unmarshal number into Pods.Containers.ContainerIp of Go type string'],
    ['{"Pods":[{"Containers":[{"ContainerPort":"80"}]}]}', 'cannot unmarshal string into Pods.Containers.ContainerPort of Go type int'],
    ['{"Pods":[{"Containers":[{"Runtime":1}]}]}', 'cannot unmarshal number into Pods.Containers.Runtime of Go type struct'],
    ['{"Pods":[{"Containers":[{"Runtime":{"Config":[]}}]}]}', 'cannot unmarshal array into Pods.Containers.Runtime.Config of Go type struct'],
    ['{"Pods":[{"Containers":[{"Runtime":{"Config":{"Env":1}}}]}]}', 'cannot unmarshal number into Pods.Containers.Runtime.Config.Env of Go type slice'],
  ];
  for (const [raw, message] of podGroupCases) test(`pod group ${raw.slice(0, 60)}`, () => assert.throws(() => decodePodGroup(raw), { message }));

  const dependsCases: Array<[string, string]> = [
    ['[]', 'cannot unmarshal array into Depends of Go type struct'],
    ['{"n":1}', 'cannot unmarshal number into [n] of Go type struct'],
    ['{"n":{"a":"x"}}', 'cannot unmarshal string into [n][a] of Go type struct'],
    ['{"n":{"a":{"Spec":1}}}', 'cannot unmarshal number into [n][a].Spec of Go type struct'],
    ['{"n":{"a":{"Pod":1}}}', 'cannot unmarshal number into [n][a].Pod of Go type struct'],
    ['{"n":{"a":{"Spec":{"Annotation":1}}}}', 'cannot unmarshal number into [n][a].Spec.Annotation of Go type string'],
    ['{"n":{"a":{"Pod":{"Containers":{}}}}}', 'cannot unmarshal object into [n][a].Pod.Containers of Go type slice'],
    ['{"n":{"a":{"Pod":{"Containers":[{"Id":1}]}}}}', 'cannot unmarshal number into [n][a].Pod.Containers.Id of Go type string'],
  ];
  for (const [raw, message] of dependsCases) test(`depends ${raw}`, () => assert.throws(() => decodeDepends(raw), { message }));

  test('invalid JSON says which kind of value and where, never the parser text (it quotes the value)', () => {
    for (const [decode, what] of [
      [decodePodGroup, 'pod group'],
      [decodeDepends, 'depends'],
      [decodeNode, 'node'],
    ] as const) {
      assert.throws(() => decode('{"a":'), (err: Error) => err.message === `${what}: invalid JSON: unexpected end` && err.cause === undefined);
      assert.throws(() => decode('{"secret-ish": x}'), (err: Error) => err.message.startsWith(`${what}: invalid JSON`) && !err.message.includes('secret-ish') && !err.message.includes('x'));
    }
  });
  test('a node number beyond float64', () => assert.throws(() => decodeNode('{"a":{"b":[1e400]}}'), { message: 'node: number out of float64 range' }));
});

describe('decode zero values and limits', () => {
  test('null fields of every kind are Go zero values', () => {
    const pg = decodePodGroup(
      '{"Spec":{"Name":null,"Namespace":null,"Pod":{"Annotation":null,"Containers":[{"Image":null,"CpuLimit":null,"Env":null}],"Dependencies":[{"PodName":null,"Policy":null}]}},"Pods":[{"InstanceNo":null,"Containers":null}]}',
    );
    assert.deepEqual(pg, {
      Name: '',
      Namespace: '',
      Annotation: '',
      Containers: [{ Image: '', Env: null, Volumes: null, Command: null, CpuLimit: 0, MemoryLimit: 0, Expose: 0 }],
      Dependencies: [{ PodName: '', Policy: 0 }],
      Pods: [{ InstanceNo: 0, Containers: null }],
    });
    assert.deepEqual(containersOf(pg), [], 'a pod without containers has none');
    assert.deepEqual(containersOf(decodePodGroup('{"Spec":{"Pod":{"Containers":[]}}}')), [], 'no pods, no spec containers: no containers, no version');
  });
  test('ints: the largest double below 2^63 is accepted, 2^63 is not; -0 is 0', () => {
    const expose = (n: string) => decodePodGroup(`{"Spec":{"Pod":{"Containers":[{"Expose":${n}}]}}}`).Containers![0].Expose;
    assert.equal(expose('9223372036854774784'), 9223372036854774784);
    assert.throws(() => expose('9223372036854775808'));
    assert.equal(Object.is(expose('-0'), 0), true);
  });
  test('a node value with nulls and nested objects decodes', () => {
    assert.deepEqual(decodeNode('{"a":null,"b":{"c":[1,null]}}'), { a: null, b: { c: [1, null] } });
  });
  test('depends: the version-less, container-less shapes', () => {
    const entry = decodeDepends('{"n":{"a":{}}}');
    assert.deepEqual(entry.get('n')?.get('a'), { Annotation: '', Containers: null });
  });
});

describe('StateIndex edge cases', () => {
  const internals = (s: StateIndex) => s as unknown as { appsByIp: Map<string, unknown>; dependsByIp: Map<string, unknown>; containerOwner: Map<string, string> };
  const dependsValue = (ip: string) => JSON.stringify({ node1: { hello: { Pod: { Containers: [{ Id: 'p', ContainerIp: ip }] } } } });

  test('an etcd key that is only a source prefix is not served', () => {
    const s = new StateIndex();
    assert.deepEqual(s.put('/lain/config/', 'x'), []);
    assert.equal(s.config.size, 0);
  });
  test('the empty app is never super, even with a super_apps/ key', () => {
    const s = new StateIndex();
    s.put('/lain/config/super_apps/', '{}');
    assert.equal(s.isSuperApp(''), false);
  });
  test('config, depends and nodes changes name their key, for puts and removals', () => {
    const s = new StateIndex();
    assert.deepEqual(s.put('/lain/config/a', '1'), [{ source: 'config', changedKeys: ['a'] }]);
    assert.deepEqual(s.put('/lain/deployd/depends/pods/svc.portal.p', dependsValue('172.20.0.50')), [{ source: 'depends', changedKeys: ['svc.portal.p'] }]);
    assert.deepEqual(s.put('/lain/nodes/nodes/n:1:22', '{"a":1}'), [{ source: 'nodes', changedKeys: ['n:1:22'] }]);
    assert.deepEqual(s.remove('/lain/config/a'), [{ source: 'config', changedKeys: ['a'] }]);
    assert.deepEqual(s.remove('/lain/deployd/depends/pods/svc.portal.p'), [{ source: 'depends', changedKeys: ['svc.portal.p'] }]);
    assert.deepEqual(s.remove('/lain/nodes/nodes/n:1:22'), [{ source: 'nodes', changedKeys: ['n:1:22'] }]);
    for (const key of ['/lain/config/a', '/lain/deployd/depends/pods/svc.portal.p', '/lain/nodes/nodes/n:1:22']) assert.equal(s.remove(key), null, `${key} is gone`);
  });
  test('services of an IP come sorted by depends key, whatever the write order', () => {
    const s = new StateIndex();
    s.put('/lain/deployd/depends/pods/zeta.portal.p', dependsValue('172.20.0.51'));
    s.put('/lain/deployd/depends/pods/alpha.portal.p', dependsValue('172.20.0.51'));
    assert.deepEqual(s.servicesByIp('172.20.0.51'), ['alpha', 'zeta']);
    s.remove('/lain/deployd/depends/pods/alpha.portal.p');
    assert.deepEqual(s.servicesByIp('172.20.0.51'), ['zeta'], 'the other depends entry still lists it');
  });
  test('an IP claimed by two pod groups: the latest wins, and the other is back when it goes', () => {
    const s = new StateIndex();
    s.put('/lain/deployd/pod_groups/a/a.web.web', podGroupJson('a', 'a.web.web', '172.20.0.60', 'ca'));
    s.put('/lain/deployd/pod_groups/b/b.web.web', podGroupJson('b', 'b.web.web', '172.20.0.60', 'cb'));
    assert.equal(s.appByIp('172.20.0.60'), 'b');
    s.remove('/lain/deployd/pod_groups/b/b.web.web');
    assert.equal(s.appByIp('172.20.0.60'), 'a');
  });
  test('a container key claimed by two pod groups stays while its last writer keeps it', () => {
    const s = new StateIndex();
    s.put('/lain/deployd/pod_groups/a/a.web.web', podGroupJson('a', 'a.web.web', '172.20.0.61', 'shared'));
    s.put('/lain/deployd/pod_groups/b/b.web.web', podGroupJson('b', 'b.web.web', '172.20.0.62', 'shared'));
    // a drops the container; b wrote it last, so it stays (as b's).
    s.put('/lain/deployd/pod_groups/a/a.web.web', podGroupJson('a', 'a.web.web', '172.20.0.61', 'other'));
    assert.equal(s.containers.get('node1/shared')?.app, 'b');
  });
  test('empty container IPs are not indexed; one IP twice in a pod group is removed cleanly', () => {
    const s = new StateIndex();
    s.put('/lain/deployd/pod_groups/e/e.web.web', podGroupJson('e', 'e.web.web', ''));
    assert.equal(s.appByIp(''), undefined);
    const twice = JSON.stringify({
      Spec: { Name: 't.web.web', Namespace: 't' },
      Pods: [{ InstanceNo: 1, Containers: [{ Id: 'x', ContainerIp: '172.20.0.63' }, { Id: 'y', ContainerIp: '172.20.0.63' }] }],
    });
    s.put('/lain/deployd/pod_groups/t/t.web.web', twice);
    assert.equal(s.appByIp('172.20.0.63'), 't');
    assert.ok(s.remove('/lain/deployd/pod_groups/t/t.web.web'));
    assert.equal(s.appByIp('172.20.0.63'), undefined);
  });
  test('a depends entry listing one IP twice is removed cleanly', () => {
    const s = new StateIndex();
    const twice = JSON.stringify({
      node1: { hello: { Pod: { Containers: [{ Id: 'p', ContainerIp: '172.20.0.70' }] } }, web: { Pod: { Containers: [{ Id: 'q', ContainerIp: '172.20.0.70' }] } } },
    });
    s.put('/lain/deployd/depends/pods/svc.portal.p', twice);
    assert.deepEqual(s.servicesByIp('172.20.0.70'), ['svc']);
    assert.ok(s.remove('/lain/deployd/depends/pods/svc.portal.p'));
    assert.deepEqual(s.servicesByIp('172.20.0.70'), []);
  });
  test('depends with an empty container IP index nothing', () => {
    const s = new StateIndex();
    s.put('/lain/deployd/depends/pods/svc.portal.p', dependsValue(''));
    assert.deepEqual(s.servicesByIp(''), []);
  });
  test('pods and depends without containers index no IP', () => {
    const s = new StateIndex();
    s.put('/lain/deployd/pod_groups/n/n.web.web', '{"Spec":{"Name":"n.web.web","Namespace":"n"},"Pods":[{"InstanceNo":1,"Containers":null}]}');
    s.put('/lain/deployd/depends/pods/svc.portal.p', '{"node1":{"hello":{"Pod":{"Containers":null}}}}');
    assert.equal(internals(s).appsByIp.size, 0);
    assert.equal(internals(s).dependsByIp.size, 0);
  });
  test('removing everything leaves no index entries behind (no leak over a long run)', () => {
    const s = new StateIndex();
    for (let i = 0; i < 3; i++) {
      s.put(`/lain/deployd/pod_groups/a${i}/a${i}.web.web`, podGroupJson(`a${i}`, `a${i}.web.web`, `172.20.1.${i}`, `c${i}`));
      s.put(`/lain/deployd/depends/pods/s${i}.portal.p`, dependsValue(`172.20.2.${i}`));
    }
    for (let i = 0; i < 3; i++) {
      s.remove(`/lain/deployd/pod_groups/a${i}/a${i}.web.web`);
      s.remove(`/lain/deployd/depends/pods/s${i}.portal.p`);
    }
    const x = internals(s);
    assert.equal(x.appsByIp.size, 0);
    assert.equal(x.dependsByIp.size, 0);
    assert.equal(x.containerOwner.size, 0);
    assert.equal(s.containers.size, 0);
  });
});

test('buildState: a whole snapshot, its revision, and the values it had to leave out', () => {
  const { state, rejected } = buildState(
    new Map([
      ['/lain/config/a', '1'],
      [HELLO_WEB, '{"Spec":'],
      ['/lain/other', 'x'],
    ]),
    42,
  );
  assert.equal(state.revision, 42);
  assert.equal(state.config.get('a'), '1');
  assert.equal(state.podGroups.size, 0);
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0].etcdKey, HELLO_WEB);
  assert.match(rejected[0].reason, /invalid JSON/);
});
