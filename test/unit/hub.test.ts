// The view hub: one render per change per query, the same bytes to every watcher, nothing for
// unchanged answers, errors end the watch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ViewHub, type HubWatcher, type SharedUpdate } from '../../src/views/hub.js';
import { ViewError, type View } from '../../src/views/types.js';
import type { ChangeSet } from '../../src/state/mirror.js';
import type { ClusterState, Source } from '../../src/state/types.js';

const node = { nodeIp: '127.0.0.1', hostname: 'node1', noAuth: false };

/** A view over a plain map standing in for the config source. */
function mapView(data: Map<string, string>, extra: Partial<View> = {}): View & { renders: number } {
  const v = {
    path: '/v2/test',
    sources: ['config'] as Source[],
    watchable: true,
    renders: 0,
    key: () => '*',
    render(key: string) {
      v.renders++;
      if (data.get('broken')) throw new ViewError(500, 'cannot make it');
      const entries = [...data].filter(([k]) => key === '*' || k.startsWith(key));
      return JSON.stringify(Object.fromEntries(entries));
    },
    ...extra,
  };
  return v;
}

function change(revision: number, key: string, kind: 'put' | 'delete' = 'put'): ChangeSet {
  return { revision, changes: new Map([['config', new Map([[key, kind]])]]) };
}

class Recorder implements HubWatcher {
  updates: SharedUpdate[] = [];
  failed: string | null = null;
  update(u: SharedUpdate) {
    this.updates.push(u);
  }
  fail(message: string) {
    this.failed = message;
  }
}

const state = () => ({}) as ClusterState;

test('one render per change, the same frame object for every watcher', () => {
  const data = new Map([['a', '1']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  const watchers = Array.from({ length: 100 }, () => new Recorder());
  for (const w of watchers) assert.equal(hub.subscribe(view, '*', w).initial.ok, true);
  assert.equal(view.renders, 1);
  data.set('a', '2');
  hub.apply(change(5, 'a'));
  assert.equal(view.renders, 2);
  const first = watchers[0].updates[0];
  assert.equal(first.id, 5);
  assert.equal(first.event, 'update');
  assert.equal(first.json.toString(), '{"a":"2"}');
  for (const w of watchers) assert.equal(w.updates[0], first);
});

test('an unchanged answer is not re-sent; an untouched query is not even recomputed', () => {
  const data = new Map([['a', '1'], ['b', '1']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  const w = new Recorder();
  hub.subscribe(view, 'a', w);
  hub.apply(change(2, 'a')); // touched, same bytes
  hub.apply(change(3, 'b')); // not touched
  assert.equal(w.updates.length, 0);
  assert.equal(view.renders, 2);
});

test('resendWhenTouched views are re-sent on every touching change (Go containers behaviour)', () => {
  const view = mapView(new Map([['a', '1']]), { resendWhenTouched: true });
  const hub = new ViewHub(state, node);
  const w = new Recorder();
  hub.subscribe(view, '*', w);
  hub.apply(change(2, 'a'));
  assert.equal(w.updates.length, 1);
});

test('a removal is sent as a delete event', () => {
  const data = new Map([['a', '1'], ['b', '2']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  const w = new Recorder();
  hub.subscribe(view, '*', w);
  data.delete('b');
  hub.apply(change(7, 'b', 'delete'));
  assert.equal(w.updates[0].event, 'delete');
});

test('an answer that can no longer be made fails every watcher and forgets them', () => {
  const data = new Map([['a', '1']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  const w = new Recorder();
  hub.subscribe(view, '*', w);
  data.set('broken', 'yes');
  hub.apply(change(2, 'broken'));
  assert.equal(w.failed, 'cannot make it');
  assert.deepEqual(hub.watcherCounts(), {});
  const again = hub.get(view, '*');
  assert.deepEqual(again, { ok: false, status: 500, message: 'cannot make it' });
});

test('a bug in a view is a 500 for that query, not an exception for the caller', () => {
  const view = mapView(new Map(), {
    render() {
      throw new TypeError('oops');
    },
  });
  const seen: unknown[] = [];
  const hub = new ViewHub(state, node, (_v, _k, err) => seen.push(err));
  const a = hub.get(view, '*');
  assert.deepEqual(a, { ok: false, status: 500, message: 'internal error: oops' });
  assert.equal(seen.length, 1);
});

test('GET answers are cached until a change touches them', () => {
  const data = new Map([['a', '1']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  hub.get(view, '*');
  hub.get(view, '*');
  assert.equal(view.renders, 1);
  data.set('a', '2');
  hub.apply(change(2, 'a'));
  const a = hub.get(view, '*');
  assert.equal(a.ok && a.json.toString(), '{"a":"2"}');
  assert.equal(view.renders, 2);
});

test('queued changes are applied once per burst, and reads flush them first', async () => {
  const data = new Map([['a', '1']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  const w = new Recorder();
  hub.subscribe(view, '*', w);
  for (let i = 2; i <= 10; i++) {
    data.set('a', String(i));
    hub.enqueue(change(i, 'a'));
  }
  assert.equal(w.updates.length, 0, 'nothing applied yet');
  await new Promise((r) => setImmediate(r));
  assert.equal(w.updates.length, 1, 'one update for the burst');
  assert.equal(w.updates[0].id, 10);
  assert.equal(w.updates[0].json.toString(), '{"a":"10"}');
  assert.equal(view.renders, 2);

  data.set('a', '11');
  hub.enqueue(change(11, 'a'));
  const got = hub.get(view, '*'); // flushes: never a stale answer
  assert.equal(got.ok && got.json.toString(), '{"a":"11"}');
  assert.equal(w.updates.length, 2);
});

test('a put wins over a delete within a burst: a key written then removed while a sibling remains sends update, not delete', async () => {
  const data = new Map([['a/1', '1'], ['a/2', '2']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  const w = new Recorder();
  hub.subscribe(view, 'a/', w);
  data.set('a/1', 'x');
  hub.enqueue(change(2, 'a/1', 'put'));
  data.delete('a/1');
  hub.enqueue(change(3, 'a/1', 'delete'));
  await new Promise((r) => setImmediate(r));
  assert.equal(w.updates.length, 1, 'one event for the burst');
  assert.equal(w.updates[0].event, 'update');
  assert.equal(w.updates[0].json.toString(), '{"a/2":"2"}');
  assert.equal(w.updates[0].id, 3, 'the id is the burst\'s last revision');
});

test('a burst of removals only is sent as delete', async () => {
  const data = new Map([['a/1', '1'], ['a/2', '2'], ['a/3', '3']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  const w = new Recorder();
  hub.subscribe(view, 'a/', w);
  data.delete('a/1');
  hub.enqueue(change(2, 'a/1', 'delete'));
  data.delete('a/2');
  hub.enqueue(change(3, 'a/2', 'delete'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    w.updates.map((u) => [u.event, u.json.toString()]),
    [['delete', '{"a/3":"3"}']],
  );
});

test('delete only when every touching change was a removal: a batch with a removal and a put sends update, whatever their order', () => {
  for (const order of [['a/1', 'a/2'], ['a/2', 'a/1']]) {
    const data = new Map([['a/1', '1'], ['b', 'untouched']]);
    const view = mapView(data);
    const hub = new ViewHub(state, node);
    const w = new Recorder();
    hub.subscribe(view, 'a/', w);
    data.delete('a/1');
    data.set('a/2', '2');
    const kinds = new Map<string, 'put' | 'delete'>([
      ['a/1', 'delete'],
      ['a/2', 'put'],
    ]);
    // An untouching removal on another key must not turn the event into a delete either.
    const keys = new Map<string, 'put' | 'delete'>([['b', 'delete'], ...order.map((k): [string, 'put' | 'delete'] => [k, kinds.get(k)!])]);
    hub.apply({ revision: 4, changes: new Map([['config', keys]]) });
    assert.deepEqual(
      w.updates.map((u) => [u.event, u.json.toString()]),
      [['update', '{"a/2":"2"}']],
      `order ${order.join(', ')}`,
    );
  }
});

test('a removal that touches the query is sent as delete even when an untouching put is in the same batch', () => {
  const data = new Map([['a/1', '1'], ['a/2', '2']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  const w = new Recorder();
  hub.subscribe(view, 'a/', w);
  data.delete('a/1');
  data.set('b', 'new');
  hub.apply({
    revision: 5,
    changes: new Map([
      [
        'config',
        new Map<string, 'put' | 'delete'>([
          ['b', 'put'],
          ['a/1', 'delete'],
        ]),
      ],
    ]),
  });
  assert.deepEqual(
    w.updates.map((u) => u.event),
    ['delete'],
  );
});

/** A hub over `data` with one recorder subscribed to `key`. */
function watched(data: Map<string, string>, key: string, extra: Partial<View> = {}) {
  const view = mapView(data, extra);
  const hub = new ViewHub(state, node);
  const w = new Recorder();
  const sub = hub.subscribe(view, key, w);
  return { view, hub, w, sub };
}

test('a burst merges later changes of new keys and new sources into the pending one', async () => {
  const data = new Map([['a/1', '1'], ['b/1', '1']]);
  const view = mapView(data, { sources: ['config', 'nodes'] });
  const hub = new ViewHub(state, node);
  const [wa, wb, wn] = [new Recorder(), new Recorder(), new Recorder()];
  hub.subscribe(view, 'a/', wa);
  hub.subscribe(view, 'b/', wb);
  hub.subscribe(view, 'n', wn);
  data.set('a/1', '2');
  hub.enqueue(change(2, 'a/1'));
  data.set('b/1', '2');
  hub.enqueue(change(3, 'b/1')); // a new key of the same source
  data.set('n', 'node');
  hub.enqueue({ revision: 4, changes: new Map([['nodes', new Map([['n', 'put']])]]) }); // a new source
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    [wa, wb, wn].map((w) => w.updates.map((u) => [u.id, u.json.toString()])),
    [[[4, '{"a/1":"2"}']], [[4, '{"b/1":"2"}']], [[4, '{"n":"node"}']]],
  );
});

test('a batch that has only some of a view\'s sources still reaches it', () => {
  const data = new Map([['n', '1']]);
  const { hub, w } = watched(data, '*', { sources: ['config', 'nodes'] });
  data.set('n', '2');
  hub.apply({ revision: 2, changes: new Map([['nodes', new Map([['n', 'put']])]]) });
  assert.equal(w.updates.length, 1);
});

test('a view\'s own touches() decides which changes reach a query', () => {
  const data = new Map([['a', '1']]);
  // Only changes of key "z" touch it, whatever the query key.
  const { hub, w, view } = watched(data, 'a', { touches: (_q: string, _s: Source, changed: string) => changed === 'z' });
  data.set('a', '2');
  hub.apply(change(2, 'a'));
  assert.equal(w.updates.length, 0, 'not touched by its own key');
  hub.apply(change(3, 'z'));
  assert.equal(w.updates.length, 1);
  assert.equal(view.renders, 2);
});

test('different queries of one route have their own answers', () => {
  const data = new Map([['a', '1'], ['b', '2']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  const a = hub.get(view, 'a');
  const b = hub.get(view, 'b');
  assert.equal(a.ok && a.json.toString(), '{"a":"1"}');
  assert.equal(b.ok && b.json.toString(), '{"b":"2"}');
  assert.equal(hub.channelCount, 2);
});

test('an answer nobody watches is forgotten when a change touches it, not recomputed', () => {
  const data = new Map([['a', '1']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  hub.get(view, '*');
  data.set('a', '2');
  hub.apply(change(2, 'a'));
  assert.equal(view.renders, 1, 'not recomputed for nobody');
  assert.equal(hub.channelCount, 0);
  const again = hub.get(view, '*');
  assert.equal(again.ok && again.json.toString(), '{"a":"2"}');
});

test('a watch of an error answer is not registered', () => {
  const data = new Map([['broken', 'yes']]);
  const { hub, sub } = watched(data, '*');
  assert.equal(sub.initial.ok, false);
  assert.deepEqual(hub.watcherCounts(), { '/v2/test': 0 });
});

test('watcher counts per route, unsubscribe, and the render and update counters', () => {
  const data = new Map([['a', '1']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  const subs = [new Recorder(), new Recorder(), new Recorder()].map((w) => hub.subscribe(view, '*', w));
  hub.subscribe(view, 'a', new Recorder());
  assert.deepEqual(hub.watcherCounts(), { '/v2/test': 4 });
  subs[0].unsubscribe();
  assert.deepEqual(hub.watcherCounts(), { '/v2/test': 3 });
  data.set('a', '2');
  hub.apply(change(2, 'a'));
  assert.deepEqual(hub.stats, { renders: 4, updatesSent: 3, rightsRevoked: 0, cacheEvictions: 0, watchesRefusedCacheFull: 0 });
});

test('encodings are made once per change and per subscription answer, then shared', () => {
  const data = new Map([['a', '1']]);
  const view = mapView(data);
  const hub = new ViewHub(state, node);
  let made = 0;
  const encode = (json: Buffer) => {
    made++;
    return `frame:${json.toString()}`;
  };
  const first = hub.subscribe(view, '*', new Recorder());
  const second = hub.subscribe(view, '*', new Recorder());
  assert.equal(first.initEncoded('sse', encode), 'frame:{"a":"1"}');
  assert.equal(second.initEncoded('sse', encode), 'frame:{"a":"1"}');
  assert.equal(second.initEncoded('grpc', encode), 'frame:{"a":"1"}');
  assert.equal(made, 2, 'once per format');
  const w = new Recorder();
  hub.subscribe(view, '*', w);
  data.set('a', '2');
  hub.apply(change(2, 'a'));
  const u = w.updates[0];
  assert.equal(u.encoded('sse', (x) => encode(x.json)), 'frame:{"a":"2"}');
  assert.equal(u.encoded('sse', (x) => encode(x.json)), 'frame:{"a":"2"}');
  assert.equal(made, 3);
});
