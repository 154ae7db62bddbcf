// The revision-consistent mirror of etcd's /lain/ prefix. It receives the store's snapshot and
// watch events, feeds them key by key into the state index (which keeps decoded values and the
// derived indexes), and tells listeners which view-level keys changed, once per etcd revision batch.
import type { Logger } from '../util/log.js';
import type { StoreChange, StoreKV, StoreSink } from '../store/etcd-store.js';
import type { ClusterState, Source } from './types.js';
import { StateIndex } from './state-index.js';
import { INSTANCES_PREFIX } from '../store/registry.js';

/** Cluster data, as opposed to the lainlet registry's own keys (see ClusterState.dataRevision). */
const isClusterData = (etcdKey: string) => !etcdKey.startsWith(INSTANCES_PREFIX);

export type ChangeKind = 'put' | 'delete';

/** What one batch of etcd events changed, in the key spaces the views query. */
export interface ChangeSet {
  revision: number;
  changes: Map<Source, Map<string, ChangeKind>>;
}

export interface RejectedValue {
  key: string;
  reason: string;
  modRevision: number;
  at: string;
}

export type ChangeListener = (change: ChangeSet) => void;

export class Mirror implements StoreSink {
  private readonly index = new StateIndex();
  /** etcd key -> mod_revision of the value we last saw (good or rejected): a resync applies only what differs. */
  private readonly modRevisions = new Map<string, number>();
  private readonly listeners: ChangeListener[] = [];
  private readonly rejectedKeys = new Map<string, RejectedValue>();
  private rev = 0;
  private loaded = false;
  /** Counters for /debug and metrics. */
  readonly stats = { rejectedTotal: 0, eventsApplied: 0, snapshotsApplied: 0, lastEventAt: null as string | null };

  constructor(private readonly logger: Logger) {}

  get state(): ClusterState {
    return this.index;
  }
  get ready(): boolean {
    return this.loaded;
  }
  get revision(): number {
    return this.rev;
  }
  get rejected(): RejectedValue[] {
    return [...this.rejectedKeys.values()];
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  snapshot(kvs: StoreKV[], revision: number): void {
    const set = this.newChangeSet(revision);
    const seen = new Set<string>();
    for (const kv of kvs) {
      seen.add(kv.key);
      // A deletion leaves no mod_revision behind: one just before the read is not counted.
      if (isClusterData(kv.key) && kv.modRevision > this.index.dataRevision) this.index.dataRevision = kv.modRevision;
      if (this.modRevisions.get(kv.key) !== kv.modRevision) this.put(kv.key, kv.value, kv.modRevision, set);
    }
    for (const key of [...this.modRevisions.keys()]) {
      if (!seen.has(key)) this.remove(key, set);
    }
    this.setRevision(revision);
    this.loaded = true;
    this.stats.snapshotsApplied++;
    this.emit(set);
  }

  events(changes: StoreChange[], revision: number): void {
    const set = this.newChangeSet(revision);
    for (const c of changes) {
      if (isClusterData(c.key)) this.index.dataRevision = c.modRevision;
      if (c.type === 'put') this.put(c.key, c.value, c.modRevision, set);
      else this.remove(c.key, set);
    }
    this.setRevision(revision);
    this.stats.eventsApplied += changes.length;
    this.stats.lastEventAt = new Date().toISOString();
    this.emit(set);
  }

  private setRevision(revision: number) {
    this.rev = revision;
    this.index.revision = revision;
  }

  private newChangeSet(revision: number): ChangeSet {
    return { revision, changes: new Map() };
  }

  private put(key: string, value: string, modRevision: number, set: ChangeSet) {
    this.modRevisions.set(key, modRevision);
    const result = this.index.put(key, value);
    if ('rejected' in result) {
      this.stats.rejectedTotal++;
      this.rejectedKeys.set(key, { key, reason: result.rejected, modRevision, at: new Date().toISOString() });
      this.logger.warn({ key, modRevision, reason: result.rejected }, 'rejected a malformed etcd value; keeping the last good one');
      return;
    }
    this.rejectedKeys.delete(key);
    record(set, result, 'put');
  }

  private remove(key: string, set: ChangeSet) {
    this.modRevisions.delete(key);
    this.rejectedKeys.delete(key);
    const result = this.index.remove(key);
    if (result) record(set, result, 'delete');
  }

  private emit(set: ChangeSet) {
    for (const l of this.listeners) {
      try {
        l(set);
      } catch (err) {
        // A listener bug must not stop the mirror (or the other listeners) from advancing.
        this.logger.error({ err }, 'change listener failed');
      }
    }
  }
}

function record(set: ChangeSet, touched: Array<{ source: Source; changedKeys: string[] }>, kind: ChangeKind) {
  for (const { source, changedKeys } of touched) {
    let keys = set.changes.get(source);
    if (!keys) set.changes.set(source, (keys = new Map()));
    for (const k of changedKeys) {
      // Within one batch a put wins over a delete: the key (or a sibling) still exists.
      if (keys.get(k) !== 'put') keys.set(k, kind);
    }
  }
}
