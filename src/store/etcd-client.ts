// A thin typed client for the etcd v3 services lainlet uses (proto/etcd/rpc.proto), on
// @grpc/grpc-js. Hand-written on purpose: the `etcd3` package loses events when it resumes a
// watch after a reconnect and drops `compact_revision` (see README, "Why not etcd3").
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO_PATH = fileURLToPath(new URL('../../proto/etcd/rpc.proto', import.meta.url));

export interface KeyValue {
  key: Buffer;
  value: Buffer;
  mod_revision: number;
  create_revision: number;
  version: number;
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
}

export interface WatchResponse {
  header: { revision: number };
  watch_id: number;
  created: boolean;
  canceled: boolean;
  compact_revision: number;
  cancel_reason: string;
  events: WatchEvent[];
}

interface RangeResponse {
  header: { revision: number };
  kvs: KeyValue[];
  more: boolean;
}

type Unary<Req, Res> = (req: Req, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => void;

interface KVClient extends grpc.Client {
  Range: Unary<Record<string, unknown>, RangeResponse>;
  Put: Unary<Record<string, unknown>, { header: { revision: number } }>;
  DeleteRange: Unary<Record<string, unknown>, { header: { revision: number } }>;
  Compact: Unary<Record<string, unknown>, { header: { revision: number } }>;
}
interface WatchClient extends grpc.Client {
  Watch(): grpc.ClientDuplexStream<Record<string, unknown>, WatchResponse>;
}

let services: { KV: grpc.ServiceClientConstructor; Watch: grpc.ServiceClientConstructor } | undefined;
function loadServices() {
  if (!services) {
    const def = protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def).etcdserverpb as grpc.GrpcObject;
    services = { KV: pkg.KV as grpc.ServiceClientConstructor, Watch: pkg.Watch as grpc.ServiceClientConstructor };
  }
  return services;
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

/** One connection (gRPC channel) to one etcd member. */
export class EtcdClient {
  readonly endpoint: string;
  private readonly kv: KVClient;
  private readonly watchClient: WatchClient;

  constructor(endpoint: string, opts: EtcdClientOptions = {}) {
    this.endpoint = normalizeEndpoint(endpoint);
    const { KV, Watch } = loadServices();
    const channelOptions: grpc.ChannelOptions = {
      // Real clusters hold tens of MB under /lain: never cap what etcd may send us.
      'grpc.max_receive_message_length': -1,
      'grpc.keepalive_time_ms': opts.keepaliveMs ?? 10_000,
      'grpc.keepalive_timeout_ms': opts.keepaliveTimeoutMs ?? 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 1_000,
    };
    const creds = grpc.credentials.createInsecure();
    this.kv = new KV(this.endpoint, creds, channelOptions) as unknown as KVClient;
    // Same options and target: grpc-js shares one subchannel (TCP connection) between the two clients.
    this.watchClient = new Watch(this.endpoint, creds, channelOptions) as unknown as WatchClient;
  }

  /** Every key under `prefix` at the latest revision: one read, no size limit. */
  rangePrefix(prefix: string, timeoutMs: number): Promise<{ revision: number; kvs: KeyValue[] }> {
    const key = Buffer.from(prefix);
    return new Promise((resolve, reject) => {
      this.kv.Range({ key, range_end: prefixEnd(key) }, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(err);
        else resolve({ revision: res.header.revision, kvs: res.kvs });
      });
    });
  }

  put(key: string, value: string, timeoutMs = 5_000): Promise<number> {
    return new Promise((resolve, reject) => {
      this.kv.Put({ key: Buffer.from(key), value: Buffer.from(value) }, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(err);
        else resolve(res.header.revision);
      });
    });
  }

  delete(key: string, timeoutMs = 5_000): Promise<number> {
    return this.unary('DeleteRange', { key: Buffer.from(key) }, timeoutMs);
  }

  /** Compacts etcd's history up to `revision` (tests and tools; lainlet itself never writes). */
  compact(revision: number, timeoutMs = 5_000): Promise<number> {
    return this.unary('Compact', { revision, physical: true }, timeoutMs);
  }

  private unary(method: 'DeleteRange' | 'Compact', req: Record<string, unknown>, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.kv[method](req, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(err);
        else resolve(res.header.revision);
      });
    });
  }

  /** Opens a watch stream over `prefix` from `startRevision`, with progress notifications. */
  watchPrefix(prefix: string, startRevision: number): grpc.ClientDuplexStream<Record<string, unknown>, WatchResponse> {
    const key = Buffer.from(prefix);
    const stream = this.watchClient.Watch();
    stream.write({
      create_request: { key, range_end: prefixEnd(key), start_revision: startRevision, progress_notify: true },
    });
    return stream;
  }

  close(): void {
    this.kv.close();
    this.watchClient.close();
  }
}
