// The catch-up / main watch handover (src/store/handover.ts): every revision applied once, in
// order, whichever watch brings it first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoreChange } from '../../src/store/etcd-store.js';
import { Handover } from '../../src/store/handover.js';

const put = (modRevision: number, key = `/lain/k${modRevision}`): StoreChange => ({ type: 'put', key, value: `v${modRevision}`, modRevision });
const revs = (changes: StoreChange[]) => changes.map((c) => c.modRevision);

test('no catch-up when the main watch starts where we are', () => {
  const h = new Handover(11, 11);
  assert.equal(h.catchingUp, false);
  assert.deepEqual(revs(h.main([put(11), put(12)])), [11, 12]);
  assert.equal(h.nextRevision, 13);
  // A catch-up answer that comes anyway changes nothing.
  assert.deepEqual(h.catchUp([put(13)]), { apply: [], done: false });
  assert.equal(h.nextRevision, 13);
});

test('the main watch is held while the catch-up runs, then applied after it, each revision once', () => {
  const h = new Handover(5, 10); // applied up to 4; the main watch sends 10 on
  assert.equal(h.catchingUp, true);
  assert.deepEqual(h.main([put(10), put(11)]), []);
  let r = h.catchUp([put(6), put(8)]);
  assert.deepEqual({ apply: revs(r.apply), done: r.done }, { apply: [6, 8], done: false });
  assert.equal(h.nextRevision, 9);
  // The catch-up reaches 10: it is done, and the held 11 follows (10 is not applied twice).
  r = h.catchUp([put(9), put(10)]);
  assert.deepEqual({ apply: revs(r.apply), done: r.done }, { apply: [9, 10, 11], done: true });
  assert.equal(h.catchingUp, false);
  assert.deepEqual(revs(h.main([put(11), put(12)])), [12]);
  assert.equal(h.nextRevision, 13);
});

test('done only once the revision before the main watch start is covered', () => {
  const h = new Handover(5, 10);
  // 9 is the last revision the main watch does not send: the catch-up is done with it.
  const r = h.catchUp([put(9)]);
  assert.equal(r.done, true);
  assert.equal(h.nextRevision, 10);
  assert.deepEqual(revs(h.main([put(10)])), [10]);
});

test('a catch-up that overtakes the main watch: the main watch\'s copies are dropped', () => {
  const h = new Handover(1, 3);
  const r = h.catchUp([put(1), put(2), put(3), put(4)]);
  assert.deepEqual({ apply: revs(r.apply), done: r.done }, { apply: [1, 2, 3, 4], done: true });
  assert.deepEqual(revs(h.main([put(3), put(4), put(5)])), [5]);
});

test('events of one revision (a transaction) are applied together, never split', () => {
  const h = new Handover(1, 3);
  assert.deepEqual(h.main([put(3, '/lain/a'), put(3, '/lain/b')]), []);
  const r = h.catchUp([put(2, '/lain/x'), put(2, '/lain/y')]);
  assert.deepEqual(
    r.apply.map((c) => c.key),
    ['/lain/x', '/lain/y', '/lain/a', '/lain/b'],
  );
  assert.equal(r.done, true);
});

test('rehome: a new main watch from where we are replaces both; held copies are not applied twice', () => {
  const h = new Handover(5, 40);
  h.catchUp([put(6)]);
  assert.deepEqual(h.main([put(40)]), []);
  assert.throws(() => h.rehome(8), /would miss revision 7/);
  h.rehome(7);
  assert.equal(h.catchingUp, false);
  assert.deepEqual(revs(h.main([put(7), put(40)])), [7, 40]);
  assert.deepEqual(h.catchUp([put(41)]), { apply: [], done: false }, 'a late catch-up answer is ignored');
});

test('nothingBefore: etcd wrote only other keys since the last applied revision: a main watch from past them may replace both', () => {
  const h = new Handover(5, 40);
  h.catchUp([put(6)]); // applied up to 6; etcd is at 9 with 7..9 outside our prefix
  assert.throws(() => h.rehome(10), /would miss revision 7/);
  h.nothingBefore(10);
  assert.equal(h.nextRevision, 10);
  h.nothingBefore(8);
  assert.equal(h.nextRevision, 10, 'never moves back');
  h.rehome(10);
  assert.equal(h.catchingUp, false);
  assert.deepEqual(revs(h.main([put(10), put(11)])), [10, 11]);
});
