import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appNameOf, isLocal, isSecretConfigTarget, isSuper, pass, requireSuper } from '../../src/auth/auth.js';
import { StateIndex } from '../../src/state/state-index.js';
import { ViewError, type NodeContext } from '../../src/views/types.js';

function podGroup(app: string, ip: string): string {
  return JSON.stringify({
    Spec: { Name: `${app}.web.web`, Namespace: app },
    Pods: [{ InstanceNo: 1, Containers: [{ Id: `${app}-1`, ContainerIp: ip }] }],
  });
}

// console (super) at .12, hello at .32, a redis-service portal serving hello at .38.
const state = new StateIndex();
state.put('/lain/config/super_apps/console', ' {}');
state.put('/lain/deployd/pod_groups/console/console.web.web', podGroup('console', '172.20.0.12'));
state.put('/lain/deployd/pod_groups/con/con.web.web', podGroup('con', '172.20.0.13'));
state.put('/lain/deployd/pod_groups/hello/hello.web.web', podGroup('hello', '172.20.0.32'));
state.put(
  '/lain/deployd/depends/pods/redis-service.portal.portal-redis',
  JSON.stringify({ node1: { hello: { Spec: { Annotation: '{}' }, Pod: { Containers: [{ Id: 'p', ContainerIp: '172.20.0.38' }] } } } }),
);
// hello's own container also talks to its service through the portal IP list of a second portal.
state.put(
  '/lain/deployd/depends/pods/resource.mysql.hello.portal.portal-mysql',
  JSON.stringify({ node1: { hello: { Pod: { Containers: [{ Id: 'q', ContainerIp: '172.20.0.32' }] } } } }),
);

// A portal of the super app console's service at .39: known only from depends.
state.put(
  '/lain/deployd/depends/pods/console.portal.portal-admin',
  JSON.stringify({ node1: { hello: { Pod: { Containers: [{ Id: 'r', ContainerIp: '172.20.0.39' }] } } } }),
);

const node: NodeContext = { nodeIp: '192.168.77.21', hostname: 'node1', noAuth: false };

describe('local callers', () => {
  test('loopback and the -ip address are local', () => {
    for (const ip of ['127.0.0.1', '::1', '192.168.77.21']) assert.ok(isLocal(ip, node), ip);
    assert.ok(!isLocal('127.0.0.2', node));
  });
  test('local callers are super and pass everything', () => {
    assert.ok(isSuper('::1', state, node));
    assert.ok(pass('127.0.0.1', 'anything', state, node));
  });
});

describe('isSuper', () => {
  test('containers of a super app', () => assert.ok(isSuper('172.20.0.12', state, node)));
  test('super apps are matched exactly: con is not console', () => assert.ok(!isSuper('172.20.0.13', state, node)));
  test('an IP known only from depends is never super', () => assert.ok(!isSuper('172.20.0.38', state, node)));
  test('isSuper looks at pod groups only: a portal IP of a super service is not super', () => {
    assert.equal(appNameOf('172.20.0.39', state), 'console', 'the depends entry names the super app');
    assert.ok(!isSuper('172.20.0.39', state, node));
  });
  test('-noauth makes everyone super', () => assert.ok(isSuper('10.9.9.9', state, { ...node, noAuth: true })));
  test('requireSuper throws the Go message', () => {
    assert.throws(
      () => requireSuper('172.20.0.32', state, node),
      (err: unknown) => err instanceof ViewError && err.status === 400 && err.message === 'authorize failed, super required',
    );
  });
});

describe('pass', () => {
  test('an app may read itself', () => assert.ok(pass('172.20.0.32', 'hello', state, node)));
  test('a super app may read anything, * included', () => assert.ok(pass('172.20.0.12', '*', state, node)));
  test('a client may read the services it depends on', () => assert.ok(pass('172.20.0.32', 'resource.mysql.hello', state, node)));
  test('a portal IP counts as its service', () => assert.ok(pass('172.20.0.38', 'redis-service', state, node)));
  test('other apps are refused', () => {
    assert.ok(!pass('172.20.0.32', 'console', state, node));
    assert.ok(!pass('172.20.0.32', '*', state, node));
    assert.ok(!pass('172.20.0.38', 'hello', state, node));
  });
  test('app names are matched exactly: con may not read console, hello may not read hell', () => {
    assert.ok(!pass('172.20.0.13', 'console', state, node));
    assert.ok(!pass('172.20.0.32', 'hell', state, node));
    assert.ok(!pass('172.20.0.32', 'hello2', state, node));
  });
  test('depended services are matched exactly, not by prefix', () => {
    assert.ok(!pass('172.20.0.32', 'resource.mysql', state, node));
    assert.ok(!pass('172.20.0.32', 'resource.mysql.hello.x', state, node));
  });
  test('an unknown caller never counts as an app, even when a super app is named "undefined"', () => {
    const odd = new StateIndex();
    odd.put('/lain/config/super_apps/undefined', '{}');
    assert.ok(!isSuper('10.9.9.9', odd, node));
    assert.ok(!pass('10.9.9.9', 'hello', odd, node));
  });
  test('unknown callers are refused unless -noauth', () => {
    assert.ok(!pass('10.9.9.9', 'hello', state, node));
    assert.ok(pass('10.9.9.9', 'hello', state, { ...node, noAuth: true }));
  });
});

test('appNameOf: pod group first, then the first depends service', () => {
  assert.equal(appNameOf('172.20.0.32', state), 'hello');
  assert.equal(appNameOf('172.20.0.38', state), 'redis-service');
  assert.equal(appNameOf('10.9.9.9', state), undefined);
});

test('config secrets are matched by prefix', () => {
  for (const t of ['*', 'vips/1.2.3.4', 'vip', 'ssl', 'super_apps/console', 'dns_ip']) assert.ok(isSecretConfigTarget(t), t);
  for (const t of ['domain', 'domains/', 'features', 'auth/console']) assert.ok(!isSecretConfigTarget(t), t);
});

describe('edge cases a mutation run found untested', () => {
  test('an IP listed first under a depends key with an empty service name gets the next, non-empty service', () => {
    const s = new StateIndex();
    const portal = (ip: string) => JSON.stringify({ node1: { hello: { Pod: { Containers: [{ Id: ip, ContainerIp: ip }] } } } });
    // `.x.y` names the service '' (no app); `redis.portal.y` names redis. Keys are walked in order.
    s.put('/lain/deployd/depends/pods/.x.y', portal('172.20.9.1'));
    s.put('/lain/deployd/depends/pods/redis.portal.y', portal('172.20.9.1'));
    assert.equal(appNameOf('172.20.9.1', s), 'redis');
  });
  test('a config target needs super when it STARTS with `*`, not when it ends with one', () => {
    assert.ok(isSecretConfigTarget('*'));
    assert.ok(isSecretConfigTarget('*x'));
    assert.ok(!isSecretConfigTarget('features*'));
  });
});
