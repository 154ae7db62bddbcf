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
//   revision): a proxy sends at most 1.5 MiB per message by default (--max-send-bytes).
// - Liveness: the proxy drops watch progress requests ("not supported request type") and
//   sends progress notifications only as etcd does (every 10 min). What both answer is a watch
//   create on the same stream: etcd answers `created` itself; the proxy first reads the key
//   from etcd (its permission check), then answers. So a short-lived second watch, created and
//   cancelled on our stream when it has been quiet, proves our stream, the proxy and etcd alive.
import type { Logger } from '../util/log.js';
import { EtcdClient, endOnce, prefixEnd, type KeyValue, type WatchResponse } from './etcd-client.js';
import { Event_EventType } from './gen/rpc.js';
import { INSTANCES_PREFIX } from './registry.js';
import { cleanEtcdError, FailureLog, type OutageStatus } from './failure-log.js';
import { keyFromBytes } from './etcd-key.js';

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
  /** Keys per read page now (halved whenever a hop refuses a page as too large). */
  pageLimit: number;
  lastSnapshot: { revision: number; keys: number; pages: number; linearizable: boolean; readMs: number } | null;
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
   * The first read waits a random 0..this ms (default 1000). When a whole cluster restarts at
   * once, a proxy answers only the first of many identical reads from etcd if that first one
   * has had time to fill its cache; a second of spread is enough for that (a page through a
   * proxy takes milliseconds) and costs a node's start at most a second.
   */
  firstReadJitterMs?: number;
}

/** The key the liveness probe watches: inside the prefix (a proxy's permission check reads it), never written. */
const PROBE_SUFFIX = 'lainlet/liveness-probe';

class CompactedError extends Error {
  constructor(readonly compactRevision: number) {
    super(`revision compacted (etcd compact_revision ${compactRevision})`);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export class EtcdStore {
  private readonly clients = new Map<string, EtcdClient>();
  private endpointIndex = 0;
  private nextRevision = 0;
  private needSnapshot = true;
  /** A snapshot older than this cannot be resumed from (etcd compacted up to it): set by a compaction. */
  private minSnapshotRevision = 0;
  private closed = false;
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
      pageLimit: this.opts.pageLimit,
      lastSnapshot: null,
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
    // Start-up only (see firstReadJitterMs): a cluster restarting at once spreads over a second.
    await sleep(Math.random() * this.opts.firstReadJitterMs);
    while (!this.closed) {
      const client = this.client();
      this.st.endpoint = client.endpoint;
      try {
        if (this.needSnapshot) await this.readSnapshot(client);
        await this.watch(client);
        backoff = 250;
      } catch (err) {
        if (this.closed) break;
        if (err instanceof CompactedError) {
          this.st.compactionsSeen++;
          this.needSnapshot = true;
          this.minSnapshotRevision = err.compactRevision;
          this.opts.logger.warn({ err: err.message, from: this.nextRevision }, 'etcd compacted past our revision: re-reading once');
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
    this.cancelCurrent?.();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
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
  private segments(): Array<[Buffer, Buffer]> {
    const volatile = this.opts.volatilePrefixes.filter((v) => v.startsWith(this.opts.prefix)).sort();
    const out: Array<[Buffer, Buffer]> = [];
    let from: Buffer = Buffer.from(this.opts.prefix);
    for (const v of volatile) {
      out.push([from, Buffer.from(v)]);
      from = prefixEnd(Buffer.from(v));
    }
    out.push([from, prefixEnd(Buffer.from(this.opts.prefix))]);
    return [...out, ...volatile.map((v): [Buffer, Buffer] => [Buffer.from(v), prefixEnd(Buffer.from(v))])];
  }

  /**
   * Reads the prefix, page by page, at one revision. Serializable first, so that a proxy may
   * answer from its cache. Resume rule for the read: a snapshot at R is usable only if etcd
   * still has R+1 (R >= minSnapshotRevision, raised by a compaction); a cached answer older than
   * that is read again linearizably (which a proxy always forwards to etcd), or the node would
   * re-read the same stale cached snapshot forever.
   */
  private async readSnapshot(client: EtcdClient) {
    const started = Date.now();
    const kvs: KeyValue[] = [];
    let revision = 0;
    let linearizable = false;
    let pages = 0;
    for (const [start, end] of this.segments()) {
      let from = start;
      for (;;) {
        const limit = this.st.pageLimit;
        let page: Awaited<ReturnType<EtcdClient['rangePage']>>;
        try {
          page = await client.rangePage(from, end, this.opts.readTimeoutMs, { serializable: !linearizable || revision > 0, revision, limit });
        } catch (err) {
          if (!isTooLarge(err) || limit === 1) throw err;
          // A hop (a proxy's --max-send-bytes, 1.5 MiB by default) refused the page: smaller pages, from now on.
          this.st.pageLimit = Math.max(1, Math.floor(limit / 2));
          this.opts.logger.info({ pageLimit: this.st.pageLimit, err: (err as Error).message }, 'etcd read page too large: paging smaller');
          continue;
        }
        pages++;
        if (revision === 0) {
          if (page.revision < this.minSnapshotRevision) {
            this.st.staleReads++;
            this.opts.logger.warn({ revision: page.revision, compacted: this.minSnapshotRevision }, 'the serializable read was older than the compaction (a proxy cache): reading from etcd itself');
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
    const readMs = Date.now() - started;
    this.contact(revision);
    this.st.snapshots++;
    this.st.lastSnapshot = { revision, keys: kvs.length, pages, linearizable, readMs };
    this.needSnapshot = false;
    this.minSnapshotRevision = 0;
    this.nextRevision = revision + 1;
    this.sink.snapshot(kvs.map(toStoreKV), revision);
    this.opts.logger.info({ keys: kvs.length, revision, pages, linearizable, readMs, applyMs: Date.now() - started - readMs }, 'read etcd snapshot');
  }

  /** Watches from nextRevision until the stream breaks; rejects with the reason. */
  private watch(client: EtcdClient): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const stream = client.watchPrefix(this.opts.prefix, this.nextRevision);
      // The watch's own create is the first probe: etcd (or the proxy) must answer it in time.
      let mainWatchId: number | null = null;
      let probeSentAt: number | null = Date.now();
      let lastHeardAt = Date.now();
      const finish = endOnce(
        stream,
        () => {
          clearInterval(probe);
          this.cancelCurrent = null;
        },
        (err) => (err ? reject(err) : resolve()),
      );
      this.cancelCurrent = () => finish(null);
      const probe = setInterval(() => {
        const now = Date.now();
        if (probeSentAt !== null) {
          if (now - probeSentAt > this.opts.probeTimeoutMs) {
            const what = mainWatchId === null ? 'the watch create' : 'a liveness probe (a watch create)';
            finish(new Error(`etcd did not answer ${what} within ${this.opts.probeTimeoutMs} ms`));
          }
          return;
        }
        // Only a quiet stream is probed: events and answers already prove it alive.
        if (now - lastHeardAt >= this.opts.probeIntervalMs) {
          probeSentAt = now;
          EtcdClient.writeProbeCreate(stream, this.opts.prefix + PROBE_SUFFIX);
        }
      }, Math.min(this.opts.probeIntervalMs, this.opts.probeTimeoutMs) / 8);
      probe.unref();

      stream.on('data', (res: WatchResponse) => {
        lastHeardAt = Date.now();
        this.contact(res.header?.revision ?? 0);
        if (mainWatchId !== null && res.watchId !== mainWatchId) {
          // The probe's watch: created (answer it with a cancel), refused (etcd 3.4 answers a
          // refused create under watch_id -1), or the cancel's confirmation.
          if (res.created && probeSentAt !== null) {
            this.st.probes++;
            this.st.lastProbeMs = lastHeardAt - probeSentAt;
            probeSentAt = null;
          }
          if (res.created && !res.canceled) EtcdClient.writeCancel(stream, res.watchId);
          return;
        }
        if (res.compactRevision > 0) {
          finish(new CompactedError(res.compactRevision));
          return;
        }
        if (res.canceled) {
          finish(new Error(`etcd cancelled the watch: ${res.cancelReason || 'no reason given'}`));
          return;
        }
        if (res.created) {
          mainWatchId = res.watchId;
          probeSentAt = null;
          this.st.state = 'connected';
          this.st.lastError = null;
          this.opts.logger.info({ endpoint: client.endpoint, fromRevision: this.nextRevision }, 'watching etcd');
        }
        if (res.events.length === 0) return;
        const changes = res.events.flatMap((e): StoreChange[] => {
          if (!e.kv) return [];
          const removed = e.type === Event_EventType.DELETE;
          return [{ type: removed ? 'delete' : 'put', key: keyFromBytes(e.kv.key), value: removed ? '' : e.kv.value.toString('utf8'), modRevision: e.kv.modRevision }];
        });
        if (changes.length === 0) return;
        // Resume point: after the last event we applied, never the header's revision (which may
        // be ahead of events not yet delivered when a response is cut short).
        this.nextRevision = changes[changes.length - 1].modRevision + 1;
        this.sink.events(changes, changes[changes.length - 1].modRevision);
      });
      stream.on('error', (err) => finish(err));
      stream.on('end', () => finish(new Error('etcd closed the watch stream')));
    });
  }
}

/** A page refused for its size: by the sender (RESOURCE_EXHAUSTED) or, in some gRPC versions, as a receive error. */
function isTooLarge(err: unknown): boolean {
  const e = err as { code?: number; details?: string; message?: string };
  return e.code === 8 || /larger than max|message too large/i.test(e.details ?? e.message ?? '');
}

function toStoreKV(kv: KeyValue): StoreKV {
  return { key: keyFromBytes(kv.key), value: kv.value.toString('utf8'), modRevision: kv.modRevision };
}
