// Prometheus metrics (prom-client), read at scrape time from the live objects.
import { Registry, Gauge, collectDefaultMetrics } from 'prom-client';
import type { EtcdStore } from '../store/etcd-store.js';
import type { Mirror } from '../state/mirror.js';
import type { ViewHub } from '../views/hub.js';

export function createMetrics(src: { store: EtcdStore; mirror: Mirror; hub: ViewHub; watchers: () => number }) {
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
  gauge('lainlet_watchers', 'open watch streams', src.watchers);
  gauge('lainlet_view_renders_total', 'answers computed', () => src.hub.stats.renders);
  return async () => ({ contentType: registry.contentType, body: await registry.metrics() });
}
