// The cluster state, updated one etcd key at a time: each source's collection plus the indexes
// auth needs (container IP -> app, IP -> depends services) and the derived containers source.
// A key's change touches only what was built from that key.
import { KeyedCollection } from './collections.js';
import { INSTANCES_PREFIX } from '../store/registry.js';
import { containersOf, decodeDepends, decodeInstance, decodeNode, decodePodGroup, dependsServiceName } from './decode.js';
import type { ClusterState, ContainerInfo, DependsEntry, LainletInstance, NodeValue, PodGroup, Source } from './types.js';

/** The sources read from etcd (containers are derived from pod groups). */
export type StoredSource = Exclude<Source, 'containers'>;

/** The etcd prefix of each stored source; the rest of the etcd key is the cache key. */
const SOURCE_PREFIXES: ReadonlyArray<readonly [StoredSource, string]> = [
  ['config', '/lain/config/'],
  ['podgroups', '/lain/deployd/pod_groups/'],
  ['depends', '/lain/deployd/depends/pods/'],
  ['nodes', '/lain/nodes/nodes/'],
  ['lainlets', INSTANCES_PREFIX],
];

/** Which source an etcd key feeds and its cache key; undefined for keys lainlet does not serve. */
export function locateKey(etcdKey: string): { source: StoredSource; key: string } | undefined {
  for (const [source, prefix] of SOURCE_PREFIXES) {
    if (etcdKey.startsWith(prefix) && etcdKey.length > prefix.length) {
      return { source, key: etcdKey.slice(prefix.length) };
    }
  }
  return undefined;
}

/** What one etcd key's change changed in one source (a pod group also changes the containers). */
export interface SourceChange {
  source: Source;
  /** Cache keys (in the source's key space) whose entries changed. */
  changedKeys: string[];
}

export class StateIndex implements ClusterState {
  revision = 0;
  dataRevision = 0;
  readonly config = new KeyedCollection<string>();
  readonly podGroups = new KeyedCollection<PodGroup>();
  readonly depends = new KeyedCollection<DependsEntry>();
  readonly nodes = new KeyedCollection<NodeValue>();
  readonly containers = new KeyedCollection<ContainerInfo>();
  readonly lainlets = new KeyedCollection<LainletInstance>();

  /** Container keys each pod group produced, and which pod group a container key came from last. */
  private readonly containerKeysByPodGroup = new Map<string, string[]>();
  private readonly containerOwner = new Map<string, string>();
  /** Container IP -> pod group key -> app. Several pod groups may claim one IP for a while. */
  private readonly appsByIp = new Map<string, Map<string, string>>();
  /** Container IP -> depends keys listing it. */
  private readonly dependsByIp = new Map<string, Set<string>>();

  appByIp(ip: string): string | undefined {
    const owners = this.appsByIp.get(ip);
    if (owners === undefined) return undefined;
    let latest: string | undefined;
    for (const app of owners.values()) latest = app; // the most recently written pod group wins, as in Go
    return latest;
  }

  servicesByIp(ip: string): string[] {
    const keys = this.dependsByIp.get(ip);
    if (keys === undefined) return [];
    return [...new Set([...keys].sort().map(dependsServiceName))];
  }

  isSuperApp(app: string): boolean {
    return app !== '' && this.config.has(`super_apps/${app}`);
  }

  /**
   * Stores an etcd value. A value that cannot be decoded is rejected and the key keeps its last
   * good value. No changes for keys lainlet does not serve.
   */
  put(etcdKey: string, rawValue: string): SourceChange[] | { rejected: string } {
    const located = locateKey(etcdKey);
    if (located === undefined) return [];
    const { source, key } = located;
    try {
      switch (source) {
        case 'config':
          this.config.set(key, rawValue);
          return [{ source, changedKeys: [key] }];
        case 'podgroups':
          return this.setPodGroup(key, decodePodGroup(rawValue));
        case 'depends':
          this.setDepends(key, decodeDepends(rawValue));
          return [{ source, changedKeys: [key] }];
        case 'nodes': {
          const node = decodeNode(rawValue);
          if (node === null) this.nodes.delete(key); // not an object: the nodes route leaves it out
          else this.nodes.set(key, node);
          return [{ source, changedKeys: [key] }];
        }
        case 'lainlets':
          this.lainlets.set(key, decodeInstance(rawValue));
          return [{ source, changedKeys: [key] }];
      }
    } catch (err) {
      return { rejected: `${etcdKey}: ${(err as Error).message}` };
    }
  }

  /** Forgets an etcd key; null when nothing was stored for it. */
  remove(etcdKey: string): SourceChange[] | null {
    const located = locateKey(etcdKey);
    if (located === undefined) return null;
    const { source, key } = located;
    switch (source) {
      case 'config':
        return this.config.delete(key) ? [{ source, changedKeys: [key] }] : null;
      case 'podgroups':
        return this.podGroups.has(key) ? this.setPodGroup(key, undefined) : null;
      case 'depends':
        if (!this.depends.has(key)) return null;
        this.setDepends(key, undefined);
        return [{ source, changedKeys: [key] }];
      case 'nodes':
        return this.nodes.delete(key) ? [{ source, changedKeys: [key] }] : null;
      case 'lainlets':
        return this.lainlets.delete(key) ? [{ source, changedKeys: [key] }] : null;
    }
  }

  /** Replaces (or with undefined, removes) a pod group and everything derived from it. */
  private setPodGroup(key: string, pg: PodGroup | undefined): SourceChange[] {
    const old = this.podGroups.get(key);
    if (old !== undefined) this.indexPodGroupIps(key, old, false);
    const oldContainerKeys = this.containerKeysByPodGroup.get(key) ?? [];
    const entries = pg === undefined ? [] : containersOf(pg);
    // Only keys that go away are deleted: deleting and re-adding a kept key would cost two
    // updates of the sorted key index (which grows with the cluster) for nothing.
    const kept = new Set(entries.map(([k]) => k));
    for (const k of oldContainerKeys) {
      if (!kept.has(k) && this.containerOwner.get(k) === key) {
        this.containerOwner.delete(k);
        this.containers.delete(k);
      }
    }
    this.containerKeysByPodGroup.delete(key);

    const changedContainers = new Set(oldContainerKeys);
    if (pg === undefined) {
      this.podGroups.delete(key);
    } else {
      this.podGroups.set(key, pg);
      this.indexPodGroupIps(key, pg, true);
      for (const [k, info] of entries) {
        this.containers.set(k, info);
        this.containerOwner.set(k, key);
        changedContainers.add(k);
      }
      this.containerKeysByPodGroup.set(key, [...kept]);
    }
    // Every container key of the pod group before and after: Go re-sends all of them.
    return [
      { source: 'podgroups', changedKeys: [key] },
      { source: 'containers', changedKeys: [...changedContainers] },
    ];
  }

  private indexPodGroupIps(key: string, pg: PodGroup, add: boolean): void {
    for (const pod of pg.Pods ?? []) {
      for (const c of pod.Containers ?? []) {
        const ip = c.ContainerIp;
        if (ip === '') continue;
        let owners = this.appsByIp.get(ip);
        if (add) {
          if (owners === undefined) this.appsByIp.set(ip, (owners = new Map()));
          owners.delete(key); // re-insert so that this pod group counts as the latest
          owners.set(key, pg.Namespace);
        } else if (owners !== undefined) {
          owners.delete(key);
          if (owners.size === 0) this.appsByIp.delete(ip);
        }
      }
    }
  }

  /** Replaces (or with undefined, removes) a depends entry and its IP index. */
  private setDepends(key: string, entry: DependsEntry | undefined): void {
    const old = this.depends.get(key);
    if (old !== undefined) {
      for (const ip of dependsIps(old)) {
        const keys = this.dependsByIp.get(ip);
        keys?.delete(key);
        if (keys?.size === 0) this.dependsByIp.delete(ip);
      }
    }
    if (entry === undefined) {
      this.depends.delete(key);
      return;
    }
    this.depends.set(key, entry);
    for (const ip of dependsIps(entry)) {
      let keys = this.dependsByIp.get(ip);
      if (keys === undefined) this.dependsByIp.set(ip, (keys = new Set()));
      keys.add(key);
    }
  }
}

function* dependsIps(entry: DependsEntry): Iterable<string> {
  for (const apps of entry.values()) {
    for (const shared of apps.values()) {
      for (const c of shared.Containers ?? []) if (c.IP !== '') yield c.IP;
    }
  }
}
