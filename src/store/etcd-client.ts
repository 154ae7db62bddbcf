// A thin client for the etcd v3 services lainlet uses, on @grpc/grpc-js with code generated
// offline from our own proto/etcd/rpc.proto (`npm run gen:proto`; committed, so no protoc at
// build time and no .proto parsing at start-up). Not the `etcd3` package: it loses events when
// it resumes a watch after a reconnect and drops `compact_revision` (see README).
import * as grpc from '@grpc/grpc-js';
import {
  CompactionRequest,
  DeleteRangeRequest,
  KVClient,
  LeaseClient,
  LeaseGrantRequest,
  LeaseRevokeRequest,
  PutRequest,
  RangeRequest,
  WatchCancelRequest,
  WatchClient,
  WatchCreateRequest,
  type KeyValue,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type RangeResponse,
  type WatchRequest,
  type WatchResponse,
} from './gen/rpc.js';

export type { KeyValue, LeaseKeepAliveResponse, WatchResponse };

/** How a range is read: `serializable` may be answered by any member or a proxy's cache. */
export interface RangeOptions {
  serializable?: boolean;
  /** Read at this revision (0: the newest). */
  revision?: number;
  /** At most this many keys (0: all); `more` says whether keys were left out. */
  limit?: number;
}

/** `http://host:port`, `host:port` -> `host:port` for grpc-js. */
export function normalizeEndpoint(endpoint: string): string {
  return endpoint.trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/** The smallest key greater than every key with this prefix: etcd's `range_end` for a prefix. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export interface EtcdClientOptions {
  /** Send keepalive pings this often so that a frozen etcd is noticed (etcd refuses pings more often than every 5 s). */
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
}

type Callback<T> = (err: grpc.ServiceError | null, res: T) => void;

/** A unary call as a promise, with a deadline. */
function call<Req, Res>(fn: (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: Callback<Res>) => unknown, req: Req, timeoutMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/**
 * The one way a stream of ours ends (the watch, the lease keep-alive): `cleanup`, then the stream
 * is cancelled (its CANCELLED error is expected and swallowed), then `done` with the reason
 * (null: closed on purpose). Later calls do nothing.
 */
export function endOnce<Req, Res>(stream: grpc.ClientDuplexStream<Req, Res>, cleanup: () => void, done: (err: Error | null) => void): (err: Error | null) => void {
  let ended = false;
  return (err) => {
    if (ended) return;
    ended = true;
    cleanup();
    stream.removeAllListeners('data');
    stream.on('error', () => {});
    stream.cancel();
    done(err);
  };
}

/** One connection (gRPC channel) to one etcd member. */
export class EtcdClient {
  readonly endpoint: string;
  private readonly kv: KVClient;
  private readonly watchClient: WatchClient;
  private readonly leaseClient: LeaseClient;

  constructor(endpoint: string, opts: EtcdClientOptions = {}) {
    this.endpoint = normalizeEndpoint(endpoint);
    const channelOptions: grpc.ChannelOptions = {
      // Real clusters hold tens of MB under /lain: never cap what etcd may send us.
      'grpc.max_receive_message_length': -1,
      'grpc.keepalive_time_ms': opts.keepaliveMs ?? 10_000,
      'grpc.keepalive_timeout_ms': opts.keepaliveTimeoutMs ?? 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 1_000,
      // A 16 MiB HTTP/2 window: the start-up read (tens of MB) streams without waiting on window updates.
      'grpc-node.flow_control_window': 16 << 20,
    };
    const creds = grpc.credentials.createInsecure();
    this.kv = new KVClient(this.endpoint, creds, channelOptions);
    // Same options and target: grpc-js shares one subchannel (TCP connection) between the two clients.
    this.watchClient = new WatchClient(this.endpoint, creds, channelOptions);
    this.leaseClient = new LeaseClient(this.endpoint, creds, channelOptions);
  }

  /** Every key under `prefix` at the latest revision: one read, no size limit. */
  async rangePrefix(prefix: string, timeoutMs: number): Promise<{ revision: number; kvs: KeyValue[] }> {
    const key = Buffer.from(prefix);
    const res = await this.range({ key, rangeEnd: prefixEnd(key) }, timeoutMs);
    return { revision: res.header?.revision ?? 0, kvs: res.kvs };
  }

  /** One page of `[key, rangeEnd)`: a limited, optionally serializable range, at a fixed revision when given. */
  async rangePage(key: Buffer, rangeEnd: Buffer, timeoutMs: number, opts: RangeOptions): Promise<{ revision: number; kvs: KeyValue[]; more: boolean }> {
    const res = await this.range({ key, rangeEnd, serializable: opts.serializable ?? false, revision: opts.revision ?? 0, limit: opts.limit ?? 0 }, timeoutMs);
    return { revision: res.header?.revision ?? 0, kvs: res.kvs, more: res.more };
  }

  /** Writes a key; with `lease`, the key goes when that lease ends. */
  async put(key: string, value: string, timeoutMs = 5_000, lease = 0): Promise<number> {
    const res = await call(this.kv.put.bind(this.kv), PutRequest.fromPartial({ key: Buffer.from(key), value: Buffer.from(value), lease }), timeoutMs);
    return res.header?.revision ?? 0;
  }

  async delete(key: string, timeoutMs = 5_000): Promise<number> {
    const res = await call(this.kv.deleteRange.bind(this.kv), DeleteRangeRequest.fromPartial({ key: Buffer.from(key) }), timeoutMs);
    return res.header?.revision ?? 0;
  }

  /** Compacts etcd's history up to `revision` (tests and tools; lainlet itself never writes). */
  async compact(revision: number, timeoutMs = 5_000): Promise<number> {
    const res = await call(this.kv.compact.bind(this.kv), CompactionRequest.fromPartial({ revision, physical: true }), timeoutMs);
    return res.header?.revision ?? 0;
  }

  /** Grants a lease with our own ID (below 2^53: see rpc.proto); resolves with the TTL granted. */
  async leaseGrant(id: number, ttlSeconds: number, timeoutMs = 5_000): Promise<number> {
    const res = await call(this.leaseClient.leaseGrant.bind(this.leaseClient), LeaseGrantRequest.fromPartial({ ID: id, TTL: ttlSeconds }), timeoutMs);
    if (res.error) throw new Error(`etcd refused lease ${id}: ${res.error}`);
    return res.TTL;
  }

  /** Ends a lease now: the keys attached to it are deleted. */
  async leaseRevoke(id: number, timeoutMs = 5_000): Promise<void> {
    await call(this.leaseClient.leaseRevoke.bind(this.leaseClient), LeaseRevokeRequest.fromPartial({ ID: id }), timeoutMs);
  }

  /** A keep-alive stream: write `{ ID }` to renew; each answer carries the TTL left (<= 0: the lease is gone). */
  leaseKeepAlive(): grpc.ClientDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse> {
    return this.leaseClient.leaseKeepAlive();
  }

  /**
   * The newest revision, from etcd itself: a linearizable count of one key, so a proxy forwards
   * it (it answers only serializable reads from its cache) and etcd sends back a header alone.
   */
  async headRevision(key: string, timeoutMs: number): Promise<number> {
    const res = await this.range({ key: Buffer.from(key), countOnly: true }, timeoutMs);
    return res.header?.revision ?? 0;
  }

  /**
   * Whether any key of `[key, rangeEnd)` that exists now (or at revision `at`) was written after
   * `revision`, asked of etcd itself (linearizable): one key's name at most comes back. etcd
   * counts a `count_only` answer before it applies `min_mod_revision`, so this asks for keys.
   */
  async writtenSince(key: Buffer, rangeEnd: Buffer, revision: number, timeoutMs: number, at = 0): Promise<boolean> {
    return (await this.keysWrittenSince(key, rangeEnd, revision, 1, timeoutMs, at)) > 0;
  }

  /** How many keys in `[key, rangeEnd)` were written after `revision` (as of `at`, 0: now), counted up to `limit`; asked of etcd itself, keys only. */
  async keysWrittenSince(key: Buffer, rangeEnd: Buffer, revision: number, limit: number, timeoutMs: number, at = 0): Promise<number> {
    const res = await this.range({ key, rangeEnd, keysOnly: true, limit, minModRevision: revision + 1, revision: at }, timeoutMs);
    return res.kvs.length;
  }

  /**
   * Whether nothing in `[key, rangeEnd)` changed after revision `from` up to `to`, asked of etcd
   * itself: no key there at `to` was written after `from` (puts), and as many keys were there at
   * both (a delete leaves no key to find). Rejects if `from` has been compacted away.
   */
  async unchangedBetween(key: Buffer, rangeEnd: Buffer, from: number, to: number, timeoutMs: number): Promise<boolean> {
    const [written, before, after] = await Promise.all([
      this.writtenSince(key, rangeEnd, from, timeoutMs, to),
      this.range({ key, rangeEnd, countOnly: true, revision: from }, timeoutMs),
      this.range({ key, rangeEnd, countOnly: true, revision: to }, timeoutMs),
    ]);
    return !written && before.count === after.count;
  }

  /** How many keys start with `prefix` (serializable: a proxy may answer from its cache). */
  async countKeys(prefix: string, timeoutMs: number): Promise<number> {
    const key = Buffer.from(prefix);
    const res = await this.range({ key, rangeEnd: prefixEnd(key), countOnly: true, serializable: true }, timeoutMs);
    return res.count;
  }

  /**
   * Whether the endpoint answers a watch progress request within `timeoutMs`, on a watch stream
   * of its own with no watch on it: etcd does at once; a grpc-proxy (3.4) never does. False on
   * no answer or a failed stream.
   */
  answersProgress(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const stream = this.openWatch();
      let ended = false;
      const done = (answered: boolean) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        stream.removeAllListeners('data');
        stream.cancel();
        resolve(answered);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      stream.on('data', (res: WatchResponse) => {
        if (res.watchId === -1 && !res.created) done(true);
      });
      stream.on('error', () => done(false)); // also the CANCELLED that cancel() itself causes
      stream.write({ progressRequest: {} });
    });
  }

  private range(req: Partial<RangeRequest>, timeoutMs: number): Promise<RangeResponse> {
    return call(this.kv.range.bind(this.kv), RangeRequest.fromPartial(req), timeoutMs);
  }

  /** Opens a watch stream with no watch on it yet (see writeCreate). */
  openWatch(): grpc.ClientDuplexStream<WatchRequest, WatchResponse> {
    return this.watchClient.watch();
  }

  /** Opens a watch stream over `prefix` from `startRevision`, with progress notifications. */
  watchPrefix(prefix: string, startRevision: number): grpc.ClientDuplexStream<WatchRequest, WatchResponse> {
    const key = Buffer.from(prefix);
    const stream = this.openWatch();
    EtcdClient.writeCreate(stream, key, prefixEnd(key), startRevision);
    return stream;
  }

  /** Asks for one more watch of `[key, rangeEnd)` from `startRevision` on an open stream. */
  static writeCreate(stream: grpc.ClientDuplexStream<WatchRequest, WatchResponse>, key: Buffer, rangeEnd: Buffer, startRevision: number): void {
    stream.write({ createRequest: WatchCreateRequest.fromPartial({ key, rangeEnd, startRevision, progressNotify: true }) });
  }

  /** Asks for a second, short-lived watch on an open stream: the liveness probe (see EtcdStore). */
  static writeProbeCreate(stream: grpc.ClientDuplexStream<WatchRequest, WatchResponse>, key: string): void {
    stream.write({ createRequest: WatchCreateRequest.fromPartial({ key: Buffer.from(key) }) });
  }

  static writeCancel(stream: grpc.ClientDuplexStream<WatchRequest, WatchResponse>, watchId: number): void {
    stream.write({ cancelRequest: WatchCancelRequest.fromPartial({ watchId }) });
  }

  close(): void {
    this.kv.close();
    this.watchClient.close();
    this.leaseClient.close();
  }
}

