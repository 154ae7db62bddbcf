// Hostile callers and hostile data (README "Security"), on in-memory state: what the views and
// auth answer to a caller that is no container, a container of no app, and bad etcd data.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appNameOf, isSecretConfigKey, pass } from '../../src/auth/auth.js';
import { checkDepth, decodeNode, ValueTooDeepError } from '../../src/state/decode.js';
import { Mirror } from '../../src/state/mirror.js';
import { StateIndex } from '../../src/state/state-index.js';
import { isUndecodableKey, keyFromBytes, printableKey } from '../../src/store/etcd-key.js';
import { silentLogger } from '../../src/util/log.js';
import { WatchSlots } from '../../src/transports/watch-slots.js';
import { parseFlags } from '../../src/cli/flags.js';
import type { DaemonOptions } from '../../src/daemon/options.js';
import { configWatcher } from '../../src/views/configwatcher.js';
import { ViewHub } from '../../src/views/hub.js';
import type { ChangeSet } from '../../src/state/mirror.js';
import type { Source } from '../../src/state/types.js';
import { findView } from '../../src/views/index.js';
import { ViewError, type NodeContext, type View } from '../../src/views/types.js';

const node: NodeContext = { nodeIp: '192.168.77.21', hostname: 'node1', noAuth: false };
const STRANGER = '10.9.9.9';
const CONSOLE = '172.20.0.12';

function podGroup(app: string, ip: string, namespace = app): string {
  return JSON.stringify({
    Spec: { Name: `${app}.web.web`, Namespace: namespace },
    Pods: [{ InstanceNo: 1, Containers: [{ Id: `${app}-1`, ContainerIp: ip }] }],
  });
}

function sampleState(): StateIndex {
  const state = new StateIndex();
  for (const [k, v] of Object.entries({
    rsyncd_secrets: 'RSYNC-SECRET',
    etcd_cluster_token: 'ETCD-TOKEN',
    ssl: '{"*.lain": "web"}',
    'super_apps/console': '{}',
    vip: '192.168.77.201',
    'vips/192.168.77.201': '{}',
    domain: 'lain.local',
    'domains/console.lain': '{}',
    'streamrouter/vippool': '[]',
  })) {
    state.put(`/lain/config/${k}`, v);
  }
  state.put('/lain/deployd/pod_groups/console/console.web.web', podGroup('console', CONSOLE));
  return state;
}

/** What a caller gets from the config view: the answer's keys, or the error message. */
function configKeys(state: StateIndex, callerIp: string, query: string): string[] | string {
  const params = new URLSearchParams(query);
  try {
    const key = configWatcher.key({ params, callerIp }, state, node);
    return Object.keys(JSON.parse(String(configWatcher.render(key, state, node))) as object);
  } catch (err) {
    if (err instanceof ViewError) return err.message;
    throw err;
  }
}

describe('config secrets', () => {
  const state = sampleState();
  test('a target starting with = is a plain prefix, never the exact key behind the secret check', () => {
    for (const target of ['=rsyncd_secrets', '=etcd_cluster_token', '=ssl', '=super_apps/console']) {
      assert.deepEqual(configKeys(state, STRANGER, `target=${encodeURIComponent(target)}`), [], target);
      assert.deepEqual(configKeys(state, STRANGER, `target=${encodeURIComponent(target)}&watch=1`), [], `${target} watch`);
      assert.deepEqual(configKeys(state, CONSOLE, `target=${encodeURIComponent(target)}&watch=1`), [], `${target} super`);
    }
  });
  test('a shorter prefix does not walk past the secret list', () => {
    assert.deepEqual(configKeys(state, STRANGER, 'target=r'), []);
    assert.deepEqual(configKeys(state, STRANGER, 'target=e'), []);
    assert.deepEqual(configKeys(state, STRANGER, 'target=s'), ['streamrouter/vippool']);
    assert.deepEqual(configKeys(state, STRANGER, 'target=v'), []);
    assert.deepEqual(configKeys(state, STRANGER, 'target=super'), []);
    assert.deepEqual(configKeys(state, STRANGER, 'target=d'), ['domain', 'domains/console.lain']);
  });
  test('super callers read everything, and a watch still follows an existing key', () => {
    assert.deepEqual(configKeys(state, CONSOLE, 'target=s'), ['ssl', 'streamrouter/vippool', 'super_apps/console']);
    assert.deepEqual(configKeys(state, CONSOLE, 'target=rsyncd_secrets&watch=1'), ['rsyncd_secrets']);
    assert.deepEqual(configKeys(state, '127.0.0.1', 'target=e'), ['etcd_cluster_token']);
    assert.equal(configKeys(state, STRANGER, 'target=ssl'), 'authorize failed, super required');
    assert.equal(configKeys(state, STRANGER, ''), 'authorize failed, super required');
  });
  test('the secret key rule is the target rule', () => {
    assert.ok(isSecretConfigKey('vipx') && isSecretConfigKey('super_apps/x') && isSecretConfigKey('rsyncd_secrets'));
    assert.ok(!isSecretConfigKey('domain') && !isSecretConfigKey('streamrouter/vippool'));
  });
});

describe('an empty app name is no app', () => {
  const state = sampleState();
  state.put('/lain/deployd/pod_groups/noname/noname.web.web', podGroup('noname', '172.20.0.61', ''));
  state.put('/lain/deployd/pod_groups/star/star.web.web', podGroup('star', '172.20.0.63', '*'));
  state.put(
    '/lain/deployd/depends/pods/.hidden.portal',
    JSON.stringify({ node1: { hello: { Pod: { Containers: [{ Id: 'x', ContainerIp: '172.20.0.62' }] } } } }),
  );
  state.put('/lain/deployd/pod_groups/hello/hello.web.web', podGroup('hello', '172.20.0.32'));

  for (const [what, ip] of [
    ['a pod group without Spec.Namespace', '172.20.0.61'],
    ['a depends key starting with .', '172.20.0.62'],
  ]) {
    test(`${what}: its IP belongs to no app and reads nothing`, () => {
      assert.equal(appNameOf(ip, state), undefined);
      assert.equal(pass(ip, '*', state, node), false);
      assert.equal(pass(ip, '', state, node), false);
      for (const path of ['/v2/coreinfowatcher', '/v2/proxywatcher', '/v2/webrouter/webprocs', '/v2/streamrouter/streamprocs']) {
        const view = findView(path)!;
        assert.throws(
          () => view.key({ params: new URLSearchParams(), callerIp: ip }, state, node),
          (err: unknown) => err instanceof ViewError && err.message === 'authorize failed, can not confirm the app by request ip',
          path,
        );
      }
    });
  }
  test('an app named * is not every app', () => {
    assert.equal(pass('172.20.0.63', '*', state, node), false);
    const key = findView('/v2/coreinfowatcher')!.key({ params: new URLSearchParams(), callerIp: '172.20.0.63' }, state, node);
    assert.equal(key, '*/');
  });
});

describe('values nested too deep', () => {
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  test('the depth is counted on the text; brackets inside strings do not count', () => {
    assert.doesNotThrow(() => checkDepth(nested(100), 100, 'x'));
    assert.throws(() => checkDepth(nested(101), 100, 'x'), ValueTooDeepError);
    assert.doesNotThrow(() => checkDepth(`{"a":"${'['.repeat(500)}\\"{{{{"}`, 2, 'x'));
    assert.throws(() => checkDepth(`{"a\\\\":[[1]]}`, 2, 'x'), ValueTooDeepError);
  });
  test('a deep value is rejected as too deep, the key keeps nothing, the others are served', () => {
    const state = new StateIndex({ maxValueDepth: 10 });
    const result = state.put('/lain/nodes/nodes/deep:1.1.1.1:22', `{"a":${nested(50)}}`);
    assert.ok('rejected' in result && result.cause === 'too-deep', JSON.stringify(result));
    assert.deepEqual(state.put('/lain/nodes/nodes/ok:1.1.1.2:22', '{"a":[[1]]}'), [{ source: 'nodes', changedKeys: ['ok:1.1.1.2:22'] }]);
    assert.equal(state.nodes.size, 1);
    const pg = state.put('/lain/deployd/pod_groups/a/a.web.web', `{"Spec":{"x":${nested(20)}}}`);
    assert.ok('rejected' in pg && pg.cause === 'too-deep');
  });
  test('the default limit lets real values through and stops the ones that overflow the encoder', () => {
    assert.doesNotThrow(() => decodeNode(`{"a":${nested(90)}}`));
    assert.throws(() => decodeNode(`{"a":${nested(5000)}}`), ValueTooDeepError);
  });
});

describe('rejection reasons hold no value bytes', () => {
  for (const raw of ['{"password":"TOPSECRET', '{"password": TOPSECRET}', 'TOPSECRET', '{"Pods":[{"InstanceNo":13.37}]}']) {
    test(raw, () => {
      const state = new StateIndex();
      const result = state.put('/lain/deployd/pod_groups/a/a.web.web', raw);
      assert.ok('rejected' in result);
      for (const bytes of ['TOPSECRET', 'password', '13.37']) assert.ok(!result.rejected.includes(bytes), result.rejected);
    });
  }
});

describe('etcd keys that are not valid UTF-8', () => {
  const bytes = (...b: number[]) => Buffer.concat([Buffer.from('/lain/config/zzx'), Buffer.from(b)]);
  test('stay apart, and no valid key can take their form', () => {
    const ff = keyFromBytes(bytes(0xff));
    const fe = keyFromBytes(bytes(0xfe));
    assert.notEqual(ff, fe);
    assert.ok(isUndecodableKey(ff) && isUndecodableKey(fe));
    assert.equal(printableKey(ff), '/lain/config/zzx\\xff');
    assert.equal(keyFromBytes(Buffer.from('/lain/config/zzxé')), '/lain/config/zzxé');
    assert.ok(!isUndecodableKey(keyFromBytes(Buffer.from('\\udc00abc'))));
  });
  test('the mirror rejects each and forgets only the one deleted', () => {
    const mirror = new Mirror(silentLogger);
    mirror.snapshot(
      [
        { key: keyFromBytes(bytes(0xff)), value: 'a', modRevision: 2 },
        { key: keyFromBytes(bytes(0xfe)), value: 'b', modRevision: 3 },
      ],
      3,
    );
    assert.deepEqual(mirror.rejected.map((r) => r.key).sort(), ['/lain/config/zzx\\xfe', '/lain/config/zzx\\xff']);
    assert.equal(mirror.state.config.size, 0);
    mirror.events([{ type: 'delete', key: keyFromBytes(bytes(0xfe)), value: '', modRevision: 4 }], 4);
    assert.deepEqual(mirror.rejected.map((r) => r.key), ['/lain/config/zzx\\xff']);
    assert.equal(mirror.stats.rejectedByCause['bad-key'], 2);
  });
});

describe('rights checked again when they change', () => {
  const recorder = () => {
    const r = { failed: [] as Array<[string, number]>, updates: 0, update: () => r.updates++, fail: (m: string, s: number) => r.failed.push([m, s]) };
    return r;
  };
  test('a watch whose caller lost its right is ended with the auth error; the others get the update', () => {
    const state = sampleState();
    state.put('/lain/config/super_apps/hello', '{}');
    state.put('/lain/deployd/pod_groups/hello/hello.web.web', podGroup('hello', '172.20.0.32'));
    const hub = new ViewHub(() => state, node);
    const apps = findView('/v2/appswatcher')!;
    const subscribe = (callerIp: string, view = apps, query = '') => {
      const w = recorder();
      const req = { params: new URLSearchParams(query), callerIp };
      assert.ok(hub.subscribe(view, view.key(req, state, node), w, req).initial.ok);
      return w;
    };
    const hello = subscribe('172.20.0.32');
    const helloConfig = subscribe('172.20.0.32', configWatcher, 'target=d');
    const console = subscribe(CONSOLE);
    const set = (changes: Array<[Source, string]>): ChangeSet => ({
      revision: 9,
      changes: new Map(changes.map(([source, key]) => [source, new Map([[key, 'put' as const]])])),
    });
    state.remove('/lain/config/super_apps/hello');
    state.put('/lain/deployd/pod_groups/new/new.web.web', podGroup('new', '172.20.0.90'));
    hub.apply(set([
      ['config', 'super_apps/hello'],
      ['podgroups', 'new/new.web.web'],
    ]));
    assert.deepEqual(hello.failed, [['authorize failed, super required', 400]]);
    assert.equal(hello.updates, 0, 'the stream that lost its right gets no new state');
    assert.deepEqual(helloConfig.failed, [['authorize failed, the rights of this caller changed', 400]]);
    assert.deepEqual(console.failed, []);
    assert.equal(console.updates, 1);
    assert.equal(hub.stats.rightsRevoked, 2);
  });

  // Which changes make the hub ask again: the super apps list (config super_apps/...), pod groups
  // and depends. Each case below removes hello's super right from the state but announces only
  // one change, so the re-check (or its absence) shows in whether hello's watch is ended.
  for (const [announced, rechecked] of [
    [['config', 'super_apps/hello'], true],
    [['podgroups', 'other/other.web.web'], true],
    [['depends', 'redis.portal.x'], true],
    [['config', 'domain'], false],
    [['config', 'xsuper_apps/hello'], false],
    [['nodes', 'node1:10.0.0.1:22'], false],
  ] as Array<[[Source, string], boolean]>) {
    test(`a change of ${announced.join(' ')} ${rechecked ? 'makes the hub check rights again' : 'leaves rights alone'}`, () => {
      const state = sampleState();
      state.put('/lain/config/super_apps/hello', '{}');
      state.put('/lain/deployd/pod_groups/hello/hello.web.web', podGroup('hello', '172.20.0.32'));
      const hub = new ViewHub(() => state, node);
      const apps = findView('/v2/appswatcher')!;
      const w = recorder();
      const req = { params: new URLSearchParams(), callerIp: '172.20.0.32' };
      assert.ok(hub.subscribe(apps, apps.key(req, state, node), w, req).initial.ok);
      state.remove('/lain/config/super_apps/hello');
      hub.apply({ revision: 9, changes: new Map([[announced[0], new Map([[announced[1], 'put' as const]])]]) });
      assert.equal(w.failed.length, rechecked ? 1 : 0, JSON.stringify(w.failed));
      assert.equal(hub.stats.rightsRevoked, rechecked ? 1 : 0);
    });
  }
});

describe('watch slots', () => {
  const stranger = (ip: string) => ({ ip, local: false, privileged: false });
  test('a source address gets at most its share; local callers are not counted per address', () => {
    const slots = new WatchSlots({ total: 100, perAddress: 3, reserved: 10 });
    const grants = Array.from({ length: 4 }, () => slots.acquire(stranger('10.0.0.1')));
    assert.deepEqual(grants.map((g) => 'release' in g), [true, true, true, false]);
    assert.ok('release' in slots.acquire(stranger('10.0.0.2')));
    for (let i = 0; i < 10; i++) assert.ok('release' in slots.acquire({ ip: '127.0.0.1', local: true, privileged: true }));
    (grants[0] as { release(): void }).release();
    (grants[0] as { release(): void }).release(); // twice is harmless
    assert.ok('release' in slots.acquire(stranger('10.0.0.1')));
    assert.ok('refused' in slots.acquire(stranger('10.0.0.1')));
    assert.equal(slots.stats.refusedPerAddress, 2);
  });
  test('the last slots are kept for local and super callers', () => {
    const slots = new WatchSlots({ total: 10, perAddress: 100, reserved: 3 });
    for (let i = 0; i < 7; i++) assert.ok('release' in slots.acquire(stranger(`10.0.0.${i}`)));
    assert.ok('refused' in slots.acquire(stranger('10.0.1.1')));
    assert.ok('release' in slots.acquire({ ip: '172.20.0.12', local: false, privileged: true }));
    for (let i = 0; i < 2; i++) assert.ok('release' in slots.acquire({ ip: '127.0.0.1', local: true, privileged: true }));
    assert.ok('refused' in slots.acquire({ ip: '127.0.0.1', local: true, privileged: true }));
    assert.deepEqual([slots.stats.refusedReserved, slots.stats.refusedTotal], [1, 1]);
  });
  test('flags', () => {
    const run = (...args: string[]) => {
      const parsed = parseFlags(['-web', ':1', '-etcd', 'x:1', ...args]);
      assert.equal(parsed.kind, 'run');
      return (parsed as { options: DaemonOptions }).options;
    };
    const o = run('-max-watchers-per-ip', '50', '-reserved-watchers', '0', '-max-value-depth', '64');
    assert.deepEqual([o.maxWatchersPerIp, o.reservedWatchers, o.maxValueDepth], [50, 0, 64]);
    assert.throws(() => run('-max-watchers-per-ip', '0'), /whole number/);
    assert.throws(() => run('-reserved-watchers', '-1'));
    assert.equal(new WatchSlots({ total: 300 }).limits.reserved, 30);
  });
});

describe('the answer cache is bounded in bytes', () => {
  const bigView = (): View => ({
    path: '/v2/big',
    sources: ['config'],
    watchable: true,
    key: (req) => req.params.get('k') ?? '*',
    // Every key whose first letter is the same answers the same 100 kB.
    render: (key) => JSON.stringify({ v: key[0].repeat(100_000) }),
  });
  const watcher = () => ({ update() {}, fail() {} });
  const req = (callerIp: string) => ({ params: new URLSearchParams(), callerIp });

  test('equal answers of distinct queries are held once, and so are their encodings', () => {
    const hub = new ViewHub(() => sampleState(), node);
    const view = bigView();
    for (let i = 0; i < 300; i++) {
      const sub = hub.subscribe(view, `a${i}`, watcher(), req(STRANGER));
      assert.ok(sub.initial.ok);
      sub.initEncoded('sse-init', (json) => Buffer.concat([Buffer.from('init '), json]));
    }
    assert.ok(hub.cacheBytes < 250_000, `${hub.cacheBytes} bytes`);
  });
  test('answers nobody watches are forgotten beyond the budget; GETs are still answered', () => {
    const hub = new ViewHub(() => sampleState(), node, undefined, { maxCacheBytes: 350_000 });
    const view = bigView();
    for (const k of 'abcdefgh') assert.ok(hub.get(view, k).ok);
    assert.ok(hub.cacheBytes <= 350_000, `${hub.cacheBytes} bytes`);
    assert.equal(hub.stats.cacheEvictions, 5);
  });
  test('watched answers fill it: strangers are refused a new one, local and super callers are not', () => {
    const hub = new ViewHub(() => sampleState(), node, undefined, { maxCacheBytes: 350_000 });
    const view = bigView();
    const results = [...'abcde'].map((k) => hub.subscribe(view, k, watcher(), req(STRANGER)).initial);
    assert.deepEqual(results.map((a) => (a.ok ? 200 : a.status)), [200, 200, 200, 503, 503]);
    assert.ok(hub.subscribe(view, 'a-again', watcher(), req(STRANGER)).initial.ok, 'an answer already held costs nothing');
    assert.ok(hub.subscribe(view, 'x', watcher(), req(CONSOLE)).initial.ok);
    assert.ok(hub.subscribe(view, 'y', watcher(), req('127.0.0.1')).initial.ok);
    assert.equal(hub.stats.watchesRefusedCacheFull, 2);
  });
  test('flag', () => {
    const parsed = parseFlags(['-web', ':1', '-etcd', 'x:1', '-answer-cache-bytes', '64M']);
    assert.equal((parsed as { options: DaemonOptions }).options.answerCacheBytes, 64 * 2 ** 20);
    assert.throws(() => parseFlags(['-web', ':1', '-etcd', 'x:1', '-answer-cache-bytes', 'lots']), /size like/);
  });
});
