// The store layer: one range read of the prefix, then ONE watch stream from the next revision,
// for the whole process. It resumes after any break from the last applied event's
// mod_revision + 1, re-reads once when etcd says that revision was compacted, fails over
// between endpoints, and notices a frozen etcd through keepalive and its own progress probe.
import type { Logger } from '../util/log.js';
import { EtcdClient, type KeyValue, type WatchResponse } from './etcd-client.js';
import { Event_EventType } from './gen/rpc.js';
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

export interface StoreStatus {
  state: ConnectionState;
  endpoint: string;
  /** The last revision etcd told us about (events, progress or a read). */
  revision: number;
  /** When etcd last answered anything (ms since epoch), or null. */
  lastContactAt: number | null;
  snapshots: number;
  reconnects: number;
  compactionsSeen: number;
  lastError: string | null;
}

export interface EtcdStoreOptions {
  endpoints: string[];
  prefix: string;
  logger: Logger;
  /** How often the store asks etcd for a progress report on the watch, to tell a frozen etcd from a quiet one. */
  probeIntervalMs?: number;
  /** How long a probe may go unanswered before the stream is given up and re-opened. */
  probeTimeoutMs?: number;
  /** Deadline of the start-up/resync read. */
  readTimeoutMs?: number;
}

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
  private closed = false;
  private cancelCurrent: (() => void) | null = null;
  private readonly st: StoreStatus;
  private readonly opts: Required<Omit<EtcdStoreOptions, 'logger'>> & { logger: Logger };

  constructor(options: EtcdStoreOptions, private readonly sink: StoreSink) {
    if (options.endpoints.length === 0) throw new Error('no etcd endpoint given');
    this.opts = { probeIntervalMs: 5_000, probeTimeoutMs: 5_000, readTimeoutMs: 60_000, ...options };
    this.st = {
      state: 'connecting',
      endpoint: options.endpoints[0],
      revision: 0,
      lastContactAt: null,
      snapshots: 0,
      reconnects: 0,
      compactionsSeen: 0,
      lastError: null,
    };
  }

  status(): StoreStatus {
    return { ...this.st };
  }

  /** Runs until close(); never rejects (every failure is retried with backoff). */
  async run(): Promise<void> {
    let backoff = 250;
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
          this.opts.logger.warn({ err: err.message, from: this.nextRevision }, 'etcd compacted past our revision: re-reading once');
          continue;
        }
        // A stream that was up and then broke starts over with a short wait.
        if (this.st.state === 'connected') backoff = 250;
        this.st.state = 'disconnected';
        this.st.lastError = (err as Error).message;
        this.st.reconnects++;
        this.opts.logger.warn({ endpoint: client.endpoint, err: (err as Error).message, retryInMs: backoff }, 'etcd connection lost');
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
    if (revision > this.st.revision) this.st.revision = revision;
  }

  private async readSnapshot(client: EtcdClient) {
    const started = Date.now();
    const { revision, kvs } = await client.rangePrefix(this.opts.prefix, this.opts.readTimeoutMs);
    const readMs = Date.now() - started;
    this.contact(revision);
    this.st.snapshots++;
    this.needSnapshot = false;
    this.nextRevision = revision + 1;
    this.sink.snapshot(kvs.map(toStoreKV), revision);
    this.opts.logger.info({ keys: kvs.length, revision, readMs, applyMs: Date.now() - started - readMs }, 'read etcd snapshot');
  }

  /** Watches from nextRevision until the stream breaks; rejects with the reason. */
  private watch(client: EtcdClient): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const stream = client.watchPrefix(this.opts.prefix, this.nextRevision);
      let settled = false;
      let probeSentAt: number | null = null;
      const finish = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearInterval(probe);
        this.cancelCurrent = null;
        stream.removeAllListeners('data');
        stream.on('error', () => {}); // the cancel below reports CANCELLED: expected
        stream.cancel();
        if (err) reject(err);
        else resolve();
      };
      this.cancelCurrent = () => finish(null);
      const probe = setInterval(() => {
        if (probeSentAt !== null && Date.now() - probeSentAt > this.opts.probeTimeoutMs) {
          finish(new Error(`etcd did not answer a watch progress probe within ${this.opts.probeTimeoutMs} ms`));
          return;
        }
        if (probeSentAt === null) {
          probeSentAt = Date.now();
          stream.write({ progressRequest: {} });
        }
      }, Math.min(this.opts.probeIntervalMs, this.opts.probeTimeoutMs) / 2);
      probe.unref();

      stream.on('data', (res: WatchResponse) => {
        probeSentAt = null;
        this.contact(res.header?.revision ?? 0);
        if (res.compactRevision > 0) {
          finish(new CompactedError(res.compactRevision));
          return;
        }
        if (res.canceled) {
          finish(new Error(`etcd cancelled the watch: ${res.cancelReason || 'no reason given'}`));
          return;
        }
        if (res.created) {
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

function toStoreKV(kv: KeyValue): StoreKV {
  return { key: keyFromBytes(kv.key), value: kv.value.toString('utf8'), modRevision: kv.modRevision };
}
