import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FragmentCache, joinEncodedMap } from '../../src/views/fragments.js';

test('an entry is encoded once per source object', () => {
  let builds = 0;
  const cache = new FragmentCache<{ n: number }, { N: number }>((s) => {
    builds++;
    return { N: s.n };
  });
  const a = { n: 1 };
  assert.equal(cache.get(a)?.toString(), '{"N":1}');
  assert.equal(cache.get(a), cache.get(a));
  assert.equal(builds, 1);
  cache.get({ n: 1 }); // a new value object (a new etcd write) is encoded again
  assert.equal(builds, 2);
});

test('left-out entries and Go map rules: sorted keys, Go escaping, last duplicate wins', () => {
  const cache = new FragmentCache<{ n: number }, number>((s) => (s.n < 0 ? undefined : s.n));
  assert.equal(cache.get({ n: -1 }), null);
  const v = (n: number) => cache.get({ n });
  const out = joinEncodedMap([
    ['b', v(2)],
    ['a<', v(1)],
    ['c', v(-1)],
    ['b', v(3)],
  ]);
  assert.equal(out.toString(), '{"a\\u003c":1,"b":3}');
  assert.equal(joinEncodedMap([]).toString(), '{}');
});
