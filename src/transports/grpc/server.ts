// gRPC transport: the Go lainlet's gRPC API (package `message`, proto/lainlet/message.proto) on
// @grpc/grpc-js. Like the HTTP transport it parses, authorizes (through the view's key()) and
// writes; answers come from the view hub. Each answer is serialized once per change per query
// key (SharedUpdate.encoded / initEncoded) and the same bytes go to every stream, so the
// services are registered with a pass-through response serializer.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import {
  Server,
  ServerCredentials,
  status as Status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from '../../util/log.js';
import type { ViewHub } from '../../views/hub.js';
import { views } from '../../views/index.js';
import { ViewError, type NodeContext } from '../../views/types.js';
import type { ClusterState, Source } from '../../state/types.js';
import { LainletService, type StatusReply, type VersionReply, type WatcherStatus } from './gen/message.js';
import { VIEW_SERVICES, type GeneratedMethod, type ViewService } from './services.js';
import { NOT_READY, peerIp, statusFor, type GrpcError } from './status.js';
import { GrpcWatchStream } from './watch-stream.js';

export interface GrpcLimits {
  /** Open Watch streams beyond this get RESOURCE_EXHAUSTED. */
  maxWatchers: number;
}

export const DEFAULT_GRPC_LIMITS: GrpcLimits = { maxWatchers: 20_000 };

export interface GrpcDeps {
  hub: ViewHub;
  node: NodeContext;
  state: () => ClusterState;
  /** True once the first etcd snapshot is loaded. */
  ready: () => boolean;
  version: string;
  logger: Logger;
  /** For Lainlet.Status: when the cluster state last changed (ms since the epoch) and its revision. */
  lastUpdate?: () => { at: number | null; revision: number };
  limits?: Partial<GrpcLimits>;
}

export interface GrpcListen {
  /** Undefined: all interfaces. */
  host: string | undefined;
  port: number;
  /** `-grpc.TLS`: serve TLS with these PEM files. */
  tls?: { keyFile: string; certFile: string };
}

export interface GrpcTransport {
  server: Server;
  /** The bound port. */
  readonly port: number;
  /** Open Watch streams. */
  readonly watchers: number;
  stats: { gets: number; watchesOpened: number; watchersRefused: number };
  /** Ends every Watch (UNAVAILABLE, so clients reconnect) and stops the server. */
  close(): Promise<void>;
}

/** Reads and checks the `-grpc.key` / `-grpc.cert` pair; a clear error when it can't be used. */
export function loadTlsCredentials(keyFile: string, certFile: string): ServerCredentials {
  const read = (file: string, flag: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${flag} ${file}: cannot read the TLS ${what}: ${(err as Error).message}`, { cause: err });
    }
  };
  const key = read(keyFile, '-grpc.key', 'private key');
  const cert = read(certFile, '-grpc.cert', 'certificate');
  try {
    createSecureContext({ key, cert });
  } catch (err) {
    throw new Error(`-grpc.key ${keyFile} / -grpc.cert ${certFile}: not a usable PEM key and certificate pair: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return ServerCredentials.createSsl(null, [{ private_key: key, cert_chain: cert }], false);
}

/** Go's version string `2.4.3+git` -> the API version `2.4`. */
export function apiVersion(version: string): string {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m ? `${m[1]}.${m[2]}` : 'unknown';
}

/** Lainlet.Status reports per source under the Go watcher names (Go had no lainlet registry). */
const WATCHER_NAMES: Record<Exclude<Source, 'lainlets'>, string> = {
  config: 'configwatcher',
  containers: 'containerwatcher',
  podgroups: 'podgroupwatcher',
  depends: 'dependswatcher',
  nodes: 'nodeswatcher',
};

const passThrough = (b: Buffer): Buffer => b;

export async function startGrpcTransport(deps: GrpcDeps, listen: GrpcListen): Promise<GrpcTransport> {
  const limits: GrpcLimits = { maxWatchers: deps.limits?.maxWatchers ?? DEFAULT_GRPC_LIMITS.maxWatchers };
  // Built first: a bad key or certificate stops the start before anything listens.
  const credentials = listen.tls ? loadTlsCredentials(listen.tls.keyFile, listen.tls.certFile) : ServerCredentials.createInsecure();
  const open = new Set<GrpcWatchStream>();
  const stats = { gets: 0, watchesOpened: 0, watchersRefused: 0 };
  const server = new Server({
    // Find clients that vanished without closing (a Watch otherwise waits forever).
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
  });

  const internalError = (svc: ViewService, err: unknown): GrpcError => {
    deps.logger.error({ err, service: svc.name }, 'gRPC reply could not be made');
    return { code: Status.INTERNAL, details: `internal error: ${(err as Error).message}` };
  };

  /** The route's query key for this request and caller, or the status to answer with. */
  function keyFor(svc: ViewService, request: unknown, peer: string): { key: string } | { error: GrpcError } {
    try {
      const callerIp = peerIp(peer);
      return { key: svc.view.key({ params: svc.params(request), callerIp }, deps.state(), deps.node) };
    } catch (err) {
      if (err instanceof ViewError) return { error: statusFor(err.status, err.message) };
      return { error: internalError(svc, err) };
    }
  }

  function getHandler(svc: ViewService) {
    // A GET's reply is cached with the answer it was made from (the hub keeps that Buffer until
    // the answer changes): repeated Gets of an unchanged answer are serialized once.
    const encodedGets = new WeakMap<Buffer, Buffer>();
    return (call: ServerUnaryCall<unknown, Buffer>, callback: sendUnaryData<Buffer>) => {
      stats.gets++;
      if (!deps.ready()) return callback(NOT_READY);
      const k = keyFor(svc, call.request, call.getPeer());
      if ('error' in k) return callback(k.error);
      const answer = deps.hub.get(svc.view, k.key);
      if (!answer.ok) return callback(statusFor(answer.status, answer.message));
      let reply = encodedGets.get(answer.json);
      if (!reply) {
        try {
          reply = svc.encode(answer.json);
        } catch (err) {
          return callback(internalError(svc, err));
        }
        encodedGets.set(answer.json, reply);
      }
      callback(null, reply);
    };
  }

  function watchHandler(svc: ViewService) {
    const format = `grpc:${svc.name}`;
    return (call: ServerWritableStream<unknown, Buffer>) => {
      const refuse = (status: GrpcError) => call.emit('error', status);
      if (call.cancelled) return;
      if (!deps.ready()) return refuse(NOT_READY);
      if (open.size >= limits.maxWatchers) {
        stats.watchersRefused++;
        return refuse({ code: Status.RESOURCE_EXHAUSTED, details: `too many watchers (limit ${limits.maxWatchers})` });
      }
      const k = keyFor(svc, call.request, call.getPeer());
      if ('error' in k) return refuse(k.error);
      const stream = new GrpcWatchStream(
        call,
        (u) => u.encoded(format, (x) => svc.encode(x.json)),
        (err) => internalError(svc, err),
      );
      // Registration and the first answer happen in this tick: no change can fall between them.
      const sub = deps.hub.subscribe(svc.view, k.key, stream);
      if (!sub.initial.ok) return refuse(statusFor(sub.initial.status, sub.initial.message));
      stats.watchesOpened++;
      open.add(stream);
      stream.onClose = () => {
        open.delete(stream);
        sub.unsubscribe();
      };
      let first: Buffer;
      try {
        first = sub.initEncoded(format, (json) => svc.encode(json));
      } catch (err) {
        return stream.end(internalError(svc, err));
      }
      stream.write(first);
    };
  }

  for (const svc of VIEW_SERVICES) {
    const definition: ServiceDefinition = svc.watch ? { get: method(svc.get), watch: method(svc.watch) } : { get: method(svc.get) };
    const implementation: UntypedServiceImplementation = { get: getHandler(svc) };
    if (svc.watch) implementation.watch = watchHandler(svc);
    server.addService(definition, implementation);
  }

  server.addService(LainletService, {
    version: (_call: ServerUnaryCall<unknown, VersionReply>, callback: sendUnaryData<VersionReply>) =>
      callback(null, { version: deps.version, APIVersion: apiVersion(deps.version) }),
    status: (_call: ServerUnaryCall<unknown, StatusReply>, callback: sendUnaryData<StatusReply>) => callback(null, statusReply()),
  });

  function statusReply(): StatusReply {
    const counts = deps.hub.watcherCounts();
    const state = deps.state();
    const last = deps.lastUpdate?.() ?? { at: null, revision: state.revision };
    const sizes: Record<Exclude<Source, 'lainlets'>, number> = {
      config: state.config.size,
      containers: state.containers.size,
      podgroups: state.podGroups.size,
      depends: state.depends.size,
      nodes: state.nodes.size,
    };
    const status: Record<string, WatcherStatus> = {};
    for (const source of Object.keys(WATCHER_NAMES) as Array<keyof typeof WATCHER_NAMES>) {
      const receivers = views.filter((v) => v.sources.includes(source)).reduce((n, v) => n + (counts[v.path] ?? 0), 0);
      status[WATCHER_NAMES[source]] = {
        numReceivers: receivers,
        updateTime: last.at === null ? 0 : Math.floor(last.at / 1000),
        lastEvent: Buffer.from(JSON.stringify({ revision: last.revision })),
        totalKeys: sizes[source],
      };
    }
    // No goroutines here: the nearest thing is the number of open gRPC Watch streams.
    return { goroutines: open.size, status };
  }

  const port = await bind(server, listen, credentials);
  return {
    server,
    port,
    get watchers() {
      return open.size;
    },
    stats,
    async close() {
      for (const s of [...open]) s.end({ code: Status.UNAVAILABLE, details: 'lainlet is shutting down' }, 'server');
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

/** A generated method with a pass-through response serializer (replies are pre-serialized Buffers). */
function method(m: GeneratedMethod<unknown>) {
  return {
    path: m.path,
    requestStream: false,
    responseStream: m.responseStream,
    requestSerialize: m.requestSerialize,
    requestDeserialize: m.requestDeserialize,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  };
}

function bindAsync(server: Server, target: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(target, credentials, (err, port) => (err ? reject(err) : resolve(port))));
}

async function bind(server: Server, listen: GrpcListen, credentials: ServerCredentials): Promise<number> {
  const { host, port } = listen;
  const fail = (target: string, err: unknown) => new Error(`-grpc.addr: cannot listen on ${target}: ${(err as Error).message}`, { cause: err });
  if (host === undefined) {
    // All interfaces: IPv6 and IPv4 where the machine has IPv6, else IPv4.
    try {
      return await bindAsync(server, `[::]:${port}`, credentials);
    } catch {
      try {
        return await bindAsync(server, `0.0.0.0:${port}`, credentials);
      } catch (err) {
        throw fail(`:${port}`, err);
      }
    }
  }
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  try {
    return await bindAsync(server, target, credentials);
  } catch (err) {
    throw fail(target, err);
  }
}
