// Reconnect delays: 250 ms doubling to 30 s, jittered within [half, whole] of each step.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../src/client/backoff.js';

test('extremes of the jitter: the steps double from 250 ms and stop at 30 s', () => {
  const high = new Backoff({ random: () => 0.999999 });
  assert.deepEqual(
    Array.from({ length: 10 }, () => high.next()),
    [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
  const low = new Backoff({ random: () => 0 });
  assert.deepEqual(
    Array.from({ length: 10 }, () => low.next()),
    [250, 250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000],
  );
});

test('random delays stay within bounds, spread out, and reset starts over', () => {
  const b = new Backoff();
  const seen = new Set<number>();
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 20; i++) {
      const d = b.next();
      assert.ok(d >= 250 && d <= 30_000, `delay ${d}`);
      if (i === 12) seen.add(d);
    }
    assert.equal(b.attempts, 20);
    b.reset();
    assert.equal(b.attempts, 0);
    const first = b.next();
    assert.ok(first >= 250 && first <= 250, `first delay after reset: ${first}`);
    b.reset();
  }
  assert.ok(seen.size > 10, 'jittered, not all the same');
});

test('no overflow after very many attempts', () => {
  const b = new Backoff({ random: () => 0.5 });
  for (let i = 0; i < 10_000; i++) b.next();
  assert.equal(b.next(), 22_500);
});
