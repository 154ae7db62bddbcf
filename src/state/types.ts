// The read-only face of the cluster mirror, as views and auth see it.
// The mirror (mirror.ts) owns the data; views only read through this interface.

/** The etcd-backed sources, plus `containers`, which is derived from pod groups. */
export type Source = 'config' | 'podgroups' | 'depends' | 'nodes' | 'containers' | 'lainlets';

/** One container of a pod, with the fields lainlet's answers use. */
export interface PodContainer {
  Id: string;
  NodeName: string;
  NodeIp: string;
  ContainerIp: string;
  ContainerPort: number;
  /** The runtime env (`Runtime.Config.Env`); procwatcher reads LAIN_PROCNAME from it. */
  RuntimeEnv: string[] | null;
}

export interface Pod {
  InstanceNo: number;
  Containers: PodContainer[] | null;
}

/** A container of the pod spec. Lists keep Go's distinction: `null` when absent or null. */
export interface ContainerSpec {
  Image: string;
  Env: string[] | null;
  Volumes: string[] | null;
  Command: string[] | null;
  CpuLimit: number;
  MemoryLimit: number;
  Expose: number;
}

export interface Dependency {
  PodName: string;
  Policy: number;
}

/** A decoded `/lain/deployd/pod_groups/<app>/<proc>` value (only what lainlet serves). */
export interface PodGroup {
  /** The proc's full name, `Spec.Name` (e.g. `hello.web.web`). */
  Name: string;
  /** The app, `Spec.Namespace`. */
  Namespace: string;
  Annotation: string;
  Containers: ContainerSpec[] | null;
  Dependencies: Dependency[] | null;
  Pods: Pod[] | null;
}

/** One container of a shared (portal) pod in a depends value. */
export interface DependsContainer {
  ContainerID: string;
  NodeIP: string;
  IP: string;
  Port: number;
}

/** A decoded `/lain/deployd/depends/pods/<name>` value: node -> client app -> shared pod. */
export type DependsEntry = Map<string, Map<string, { Annotation: string; Containers: DependsContainer[] | null }>>;

/** A node value: any JSON object, kept as parsed (numbers re-encoded the way Go writes float64). */
export type NodeValue = Record<string, unknown>;

/** A running lainlet, as it publishes itself under `/lain/lainlet/instances/<hostname>` (src/store/registry.ts). */
export interface LainletInstance {
  hostname: string;
  version: string;
  /** Its `-ip`. */
  ip: string;
  /** Its `-web` and `-grpc.addr` ('' when not serving). */
  web: string;
  grpc: string;
  startedAt: string;
  /** The revision of the newest cluster data it had applied when it last wrote this (see ClusterState.dataRevision). */
  revision: number;
}

/** One entry of the derived containers source. */
export interface ContainerInfo {
  app: string;
  app_version: string;
  proc: string;
  nodename: string;
  nodeip: string;
  ip: string;
  port: number;
  instanceNo: number;
}

/** A keyed, read-only collection with the query rules of SPEC §1 ("Query keys"). */
export interface Collection<T> {
  readonly size: number;
  get(key: string): T | undefined;
  /** `*`: everything; an exact key: that entry; otherwise every entry whose key starts with `key`. */
  query(key: string): Array<[string, T]>;
  entries(): IterableIterator<[string, T]>;
}

export interface ClusterState {
  /** The etcd revision this state reflects. */
  readonly revision: number;
  /**
   * The revision of the newest change to cluster data (every key but the lainlet registry's,
   * whose own writes would otherwise make every lainlet look behind the others).
   */
  readonly dataRevision: number;
  readonly config: Collection<string>;
  /** Keyed `<app>/<proc full name>`. */
  readonly podGroups: Collection<PodGroup>;
  /** Keyed by the portal name, e.g. `redis-service.portal.portal-redis`. */
  readonly depends: Collection<DependsEntry>;
  /** Keyed `<name>:<ip>:<port>`. */
  readonly nodes: Collection<NodeValue>;
  /** Keyed `<nodename>/<containerid>` and `<nodeip>/<containerid>`. */
  readonly containers: Collection<ContainerInfo>;
  /** Live lainlets, keyed by host name. */
  readonly lainlets: Collection<LainletInstance>;
  /** The app whose pod group has a container with this IP. */
  appByIp(ip: string): string | undefined;
  /** The services (depends key's service part) whose depends entries list this IP, first found first. */
  servicesByIp(ip: string): string[];
  /** Is `app` listed under `/lain/config/super_apps/`? Exact match. */
  isSuperApp(app: string): boolean;
}
