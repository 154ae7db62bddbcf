// Prometheus metrics (prom-client), read at scrape time from the live objects. The registry is
// made when the daemon starts (prom-client is loaded off the start's critical path, while etcd
// is read), so that counters count from the start, not from the first scrape.
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

const CPU_COUNTERS = ['lainlet_process_cpu_user_seconds_total', 'lainlet_process_cpu_system_seconds_total', 'lainlet_process_cpu_seconds_total'];

async function createRegistry(src: Sources): Promise<Registry> {
  const { Registry, Gauge, Counter, collectDefaultMetrics } = await import('prom-client');
  const registry = new Registry();
  const cpuBefore = process.cpuUsage();
  collectDefaultMetrics({ register: registry, prefix: 'lainlet_' });
  // prom-client counts process CPU from when its collector is made: add what the process used
  // before (reading etcd at start is most of a quiet node's CPU).
  const [user, system] = [cpuBefore.user / 1e6, cpuBefore.system / 1e6];
  [user, system, user + system].forEach((seconds, i) => (registry.getSingleMetric(CPU_COUNTERS[i]) as InstanceType<typeof Counter> | undefined)?.inc(seconds));

  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  // A total kept by the live objects, exposed as a Prometheus counter (it only grows).
  const counter = (name: string, help: string, read: () => number) => {
    let reported = 0;
    return new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const total = read();
        if (total > reported) this.inc(total - reported);
        reported = total;
      },
    });
  };
  gauge('lainlet_etcd_connected', '1 when the etcd watch stream is established', () => (src.store.status().state === 'connected' ? 1 : 0));
  gauge('lainlet_revision', 'etcd revision of the served state', () => src.mirror.revision);
  gauge('lainlet_etcd_last_contact_seconds', 'seconds since etcd last answered', () => {
    const t = src.store.status().lastContactAt;
    return t ? (Date.now() - t) / 1000 : -1;
  });
  counter('lainlet_rejected_values_total', 'malformed etcd values rejected since start', () => src.mirror.stats.rejectedTotal);
  counter('lainlet_rejected_too_deep_total', 'etcd values rejected for nesting deeper than -max-value-depth', () => src.mirror.stats.rejectedByCause['too-deep']);
  gauge('lainlet_watchers', 'open watch streams, HTTP and gRPC', src.watchers);
  counter('lainlet_watchers_dropped_total', 'watch streams (HTTP and gRPC) dropped for not reading within -stall-timeout', src.watchersDropped);
  counter('lainlet_view_renders_total', 'answers computed', () => src.hub.stats.renders);
  gauge('lainlet_answer_cache_bytes', 'bytes held by cached answers and their encodings (limit -answer-cache-bytes)', () => src.hub.cacheBytes);
  counter('lainlet_answer_cache_evictions_total', 'answers nobody watched forgotten to stay within the cache limits', () => src.hub.stats.cacheEvictions);
  counter('lainlet_watchers_refused_cache_full_total', 'watches refused because the answer cache was full', () => src.hub.stats.watchesRefusedCacheFull);
  counter('lainlet_watchers_refused_per_address_total', 'watches refused by -max-watchers-per-ip', () => src.slots.stats.refusedPerAddress);
  counter('lainlet_watchers_refused_reserved_total', 'watches refused because only -reserved-watchers slots were left', () => src.slots.stats.refusedReserved);
  counter('lainlet_watchers_refused_total', 'watches refused by -max-watchers', () => src.slots.stats.refusedTotal);
  return registry;
}

/** Makes the registry now; returns the scrape handler. */
export function createMetrics(src: Sources): () => Promise<{ contentType: string; body: string }> {
  const registry = createRegistry(src);
  // A scrape reports a failure to load; until then nobody needs to hear of it.
  registry.catch(() => undefined);
  return async () => {
    const r = await registry;
    return { contentType: r.contentType, body: await r.metrics() };
  };
}
