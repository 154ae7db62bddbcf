// Every GET case recorded from the Go binary (answers-go.json, and answers-go-edge.json: explicit
// `*`, empty, repeated and odd parameters), answered by our views from an in-memory state.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildState } from '../../src/state/snapshot-state.js';
import { goQueryParams } from '../../src/transports/http/params.js';
import { findView } from '../../src/views/index.js';
import { ViewError, type NodeContext } from '../../src/views/types.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));

interface GetAnswer {
  path: string;
  from: string;
  status: number;
  body: string;
  unordered: boolean;
}

/** The fixture as the probe loads it: cluster-small.json with the overlay's replacements applied. */
function loadCluster(): Map<string, string> {
  const cluster = fixture('cluster-small.json') as Record<string, string>;
  const overlay = fixture('overlay-auth.json') as { replace?: Record<string, string>; put?: Record<string, string> };
  const kvs = new Map<string, string>();
  for (const [key, value] of Object.entries(cluster)) {
    let v = value;
    for (const [from, to] of Object.entries(overlay.replace ?? {})) v = v.split(from).join(to);
    kvs.set(key, v);
  }
  for (const [key, value] of Object.entries(overlay.put ?? {})) kvs.set(key, value);
  return kvs;
}

const node: NodeContext = { nodeIp: '127.0.0.1', hostname: 'node1', noAuth: false };
const { state, rejected } = buildState(loadCluster(), 1);

/** What the HTTP transport answers for a GET, reduced to status and body. */
function answer(pathAndQuery: string, callerIp: string): { status: number; body: string } {
  const url = new URL(pathAndQuery, 'http://lainlet');
  const view = findView(url.pathname);
  if (view === undefined) return { status: 404, body: '404 not found' };
  try {
    const key = view.key({ params: goQueryParams(pathAndQuery), callerIp }, state, node);
    return { status: 200, body: String(view.render(key, state, node)) };
  } catch (err) {
    if (err instanceof ViewError) return { status: err.status, body: err.message };
    throw err;
  }
}

/** Like lainlet_probe.py `compare`: error bodies trimmed, unordered lists compared as multisets. */
function normalize(status: number, body: string, unordered: boolean): unknown {
  if (status !== 200) return body.trim();
  if (!unordered) return body;
  const value: unknown = JSON.parse(body);
  return Array.isArray(value) ? value.map((x) => JSON.stringify(sortedDeep(x))).sort() : body;
}

function sortedDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedDeep);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortedDeep((v as Record<string, unknown>)[k])]));
  }
  return v;
}

test('the fixture decodes without rejected values', () => {
  assert.deepEqual(rejected, []);
});

const gets = ['answers-go.json', 'answers-go-edge.json'].flatMap((file) => (fixture(file) as { gets: GetAnswer[] }).gets);

for (const expected of gets) {
  // /version is answered by the HTTP server itself, not by a view.
  if (expected.path === '/version') continue;
  test(`GET ${expected.path} from ${expected.from}`, () => {
    const actual = answer(expected.path, expected.from);
    assert.equal(actual.status, expected.status, actual.body);
    assert.deepEqual(
      normalize(actual.status, actual.body, expected.unordered),
      normalize(expected.status, expected.body, expected.unordered),
    );
  });
}
