// Prometheus metrics (prom-client), read at scrape time from the live objects. The registry is
// made on the first scrape: loading prom-client costs every start ~60 ms, and many nodes never
// scrape lainlet.
import type { Registry } from 'prom-client';
import type { EtcdStore } from '../store/etcd-store.js';
import type { Mirror } from '../state/mirror.js';
import type { ViewHub } from '../views/hub.js';
import type { WatchSlots } from '../transports/watch-slots.js';

interface Sources {
  store: EtcdStore;
  mirror: Mirror;
  hub: ViewHub;
  slots: WatchSlots;
  watchers: () => number;
  /** Watch streams (HTTP and gRPC) dropped for not reading within -stall-timeout. */
  watchersDropped: () => number;
}

async function createRegistry(src: Sources): Promise<Registry> {
  const { Registry, Gauge, collectDefaultMetrics } = await import('prom-client');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lainlet_' });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('lainlet_etcd_connected', '1 when the etcd watch stream is established', () => (src.store.status().state === 'connected' ? 1 : 0));
  gauge('lainlet_revision', 'etcd revision of the served state', () => src.mirror.revision);
  gauge('lainlet_etcd_last_contact_seconds', 'seconds since etcd last answered', () => {
    const t = src.store.status().lastContactAt;
    return t ? (Date.now() - t) / 1000 : -1;
  });
  gauge('lainlet_rejected_values_total', 'malformed etcd values rejected since start', () => src.mirror.stats.rejectedTotal);
  gauge('lainlet_rejected_too_deep_total', 'etcd values rejected for nesting deeper than -max-value-depth', () => src.mirror.stats.rejectedByCause['too-deep']);
  gauge('lainlet_watchers', 'open watch streams', src.watchers);
  gauge('lainlet_watchers_dropped_total', 'watch streams (HTTP and gRPC) dropped for not reading within -stall-timeout', src.watchersDropped);
  gauge('lainlet_view_renders_total', 'answers computed', () => src.hub.stats.renders);
  gauge('lainlet_answer_cache_bytes', 'bytes held by cached answers and their encodings (limit -answer-cache-bytes)', () => src.hub.cacheBytes);
  gauge('lainlet_answer_cache_evictions_total', 'answers nobody watched forgotten to stay within the cache limits', () => src.hub.stats.cacheEvictions);
  gauge('lainlet_watchers_refused_cache_full_total', 'watches refused because the answer cache was full', () => src.hub.stats.watchesRefusedCacheFull);
  gauge('lainlet_watchers_refused_per_address_total', 'watches refused by -max-watchers-per-ip', () => src.slots.stats.refusedPerAddress);
  gauge('lainlet_watchers_refused_reserved_total', 'watches refused because only -reserved-watchers slots were left', () => src.slots.stats.refusedReserved);
  gauge('lainlet_watchers_refused_total', 'watches refused by -max-watchers', () => src.slots.stats.refusedTotal);
  return registry;
}

export function createMetrics(src: Sources): () => Promise<{ contentType: string; body: string }> {
  let registry: Promise<Registry> | undefined;
  return async () => {
    const r = await (registry ??= createRegistry(src));
    return { contentType: r.contentType, body: await r.metrics() };
  };
}
