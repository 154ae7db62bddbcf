// Sinks for store-level tests: what the store delivered, as a plain map.
import assert from 'node:assert/strict';
import type { StoreChange, StoreKV, StoreSink } from '../../src/store/etcd-store.js';

/** Keeps what the store delivered as a plain map (with each key's mod_revision), and counts snapshots and events. */
export class RecordingSink implements StoreSink {
  readonly data = new Map<string, string>();
  readonly modRevisions = new Map<string, number>();
  snapshots = 0;
  revision = 0;
  eventCount = 0;
  snapshot(kvs: StoreKV[], revision: number) {
    this.snapshots++;
    this.data.clear();
    for (const kv of kvs) {
      this.data.set(kv.key, kv.value);
      this.modRevisions.set(kv.key, kv.modRevision);
    }
    this.revision = revision;
  }
  events(changes: StoreChange[], revision: number) {
    this.eventCount += changes.length;
    assert.equal(revision, changes.at(-1)?.modRevision, "a batch is delivered at its last event's revision");
    for (const c of changes) {
      this.modRevisions.set(c.key, c.modRevision);
      if (c.type === 'put') this.data.set(c.key, c.value);
      else this.data.delete(c.key);
    }
    this.revision = revision;
  }
}

/** Polls `cond` every 20 ms until it holds; throws after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs: number, what: string) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
