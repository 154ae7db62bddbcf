// The store layer: one range read of the prefix, then ONE watch stream from the next revision,
// for the whole process. It resumes after any break from the last applied event's
// mod_revision + 1, re-reads once when etcd says that revision was compacted, fails over
// between endpoints, and notices a frozen etcd (or a frozen `etcd grpc-proxy` in front of it)
// through keepalive and its own liveness probe.
//
// Built to stand behind `etcd grpc-proxy` as well as on etcd itself:
// - The read is serializable, so a proxy can answer it from its cache: a snapshot at R plus a
//   watch from R+1 is complete whatever R is, as long as etcd still has R+1 (see readSnapshot
//   for when it does not). It is paged (`limit`, then the next key at the first page's
//   revision): a proxy sends at most 1.5 MiB per message by default (--max-send-bytes). A
//   cached read far behind etcd is read again from etcd (see cachedReadIsStale).
// - The watch: a main watch from just past etcd's newest revision, which a proxy serves from
//   the etcd watch it already holds, and for a start a catch-up watch on the same stream up to
//   it (see watch-session.ts and handover.ts).
// - Liveness: the proxy drops watch progress requests ("not supported request type") and
//   sends progress notifications only as etcd does (every 10 min). What both answer is a watch
//   create on the same stream: etcd answers `created` itself; the proxy first reads the key
//   from etcd (its permission check), then answers. So a short-lived second watch, created and
//   cancelled on our stream when it has been quiet, proves our stream, the proxy and etcd alive.
import type { Logger } from '../util/log.js';
import { EtcdClient, prefixEnd, type KeyValue } from './etcd-client.js';
import { INSTANCES_PREFIX } from './registry.js';
import { cleanEtcdError, FailureLog, type OutageStatus } from './failure-log.js';
import { hasPrefix, keyFromBytes } from './etcd-key.js';
import { Handover } from './handover.js';
import { ReadAgainError, WatchSession } from './watch-session.js';

export interface StoreKV {
  key: string;
  value: string;
  modRevision: number;
}

export interface StoreChange {
  type: 'put' | 'delete';
  key: string;
  /** The new value (puts only). */
  value: string;
  modRevision: number;
}

/** Where the store delivers what it reads; called synchronously, in revision order. */
export interface StoreSink {
  /** The whole prefix at `revision` (start-up, or after a compaction made resuming impossible). */
  snapshot(kvs: StoreKV[], revision: number): void;
  /** The events of one watch response, in order. */
  events(changes: StoreChange[], revision: number): void;
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export interface StoreStatus extends OutageStatus {
  state: ConnectionState;
  endpoint: string;
  /** The last revision etcd told us about (events, progress or a read). */
  revision: number;
  /** When etcd last answered anything (ms since epoch), or null. */
  lastContactAt: number | null;
  snapshots: number;
  reconnects: number;
  compactionsSeen: number;
  /** Snapshots a cache (a proxy's) served too old to resume from, read again from etcd itself. */
  staleReads: number;
  /** Snapshots a cache served far behind etcd, read again from etcd itself (see cachedReadIsStale). */
  refreshedReads: number;
  /** Small reads besides the snapshot's pages: etcd's newest revision, whether a cached read was stale. */
  checkReads: number;
  /** Keys per read page now (halved whenever a hop refuses a page as too large). */
  pageLimit: number;
  lastSnapshot: { revision: number; keys: number; pages: number; linearizable: boolean; readMs: number } | null;
  /** Times a proxy skipped events of the catch-up watch and the snapshot was read again (see `skipped` in watch-session.ts). */
  lostEventsSeen: number;
  /** Catch-up watches replaced by a new one where etcd's replay of history was cut into batches (see cappedReplay in watch-session.ts). */
  catchUpsResumed: number;
  /** A catch-up watch is bringing us to the main watch's start (see handover.ts). */
  catchingUp: boolean;
  /** Catch-up watches opened, and how many of them a settled main watch replaced (see handover.ts). */
  catchUps: number;
  settled: number;
  /**
   * Whether the endpoint is a grpc-proxy rather than etcd (it left a watch progress request
   * unanswered; see watch). Null before the first watch.
   */
  behindProxy: boolean | null;
  /**
   * Whether the main watch's create was answered by a proxy itself, serving it from an etcd
   * watch it already held (the answer's header has no etcd member id). False: etcd opened a
   * watch for it (etcd itself, or a proxy with none to share). Null before the first.
   */
  mainShared: boolean | null;
  /** The window the first read's random wait was drawn from (ms; see startSpreadMs), once known. */
  startSpreadMs: number | null;
  /** Liveness probes answered, and the last one's round trip. */
  probes: number;
  lastProbeMs: number | null;
  lastError: string | null;
}

export interface EtcdStoreOptions {
  endpoints: string[];
  prefix: string;
  logger: Logger;
  /** How long the watch may stay quiet before a liveness probe is sent, to tell a frozen etcd (or proxy) from a quiet one. */
  probeIntervalMs?: number;
  /** How long a probe (or the watch's own create) may go unanswered before the stream is given up and re-opened. */
  probeTimeoutMs?: number;
  /** Deadline of each page of the start-up/resync read. */
  readTimeoutMs?: number;
  /** Keys per page of the read (default 64: ~1 MB of LAIN pod groups, under a proxy's 1.5 MiB). */
  pageLimit?: number;
  /**
   * Key prefixes (inside `prefix`) written often, e.g. the instance registry's: read after the
   * rest, so that their writes through a proxy (which evict cached reads whose range holds the
   * key) do not evict the cached read of everything else. Default: the instance registry's.
   */
  volatilePrefixes?: string[];
  /**
   * The first read waits a random 0..this ms (default 1000; 0: no wait at all). When a whole
   * cluster restarts at once, a proxy answers only the first of many identical reads from etcd
   * if that first one has had time to fill its cache; a second of spread is enough for that (a
   * page through a proxy takes milliseconds) and costs a node's start at most a second. On a
   * large cluster the spread grows with it (see startSpreadMs).
   */
  firstReadJitterMs?: number;
  /** Per node of the cluster (or live lainlet in the registry, if more), this much more spread of the first read (default 10 ms, up to maxStartSpreadMs). */
  startSpreadPerInstanceMs?: number;
  maxStartSpreadMs?: number;
  /**
   * A cluster written to without pause would keep the catch-up watch open until the main
   * watch's lead is written (hours at a few writes a second): after this long (default 30 s) it
   * is settled whenever the node is level with etcd, quiet or not, tried at most every
   * settleBusyEveryMs (default 10 s; each try is one small read of etcd's newest revision).
   */
  settleBusyAfterMs?: number;
  settleBusyEveryMs?: number;
  /**
   * Whether a serializable (cached) read far behind etcd may be read again from etcd when that
   * costs etcd less than catching up from it (default true; see cachedReadIsStale). Off: always
   * caught up from, whatever the cost (tests of the catch-up).
   */
  refreshStaleReads?: boolean;
  /**
   * Whether a catch-up watch through a proxy is replaced by a new one where etcd cuts its replay
   * of history into batches (default true; see cappedReplay in watch-session.ts). Off: the proxy may skip events,
   * noticed and read again (tests of that guard).
   */
  resumeCappedCatchUps?: boolean;
}

/**
 * How far past etcd's newest revision the main watch starts behind a proxy (see handover.ts).
 * A proxy serves it from an etcd watch it holds only if that one has not gone past our start by
 * the time our create reaches it; in a cold start or restart storm of a thousand nodes etcd
 * writes hundreds of registry revisions a second and a busy node's create can take seconds to
 * arrive. With 32, half of 1000 nodes' creates came too late and ~20 spare etcd watches per
 * proxy stayed; with 2000, 1-2 (bench/SCALE.md). The catch-up watch covers the lead: it lives
 * until that many revisions have been written or it is settled (see WatchSession.settle).
 */
const MAIN_WATCH_LEAD = 2_000;

/**
 * The main watch's start behind a proxy is rounded up to a multiple of this: nodes that read
 * etcd's newest revision within the same window ask for the same start. A proxy cannot serve a
 * watch from an etcd watch that starts later than it asks, so two nodes whose reads and creates
 * crossed (one read first, the other's create came first) left two etcd watches from two future
 * revisions, each soon with 5+ nodes, which the proxy never merges: 2-3 per proxy in a cold start
 * of 1000 nodes.
 */
const MAIN_WATCH_GRID = 1_024;

/** How long a watch progress request may go unanswered before the endpoint is taken for a proxy (etcd answers in a round trip). */
const PROXY_DETECT_MS = 500;

/** Where deployd lists the cluster's nodes, one key each (see startSpreadMs). */
const LAIN_NODES_PREFIX = '/lain/nodes/nodes/';

/** A serializable read this close to etcd's newest revision is used as it is (see cachedReadIsStale). */
const STALE_AFTER_REVISIONS = 64;

/** A registry entry's size (key and value, bytes) when a read holds none to measure (see cachedReadIsStale). */
const REGISTRY_ENTRY_BYTES = 256;

/**
 * Proxies assumed to share a cluster's nodes when weighing a re-read against catching up (see
 * cachedReadIsStale); the balance moves with its square root only.
 */
const ASSUMED_PROXIES = 2;

/** The longest random wait before a node that found the cache stale looks again (see readSnapshot). */
const REFRESH_HERD_WAIT_MS = 1_000;

/** The key the liveness probe watches: inside the prefix (a proxy's permission check reads it), never written. */
const PROBE_SUFFIX = 'lainlet/liveness-probe';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export class EtcdStore {
  private readonly clients = new Map<string, EtcdClient>();
  /** Endpoints seen answering a watch progress request: etcd itself, not a proxy. */
  private readonly etcdItself = new Set<EtcdClient>();
  private endpointIndex = 0;
  private nextRevision = 0;
  private needSnapshot = true;
  /** A snapshot older than this cannot be resumed from (etcd compacted up to it): set by a compaction. */
  private minSnapshotRevision = 0;
  private closed = false;
  private markClosed: () => void = () => {};
  /** Settles on close(): ends the start-up wait at once. */
  private readonly closing = new Promise<void>((resolve) => (this.markClosed = resolve));
  private cancelCurrent: (() => void) | null = null;
  private readonly st: Omit<StoreStatus, keyof OutageStatus>;
  private readonly failures: FailureLog;
  private readonly opts: Required<Omit<EtcdStoreOptions, 'logger'>> & { logger: Logger };

  constructor(options: EtcdStoreOptions, private readonly sink: StoreSink) {
    if (options.endpoints.length === 0) throw new Error('no etcd endpoint given');
    if (options.pageLimit !== undefined && !(options.pageLimit >= 1)) throw new Error('pageLimit must be at least 1');
    this.opts = {
      probeIntervalMs: 4_000,
      probeTimeoutMs: 4_000,
      readTimeoutMs: 60_000,
      pageLimit: 64,
      volatilePrefixes: [INSTANCES_PREFIX],
      firstReadJitterMs: 1_000,
      startSpreadPerInstanceMs: 10,
      maxStartSpreadMs: 10_000,
      settleBusyAfterMs: 30_000,
      settleBusyEveryMs: 10_000,
      refreshStaleReads: true,
      resumeCappedCatchUps: true,
      ...options,
    };
    this.failures = new FailureLog(options.logger);
    this.st = {
      state: 'connecting',
      endpoint: options.endpoints[0],
      revision: 0,
      lastContactAt: null,
      snapshots: 0,
      reconnects: 0,
      compactionsSeen: 0,
      staleReads: 0,
      refreshedReads: 0,
      checkReads: 0,
      pageLimit: this.opts.pageLimit,
      lastSnapshot: null,
      lostEventsSeen: 0,
      catchUpsResumed: 0,
      catchingUp: false,
      catchUps: 0,
      settled: 0,
      behindProxy: null,
      mainShared: null,
      startSpreadMs: null,
      probes: 0,
      lastProbeMs: null,
      lastError: null,
    };
  }

  status(): StoreStatus {
    return { ...this.st, ...this.failures.status() };
  }

  /** Runs until close(); never rejects (every failure is retried with backoff). */
  async run(): Promise<void> {
    let backoff = 250;
    // Start-up only (see firstReadJitterMs): a cluster restarting at once spreads out.
    const spreadMs = await this.startSpreadMs();
    this.st.startSpreadMs = spreadMs;
    await Promise.race([sleep(Math.random() * spreadMs), this.closing]);
    while (!this.closed) {
      const client = this.client();
      this.st.endpoint = client.endpoint;
      try {
        if (this.needSnapshot) await this.readSnapshot(client);
        await this.watch(client);
        backoff = 250;
      } catch (err) {
        if (this.closed) break;
        if (err instanceof ReadAgainError) {
          this.st[err.seen]++;
          this.needSnapshot = true;
          this.minSnapshotRevision = err.notBefore;
          this.opts.logger.warn({ err: err.message, from: this.nextRevision }, 'the watch cannot go on from our revision: re-reading once');
          continue;
        }
        // A stream that was up and then broke starts over with a short wait.
        const wasConnected = this.st.state === 'connected';
        if (wasConnected) backoff = 250;
        this.st.state = 'disconnected';
        this.st.lastError = cleanEtcdError((err as Error).message);
        this.st.reconnects++;
        this.failures.failed(client.endpoint, this.st.lastError, backoff, wasConnected);
        // Try the next member: a dead one keeps failing, a live one answers.
        this.endpointIndex = (this.endpointIndex + 1) % this.opts.endpoints.length;
        // Short and capped: etcd must be used again within ~1 s of coming back (a failed
        // connect to a dead member costs it nothing), and jitter spreads a cluster's nodes.
        await sleep(backoff * (0.75 + Math.random() * 0.5));
        backoff = Math.min(backoff * 2, 1_000);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.markClosed();
    this.cancelCurrent?.();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /**
   * How long the first read may wait: firstReadJitterMs, or more on a large cluster. Nodes that
   * start together (a restart storm) then reach each proxy a few dozen a second instead of a
   * few hundred, which its cache and its etcd watch absorb (see the README, "Running on a large
   * cluster"). How many may start together: the larger of LAIN's node list (`/lain/nodes/nodes/`,
   * there before any lainlet starts) and the registry of live lainlets; both counts, which a
   * proxy answers from its cache. Unknown (not readable yet): the plain jitter.
   */
  private async startSpreadMs(): Promise<number> {
    const base = this.opts.firstReadJitterMs;
    if (base === 0) return 0;
    try {
      const counts = await Promise.all([INSTANCES_PREFIX, LAIN_NODES_PREFIX].map((p) => this.checked(this.client().countKeys(p, 2_000))));
      return Math.max(base, Math.min(this.opts.maxStartSpreadMs, Math.max(...counts) * this.opts.startSpreadPerInstanceMs));
    } catch {
      return base;
    }
  }

  /** etcd's newest revision, asked of etcd itself (through a proxy too): one of the small reads. */
  private headRevision(client: EtcdClient, timeoutMs: number): Promise<number> {
    return this.checked(client.headRevision(this.opts.prefix + PROBE_SUFFIX, timeoutMs));
  }

  /** One of the store's small reads, counted once etcd has answered it (status().checkReads). */
  private async checked<T>(read: Promise<T>): Promise<T> {
    const answer = await read;
    this.st.checkReads++;
    return answer;
  }

  private client(): EtcdClient {
    const endpoint = this.opts.endpoints[this.endpointIndex];
    let c = this.clients.get(endpoint);
    if (!c) {
      c = new EtcdClient(endpoint);
      this.clients.set(endpoint, c);
    }
    return c;
  }

  private contact(revision: number) {
    this.st.lastContactAt = Date.now();
    this.failures.recovered(this.st.endpoint);
    if (revision > this.st.revision) this.st.revision = revision;
  }

  /**
   * The read plan: the prefix without its volatile parts first (its first page fixes the
   * revision of the whole read), then each volatile part.
   */
  private segments(): Array<{ range: [Buffer, Buffer]; volatile: boolean }> {
    const volatile = this.opts.volatilePrefixes.filter((v) => v.startsWith(this.opts.prefix)).sort();
    const out: Array<{ range: [Buffer, Buffer]; volatile: boolean }> = [];
    let from: Buffer = Buffer.from(this.opts.prefix);
    for (const v of volatile) {
      out.push({ range: [from, Buffer.from(v)], volatile: false });
      from = prefixEnd(Buffer.from(v));
    }
    out.push({ range: [from, prefixEnd(Buffer.from(this.opts.prefix))], volatile: false });
    return [...out, ...volatile.map((v) => ({ range: [Buffer.from(v), prefixEnd(Buffer.from(v))] as [Buffer, Buffer], volatile: true }))];
  }

  /**
   * Reads the prefix, page by page, at one revision. Serializable first, so that a proxy may
   * answer from its cache. A cached answer can be old: a proxy drops it only when a write to
   * its range passes through that proxy, and deployd writes to etcd directly.
   * - Older than a compaction (R < minSnapshotRevision): etcd no longer has R+1 to resume from,
   *   so it is read again linearizably (which a proxy always forwards to etcd), or the node
   *   would re-read the same stale cached snapshot forever.
   * - Far behind etcd (see cachedReadIsStale): the watch from R+1 would replay everything
   *   written since, once per etcd watch the proxy opens for nodes starting together; one
   *   linearizable read instead, which also refreshes the proxy's cache for the nodes after us.
   */
  private async readSnapshot(client: EtcdClient) {
    const started = Date.now();
    let linearizable = false;
    let pages = 0;
    let waited = false;
    let refreshedByOther = false;
    for (;;) {
      // etcd's newest revision, for the staleness check, asked alongside (a round trip less: in a
      // restart storm each one can take seconds).
      const check: boolean = !linearizable && !refreshedByOther;
      const [read, head]: [PagedRead, number] = await Promise.all([this.readPages(client, linearizable), check ? this.headRevision(client, this.opts.readTimeoutMs) : 0]);
      pages += read.pages;
      if (check && !read.linearizable && (await this.cachedReadIsStale(client, read.kvs, read.revision, head))) {
        if (!waited) {
          // Nodes starting together find the same stale cache: the first to read again from etcd
          // refreshes it for the rest, who look at the cached revision again after a random wait
          // and read what it refreshed (without the wait, every node that came while the first
          // read was on its way read again too).
          waited = true;
          await Promise.race([sleep(Math.random() * REFRESH_HERD_WAIT_MS), this.closing]);
          if (this.closed) return;
          // Refreshed meanwhile: as fresh as it gets in a storm; caught up from, whatever came since.
          refreshedByOther = (await this.cachedRevision(client)) > read.revision;
          if (refreshedByOther) continue;
        }
        this.st.refreshedReads++;
        linearizable = true;
        continue;
      }
      const { kvs, revision } = read;
      const readMs = Date.now() - started;
      this.contact(revision);
      this.st.snapshots++;
      this.st.lastSnapshot = { revision, keys: kvs.length, pages, linearizable: read.linearizable, readMs };
      this.needSnapshot = false;
      this.minSnapshotRevision = 0;
      this.nextRevision = revision + 1;
      this.sink.snapshot(kvs.map(toStoreKV), revision);
      this.opts.logger.info({ keys: kvs.length, revision, pages, linearizable: read.linearizable, readMs, applyMs: Date.now() - started - readMs }, 'read etcd snapshot');
      return;
    }
  }

  /**
   * The read's first page, which fixes its revision: one key, so that a node can tell the
   * revision of a proxy's cached read cheaply (see cachedRevision: the same request, the same
   * cache entry), and a read again from etcd refreshes that entry for other nodes at once.
   */
  private firstPage(client: EtcdClient, serializable: boolean) {
    const [from, to] = this.segments()[0].range;
    return client.rangePage(from, to, this.opts.readTimeoutMs, { serializable, revision: 0, limit: 1 });
  }

  /** The revision of the read's first page as a proxy's cache holds it. */
  private async cachedRevision(client: EtcdClient): Promise<number> {
    return (await this.checked(this.firstPage(client, true))).revision;
  }

  /** One pass of the read plan; `linearizable` turns true when a cached answer proves older than a compaction. */
  private async readPages(client: EtcdClient, linearizable: boolean): Promise<PagedRead> {
    const kvs: KeyValue[] = [];
    let revision = 0;
    let pages = 0;
    for (const { range } of this.segments()) {
      let from = range[0];
      for (;;) {
        const limit = this.st.pageLimit;
        let page: Awaited<ReturnType<EtcdClient['rangePage']>>;
        try {
          page = revision === 0 ? await this.firstPage(client, !linearizable) : await client.rangePage(from, range[1], this.opts.readTimeoutMs, { serializable: true, revision, limit });
        } catch (err) {
          if (revision === 0 || !isTooLarge(err) || limit === 1) throw err;
          // A hop (a proxy's --max-send-bytes, 1.5 MiB by default) refused the page: smaller pages, from now on.
          this.st.pageLimit = Math.max(1, Math.floor(limit / 2));
          this.opts.logger.info({ pageLimit: this.st.pageLimit, err: (err as Error).message }, 'etcd read page too large: paging smaller');
          continue;
        }
        pages++;
        if (revision === 0) {
          if (page.revision < this.minSnapshotRevision) {
            this.st.staleReads++;
            this.opts.logger.warn({ revision: page.revision, compacted: this.minSnapshotRevision }, 'the serializable read (a proxy cache) is older than a revision it must include (a compaction, or events a proxy skipped): reading from etcd itself');
            linearizable = true;
            continue;
          }
          revision = page.revision;
        }
        kvs.push(...page.kvs);
        if (!page.more || page.kvs.length === 0) break;
        from = Buffer.concat([page.kvs[page.kvs.length - 1].key, Buffer.from([0])]);
      }
    }
    return { kvs, revision, pages, linearizable };
  }

  /**
   * Whether a serializable (cached) read is so far behind etcd that it should be read again from
   * etcd rather than caught up from. Catching up replays everything written since, each event
   * with its previous value (a proxy asks for those), once per etcd watch the proxy opens for it:
   * when nodes start together, each of them replays it. One read from etcd refreshes the proxy's
   * cache for all who come after (the others wait a moment for it: see readSnapshot).
   *
   * In a restart storm every node writes two registry revisions (its old key goes, its new one
   * comes), so a proxy's cache falls behind by 2P revisions (P proxies) per node that starts
   * behind it. Re-reading every K revisions costs a read (F bytes) per K and leaves each node a
   * replay of K/2 revisions (e bytes each): the sum is least at K = sqrt(4PF/e), a replay of
   * sqrt(4PFe) bytes, the threshold here. A small cluster (a few hundred KB) is read again after
   * about a hundred registry writes; a large one (19.5 MB) after about 500, or ~15 pod-group
   * writes (estimated at twice the read's mean value size per key written; the keys are asked of
   * etcd, as many as could tip the balance). A lone node on a large cluster then reads from
   * etcd where a replay would have done, as every node of the Go lainlet does at every start.
   * A fresh read (etcd itself answered it) is within a few revisions and costs one small read to
   * tell.
   */
  private async cachedReadIsStale(client: EtcdClient, kvs: KeyValue[], revision: number, head: number): Promise<boolean> {
    const behind = head - revision;
    if (behind <= STALE_AFTER_REVISIONS || !this.opts.refreshStaleReads) return false;
    const size = readSize(kvs, this.opts.volatilePrefixes);
    const perClusterKey = 2 * (size.cluster.keys ? size.cluster.bytes / size.cluster.keys : 0);
    const perOtherRevision = 2 * (size.volatile.keys ? size.volatile.bytes / size.volatile.keys : REGISTRY_ENTRY_BYTES);
    const threshold = Math.sqrt(4 * ASSUMED_PROXIES * size.bytes * perOtherRevision);
    // More written keys than this would tip the balance on their own: no need to list them all.
    const enough = Math.min(behind, perClusterKey > 0 ? Math.ceil(threshold / perClusterKey) + 1 : 1);
    let written = 0;
    for (const { range, volatile } of this.segments()) {
      if (volatile || written >= enough) continue;
      written += await this.checked(client.keysWrittenSince(range[0], range[1], revision, enough - written, this.opts.readTimeoutMs));
    }
    const replayBytes = written * perClusterKey + (behind - written) * perOtherRevision;
    if (replayBytes <= threshold) return false;
    this.opts.logger.info({ revision, head, clusterKeysWritten: written, replayBytes: Math.round(replayBytes), threshold: Math.round(threshold) }, 'the serializable read (a proxy cache) is far behind etcd: reading from etcd itself');
    return true;
  }

  /**
   * Whether `client`'s endpoint is a grpc-proxy: it leaves watch progress requests unanswered,
   * where etcd answers at once. Once seen answering, an endpoint is etcd for good; otherwise it is
   * asked again at the next watch (a slow etcd taken for a proxy costs only a catch-up watch).
   */
  private async behindProxy(client: EtcdClient): Promise<boolean> {
    if (!this.etcdItself.has(client) && (await client.answersProgress(PROXY_DETECT_MS))) this.etcdItself.add(client);
    this.st.behindProxy = !this.etcdItself.has(client);
    return this.st.behindProxy;
  }

  /**
   * Watches until the stream breaks; rejects with the reason. Behind a proxy the main watch
   * starts past etcd's newest revision and a catch-up watch brings us there (see handover.ts);
   * straight to etcd there is one watch from where we are.
   */
  private async watch(client: EtcdClient): Promise<void> {
    const head = await this.headRevision(client, this.opts.probeTimeoutMs);
    this.contact(head);
    const proxied = await this.behindProxy(client);
    if (this.closed) return; // close() came during those: no stream to open
    // Through a proxy, well past etcd's newest: its etcd watches move on while our create is
    // on its way, and one that is ahead of our start cannot serve us. Straight to etcd, where
    // every node's watch is its own anyway, from where we are: one watch, no catch-up.
    const ahead = Math.ceil((head + 1 + MAIN_WATCH_LEAD) / MAIN_WATCH_GRID) * MAIN_WATCH_GRID;
    const handover = new Handover(this.nextRevision, proxied ? Math.max(this.nextRevision, ahead) : this.nextRevision);
    const session = new WatchSession({
      client,
      prefix: this.opts.prefix,
      probeKey: this.opts.prefix + PROBE_SUFFIX,
      proxied,
      handover,
      probeIntervalMs: this.opts.probeIntervalMs,
      probeTimeoutMs: this.opts.probeTimeoutMs,
      settleBusyAfterMs: this.opts.settleBusyAfterMs,
      settleBusyEveryMs: this.opts.settleBusyEveryMs,
      startSpreadMs: this.st.startSpreadMs ?? 0,
      resumeCappedCatchUps: this.opts.resumeCappedCatchUps,
      logger: this.opts.logger,
      status: this.st,
      contact: (revision) => this.contact(revision),
      checked: (read) => this.checked(read),
      headRevision: (timeoutMs) => this.headRevision(client, timeoutMs),
      apply: (changes) => {
        if (changes.length === 0) return;
        this.nextRevision = handover.nextRevision;
        this.sink.events(changes, changes[changes.length - 1].modRevision);
      },
    });
    this.cancelCurrent = () => session.cancel();
    try {
      await session.done;
    } finally {
      this.cancelCurrent = null;
    }
  }
}

/** One pass of the read plan (see readPages). */
interface PagedRead {
  kvs: KeyValue[];
  revision: number;
  pages: number;
  linearizable: boolean;
}

/** A page refused for its size: by the sender (RESOURCE_EXHAUSTED) or, in some gRPC versions, as a receive error. */
function isTooLarge(err: unknown): boolean {
  const e = err as { code?: number; details?: string; message?: string };
  return e.code === 8 || /larger than max|message too large/i.test(e.details ?? e.message ?? '');
}

/** Bytes of keys and values in a read, in all and split into the volatile prefixes' and the rest ("cluster"). */
function readSize(kvs: KeyValue[], volatilePrefixes: string[]) {
  const volatile = volatilePrefixes.map((p) => Buffer.from(p));
  const size = { bytes: 0, cluster: { keys: 0, bytes: 0 }, volatile: { keys: 0, bytes: 0 } };
  for (const kv of kvs) {
    const bytes = kv.key.length + kv.value.length;
    const part = volatile.some((p) => hasPrefix(kv.key, p)) ? size.volatile : size.cluster;
    part.keys++;
    part.bytes += bytes;
    size.bytes += bytes;
  }
  return size;
}

function toStoreKV(kv: KeyValue): StoreKV {
  return { key: keyFromBytes(kv.key), value: kv.value.toString('utf8'), modRevision: kv.modRevision };
}
