// The messages between the scale simulation (parent) and its node workers (bench/scale/node-worker.ts).

/** One simulated node: its host name (its registry key) and the etcd endpoint it talks to (etcd or a proxy). */
export interface NodeSpec {
  host: string;
  endpoint: string;
}

export type WorkerRequest =
  /** Start these nodes; each is synced once at or past `minRevision`. */
  | { type: 'start'; nodes: NodeSpec[]; registry: boolean; minRevision: number }
  /** Close every node and start it again at once (a restart storm). */
  | { type: 'restart'; minRevision: number }
  | { type: 'await-synced'; timeoutMs: number }
  | { type: 'stats' }
  /** Record (or stop recording) the arrival time of every pod-group event at every node. */
  | { type: 'record'; on: boolean }
  | { type: 'collect' }
  | { type: 'stop' };

export interface WorkerStats {
  nodes: number;
  /** When the nodes were (re)started, ms since epoch (performance clock, comparable across processes). */
  startedAt: number;
  /** Per node: when it was synced since its (re)start, NaN if not yet. */
  syncedAt: number[];
  /** Per node: the revision it has applied. */
  revisions: number[];
  connected: number;
  /** Nodes whose catch-up watch still runs beside the main one (src/store/handover.ts). */
  catchingUp: number;
  /** Catch-up watches replaced at one of etcd's capped batches (StoreStatus.catchUpsResumed). */
  catchUpsResumed: number;
  /** A few of the nodes still catching up, their store status in short (diagnosis). */
  stuck: string[];
  /** Nodes whose main watch a proxy served from an etcd watch it already held (StoreStatus.mainShared). */
  mainShared: number;
  snapshots: number;
  reconnects: number;
  lastErrors: string[];
  events: number;
  minKeys: number;
  /** Pages (Range calls) of the nodes' snapshot reads since their (re)start. */
  readPages: number;
  /** Snapshots read again from etcd itself (a cached one was older than a compaction). */
  staleReads: number;
  /** Snapshots read again from etcd itself because a cached one missed cluster data written since. */
  refreshedReads: number;
  /** Times a proxy skipped events of a node's catch-up watch (noticed; the snapshot read again). */
  lostEvents: number;
  /** Small reads besides snapshot pages (etcd's newest revision, staleness checks). */
  checkReads: number;
  /** The registry's last errors (a few distinct ones). */
  registryErrors: string[];
  /** Nodes whose registry key is in etcd. */
  registered: number;
  cpuMs: number;
  /** Event-loop delay since recording was last switched on (ms). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  rssBytes: number;
}

export type WorkerReply =
  | { type: 'ok' }
  | { type: 'stats'; stats: WorkerStats }
  /** Flat triples: node index (within the worker), mod revision, arrival time. */
  | { type: 'arrivals'; arrivals: number[] };
