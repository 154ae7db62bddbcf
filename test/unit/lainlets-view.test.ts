// /v2/lainlets over the state index: instance keys decode into the lainlets source (and nowhere
// else), each entry's lag is measured against the newest revision any instance reported, and a
// bad instance value is rejected like any other bad value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateIndex } from '../../src/state/state-index.js';
import { Mirror } from '../../src/state/mirror.js';
import { lainletsView } from '../../src/views/lainlets.js';
import { ViewError, type NodeContext } from '../../src/views/types.js';
import { silentLogger } from '../../src/util/log.js';

const node: NodeContext = { nodeIp: '10.0.0.1', hostname: 'n1', noAuth: false };
const instance = (hostname: string, revision: number) =>
  JSON.stringify({ hostname, version: '3.0.0', ip: '10.0.0.1', web: ':9001', grpc: '', startedAt: '2026-11-29T09:00:00.000Z', revision });

function render(state: StateIndex, params = ''): unknown {
  const req = { params: new URLSearchParams(params), callerIp: '127.0.0.1' };
  return JSON.parse(lainletsView.render(lainletsView.key(req, state, node), state, node) as string);
}

test('each live lainlet with how many revisions it lags behind the newest one reported', () => {
  const state = new StateIndex();
  assert.deepEqual(state.put('/lain/lainlet/instances/n1', instance('n1', 120)), [{ source: 'lainlets', changedKeys: ['n1'] }]);
  state.put('/lain/lainlet/instances/n2', instance('n2', 97));
  const answer = render(state) as Record<string, { lag: number; revision: number }>;
  assert.deepEqual(Object.keys(answer), ['n1', 'n2']);
  assert.equal(answer.n1.lag, 0);
  assert.equal(answer.n2.lag, 23);
  assert.deepEqual(Object.keys(render(state, 'hostname=n2') as object), ['n2']);
  assert.deepEqual(state.remove('/lain/lainlet/instances/n2'), [{ source: 'lainlets', changedKeys: ['n2'] }]);
  assert.deepEqual(Object.keys(render(state) as object), ['n1']);
});

test('a malformed instance value is rejected, not listed', () => {
  const state = new StateIndex();
  assert.match((state.put('/lain/lainlet/instances/bad', '{"hostname":"bad"}') as { rejected: string }).rejected, /lainlet instance: version/);
  assert.deepEqual(render(state), {});
});

test('only local and super callers may list lainlets', () => {
  const state = new StateIndex();
  assert.throws(() => lainletsView.key({ params: new URLSearchParams(), callerIp: '172.20.0.9' }, state, node), ViewError);
});

test("the registry's own writes do not move the data revision", () => {
  const mirror = new Mirror(silentLogger);
  mirror.snapshot([{ key: '/lain/config/a', value: 'x', modRevision: 5 }, { key: '/lain/lainlet/instances/n1', value: instance('n1', 5), modRevision: 9 }], 9);
  assert.equal(mirror.state.dataRevision, 5);
  mirror.events([{ type: 'put', key: '/lain/lainlet/instances/n2', value: instance('n2', 5), modRevision: 10 }], 10);
  assert.equal(mirror.state.dataRevision, 5);
  mirror.events([{ type: 'delete', key: '/lain/config/a', value: '', modRevision: 11 }], 11);
  assert.equal(mirror.state.dataRevision, 11);
});
