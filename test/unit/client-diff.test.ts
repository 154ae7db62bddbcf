// What `lainlet watch` says changed between two answers; the JSON indenter of `lainlet get`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeAnswer, diffAnswers, formatSummary, jsonDifferences } from '../../src/client/diff.js';
import { indentJson } from '../../src/cli/pretty.js';

test('objects: top-level keys added, removed, changed', () => {
  const prev = { a: { x: 1 }, b: 2, c: [1] };
  const next = { a: { x: 2 }, c: [1], d: null };
  assert.deepEqual(diffAnswers(prev, next), { added: ['d'], removed: ['b'], changed: ['a'] });
  assert.equal(formatSummary(diffAnswers(prev, next)), '+1 -1 ~1 added: d; removed: b; changed: a');
  assert.equal(formatSummary(diffAnswers(prev, prev)), 'no change');
});

test('lists: elements added and removed, as multisets', () => {
  assert.deepEqual(diffAnswers([80, 443, 443], [443, 8080]), { added: ['8080'], removed: ['80', '443'], changed: [] });
  assert.deepEqual(diffAnswers(['hello/web'], ['hello/web', 'a/b']), { added: ['a/b'], removed: [], changed: [] });
});

test('other shapes: a changed value', () => {
  assert.deepEqual(diffAnswers({ a: 1 }, [1]), { added: [], removed: [], changed: ['(value)'] });
});

test('long lists are cut', () => {
  const next = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, i]));
  assert.equal(formatSummary(diffAnswers({}, next)), '+8 -0 ~0 added: k0, k1, k2, k3, k4 (+3 more)');
});

test('describeAnswer', () => {
  assert.equal(describeAnswer({ a: 1 }), '1 key');
  assert.equal(describeAnswer([1, 2]), '2 items');
  assert.equal(describeAnswer({}), '0 keys');
});

test('indentJson keeps key order and number spelling, and parses back the same', () => {
  const text = '{"b":{"ssh_port":1e+06,"x":[]},"a":[1,{"k":"v,:{}[]\\"\\\\"}],"e":{}}';
  const pretty = indentJson(text);
  assert.equal(
    pretty,
    '{\n  "b": {\n    "ssh_port": 1e+06,\n    "x": []\n  },\n  "a": [\n    1,\n    {\n      "k": "v,:{}[]\\"\\\\"\n    }\n  ],\n  "e": {}\n}',
  );
  assert.deepEqual(JSON.parse(pretty), JSON.parse(text));
  assert.equal(indentJson('[]'), '[]');
  assert.equal(indentJson('"x"'), '"x"');
});

test('lainlet diff: differences by JSON path, whatever the key order', () => {
  const a = { 'hello.web.web': { PodInfos: [{ InstanceNo: 1, Annotation: '' }] }, b: [1, 2] };
  const b = { b: [1, 3, 4], 'hello.web.web': { PodInfos: [{ Annotation: '', InstanceNo: 2 }] }, c: null };
  assert.deepEqual(jsonDifferences(a, b), [
    { path: '$["hello.web.web"].PodInfos[0].InstanceNo', a: '1', b: '2' },
    { path: '$.b[1]', a: '2', b: '3' },
    { path: '$.b[2]', a: undefined, b: '4' },
    { path: '$.c', a: undefined, b: 'null' },
  ]);
  assert.deepEqual(jsonDifferences({ x: { y: 1 } }, { x: { y: 1 } }), []);
  assert.deepEqual(jsonDifferences({ x: 1 }, [1]), [{ path: '$', a: '{"x":1}', b: '[1]' }]);
});

test('lainlet diff: a list in Go map order compares as a multiset', () => {
  const a = [{ proc: [1] }, { proc: [2] }, { proc: [2] }];
  assert.deepEqual(jsonDifferences(a, [{ proc: [2] }, { proc: [1] }, { proc: [2] }], { unorderedTopLevel: true }), []);
  assert.deepEqual(jsonDifferences(a, [{ proc: [2] }, { proc: [1] }, { proc: [3] }], { unorderedTopLevel: true }), [
    { path: '$[*]', a: '{"proc":[2]}', b: undefined },
    { path: '$[*]', a: undefined, b: '{"proc":[3]}' },
  ]);
  // Ordered, the same lists differ element by element.
  assert.equal(jsonDifferences(['x', 'y'], ['y', 'x']).length, 2);
  assert.equal(jsonDifferences(Array.from({ length: 50 }, (_, i) => i), [], { limit: 3 }).length, 3);
});

test('lainlet diff: the queries made from the names A lists', async () => {
  const { queriesFor } = await import('../../src/client/switch-check.js');
  const qs = queriesFor({ apps: ['hello'], nodes: [{ name: 'node1', ip: '10.0.0.1' }], config: ['domain'], depends: ['redis.portal.x'], appIps: ['172.20.0.3'], unavailable: [] }).map((q) => q.pathQuery);
  // Every route with its defaults first, each query once.
  assert.equal(qs[0], '/v2/configwatcher');
  assert.equal(new Set(qs).size, qs.length);
  for (const q of [
    '/v2/procwatcher?appname=hello',
    '/v2/backupspec?appname=hello',
    '/v2/nodes?name=node1',
    '/v2/containers?nodename=node1',
    '/v2/containers?nodename=10.0.0.1',
    '/v2/localspecquery?nodeip=10.0.0.1',
    '/v2/configwatcher?target=domain',
    '/v2/depends?target=redis.portal.x',
    '/appname?ip=172.20.0.3',
  ]) {
    assert.ok(qs.includes(q), q);
  }
  // The instance registry differs per process by design: never compared.
  assert.ok(!qs.some((q) => q.startsWith('/v2/lainlets')), 'no /v2/lainlets query');
  assert.equal(qs.length, 15 + 8 + 4 + 1 + 1 + 1);
});

test('lainlet diff: the table per route and the difference lines', async () => {
  const { routeTable, differenceLines } = await import('../../src/cli/diff.js');
  const { ROUTES } = await import('../../src/client/routes.js');
  const q = (i: number, params: Record<string, string> = {}) => ({ route: ROUTES[i], params, pathQuery: `${ROUTES[i].path}${params.appname ? `?appname=${params.appname}` : ''}` });
  const results = [
    { query: q(2), outcome: { kind: 'equal' as const } },
    { query: q(2, { appname: 'hello' }), outcome: { kind: 'differ' as const, settled: true, differences: [{ path: '$.x', a: '1', b: '2' }, { path: '$.y', a: undefined, b: '3' }] } },
    { query: q(3), outcome: { kind: 'error' as const, message: 'B: connect ECONNREFUSED' } },
  ];
  const table = routeTable(results).split('\n');
  assert.match(table[1], /^\/v2\/coreinfowatcher\s+2\s+1\s+1\s+0\s+differ$/);
  assert.match(table[2], /^\/v2\/proxywatcher\s+1\s+0\s+0\s+1\s+error$/);
  assert.deepEqual(differenceLines(results, 2), [
    '  /v2/coreinfowatcher?appname=hello: $.x: A 1, B 2',
    '  /v2/coreinfowatcher?appname=hello: $.y: A (absent), B 3',
    '  ... and 1 more (--show N)',
  ]);
});
