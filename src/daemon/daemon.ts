// Wires the layers: etcd store -> mirror -> view hub -> transports. One store (one etcd watch)
// per process, whatever the number of routes and clients.
import { hostname as osHostname } from 'node:os';
import { once } from 'node:events';
import { createLogger, type Logger } from '../util/log.js';
import { EtcdStore, type StoreSink, type StoreStatus } from '../store/etcd-store.js';
import { INSTANCES_PREFIX, LeaseRegistry, rewriteIntervalMs } from '../store/registry.js';
import type { LainletInstance } from '../state/types.js';
import { releaseMemory } from '../util/release-memory.js';
import { Mirror } from '../state/mirror.js';
import { DEFAULT_MAX_VALUE_DEPTH } from '../state/decode.js';
import { ViewHub } from '../views/hub.js';
import type { NodeContext } from '../views/types.js';
import { createHttpTransport, type HttpLimits } from '../transports/http/server.js';
import type { GrpcTransport } from '../transports/grpc/server.js';
import { WatchSlots } from '../transports/watch-slots.js';
import { createMetrics } from './metrics.js';
import { parseListenAddress } from '../util/listen-address.js';
import { API_VERSION, GO_COMPATIBLE_VERSION, VERSION } from '../version.js';
import type { DaemonOptions, RunningDaemon } from './options.js';

/** etcd silent for longer than this (while we think we are connected) makes /readyz fail. */
const STALE_CONTACT_MS = 30_000;

/** `etcd unreachable for 12 s (5 failed attempts; last at 127.0.0.1:2379: connect ECONNREFUSED ...)` */
function unreachable(s: StoreStatus): string {
  const forS = Math.round((Date.now() - (s.unreachableSince ?? Date.now())) / 1000);
  return `etcd unreachable for ${forS} s (${s.failedAttempts} failed attempts; last at ${s.endpoint}: ${s.lastError ?? 'no error'})`;
}

export async function startDaemon(opts: DaemonOptions & { logger?: Logger; httpLimits?: Partial<HttpLimits> }): Promise<RunningDaemon> {
  if (!opts.web && !opts.grpcAddr) throw new Error('one of -web and -grpc.addr is required');
  if (opts.etcd.length === 0) throw new Error('-etcd is required');
  const logger = opts.logger ?? createLogger(opts.debug);
  // Loaded only when asked for (it adds a tenth of a second to every start), and before any
  // listener opens, so that a bad gRPC setup fails the start before HTTP answers anything.
  const grpcModule = opts.grpcAddr ? await import('../transports/grpc/server.js') : undefined;
  const node: NodeContext = { nodeIp: opts.ip, hostname: opts.hostname ?? osHostname(), noAuth: opts.noAuth };

  const mirror = new Mirror(logger, { maxValueDepth: opts.maxValueDepth ?? DEFAULT_MAX_VALUE_DEPTH });
  const sink: StoreSink = {
    snapshot(kvs, revision) {
      mirror.snapshot(kvs, revision);
      // The whole read (tens of MB) is garbage now; collect it once the read's stack is gone.
      setTimeout(releaseMemory, 100).unref();
    },
    events: (changes, revision) => mirror.events(changes, revision),
  };
  const store = new EtcdStore({ endpoints: opts.etcd, prefix: '/lain/', logger }, sink);
  // This lainlet in the instance registry (/v2/lainlets), from its first snapshot on: before it,
  // the revision it would publish says nothing.
  const startedAt = new Date().toISOString();
  const registry =
    opts.register === false
      ? undefined
      : new LeaseRegistry({
          endpoints: opts.etcd,
          key: `${INSTANCES_PREFIX}${node.hostname}`,
          value: (): LainletInstance => ({
            hostname: node.hostname,
            version: VERSION,
            ip: opts.ip,
            web: opts.web ?? '',
            grpc: opts.grpcAddr ?? '',
            startedAt,
            revision: mirror.state.dataRevision,
          }),
          // The cluster's registry rewrites stay ~2/s whatever its size (the lainlets we see live).
          minRewriteMs: () => rewriteIntervalMs(mirror.state.lainlets.size),
          logger,
        });
  if (registry) mirror.onChange(() => mirror.ready && registry.start());
  const hub = new ViewHub(() => mirror.state, node, (view, key, err) => logger.error({ err, path: view.path, key }, 'view failed'), {
    maxCacheBytes: opts.answerCacheBytes,
  });
  mirror.onChange((set) => hub.enqueue(set));

  const readiness = () => {
    const s = store.status();
    if (!mirror.ready) {
      const why = s.unreachableSince === null ? `connecting to etcd at ${s.endpoint}` : unreachable(s);
      return { ready: false, reason: `not synced: ${why}; the first etcd snapshot is not loaded yet` };
    }
    if (s.unreachableSince !== null) return { ready: false, reason: `${unreachable(s)}; serving revision ${mirror.revision}` };
    if (s.state !== 'connected') return { ready: false, reason: `etcd ${s.state} (${s.lastError ?? 'no error'}); serving revision ${mirror.revision}` };
    const silentMs = s.lastContactAt ? Date.now() - s.lastContactAt : Infinity;
    if (silentMs > STALE_CONTACT_MS) return { ready: false, reason: `etcd silent for ${Math.round(silentMs / 1000)} s` };
    return { ready: true, reason: `ok: revision ${mirror.revision}` };
  };

  // One pool of watch slots for HTTP and gRPC: a caller cannot double its share by switching.
  const slots = new WatchSlots({ total: opts.maxWatchers, perAddress: opts.maxWatchersPerIp, reserved: opts.reservedWatchers });
  let http: ReturnType<typeof createHttpTransport> | undefined;
  let grpc: GrpcTransport | undefined;
  const debug = () => {
    const s = store.status();
    return {
      version: VERSION,
      goCompatible: GO_COMPATIBLE_VERSION,
      ready: readiness(),
      connections: http?.watchers ?? 0,
      revision: mirror.revision,
      etcd: { ...s, lastContactAgoMs: s.lastContactAt ? Date.now() - s.lastContactAt : null, watchStreams: 1 },
      registry: registry?.status() ?? 'off (-register=false)',
      state: mirror.stats,
      rejected: mirror.rejected,
      watchers: hub.watcherCounts(),
      hub: { queries: hub.channelCount, cacheBytes: hub.cacheBytes, ...hub.stats },
      http: http?.stats,
      memory: process.memoryUsage(),
      grpc: grpc && { watchers: grpc.watchers, ...grpc.stats },
      watchSlots: slots.status(),
    };
  };
  const metrics = createMetrics({
    store,
    mirror,
    hub,
    slots,
    watchers: () => (http?.watchers ?? 0) + (grpc?.watchers ?? 0),
    watchersDropped: () => (http?.stats.watchersDropped ?? 0) + (grpc?.stats.watchersDropped ?? 0),
  });

  if (opts.web) {
    http = createHttpTransport({
      hub,
      node,
      state: () => mirror.state,
      ready: () => mirror.ready,
      readiness,
      debug,
      metrics,
      version: VERSION,
      logger,
      limits: { maxWatchers: opts.maxWatchers, stallTimeoutMs: opts.stallTimeoutMs, ...opts.httpLimits },
      slots,
    });
    const { host, port } = parseListenAddress(opts.web);
    http.server.listen(port, host);
    await once(http.server, 'listening');
    logger.info({ address: http.server.address(), sinceStartMs: Math.round(process.uptime() * 1000) }, 'HTTP listening');
  }

  if (opts.grpcAddr) {
    try {
      grpc = await grpcModule!.startGrpcTransport(
        {
          hub,
          node,
          state: () => mirror.state,
          ready: () => mirror.ready,
          version: VERSION,
          apiVersion: API_VERSION,
          logger,
          lastUpdate: () => ({ at: mirror.stats.lastEventAt ? Date.parse(mirror.stats.lastEventAt) : null, revision: mirror.revision }),
          limits: { maxWatchers: opts.maxWatchers, stallTimeoutMs: opts.stallTimeoutMs },
          slots,
        },
        { ...parseListenAddress(opts.grpcAddr), tls: opts.grpcTls ? { keyFile: opts.grpcKey ?? '', certFile: opts.grpcCert ?? '' } : undefined },
      );
    } catch (err) {
      http?.closeStreams();
      http?.server.close();
      throw err;
    }
    logger.info({ address: opts.grpcAddr, port: grpc.port, tls: Boolean(opts.grpcTls) }, 'gRPC listening');
  }

  const running = store.run();
  const address = http?.server.address();
  return {
    httpPort: address && typeof address === 'object' ? address.port : undefined,
    synced: () => (mirror.ready ? Promise.resolve() : new Promise<void>((resolve) => mirror.onChange(() => mirror.ready && resolve()))),
    async close() {
      // First, while etcd is still reachable: revoking the lease deletes our key at once.
      await registry?.stop();
      http?.closeStreams();
      const grpcClosed = grpc?.close();
      store.close();
      if (http) {
        http.server.closeAllConnections();
        await new Promise<void>((r) => http!.server.close(() => r()));
      }
      await grpcClosed;
      await running;
    },
  };
}
