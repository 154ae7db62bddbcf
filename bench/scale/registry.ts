// A simulated node's registry lease: lainlet's own LeaseRegistry (src/store/registry.ts) under
// the node's host name, publishing what the daemon publishes (see src/daemon/daemon.ts).
import type { LainletInstance } from '../../src/state/types.js';
import { INSTANCES_PREFIX, LeaseRegistry, rewriteIntervalMs } from '../../src/store/registry.js';
import type { Logger } from '../../src/util/log.js';
import { VERSION } from '../../src/version.js';
import type { NodeSpec } from './protocol.js';

export interface NodeRegistry {
  registered(): boolean;
  lastError(): string | null;
  close(): Promise<void>;
}

/**
 * Starts keeping `/lain/lainlet/instances/<host>` alive; `dataRevision` is what the node has
 * applied of the cluster data, `liveInstances` how many registry keys it sees (as the daemon's mirror).
 */
export function startNodeRegistry(spec: NodeSpec, logger: Logger, dataRevision: () => number, liveInstances: () => number): NodeRegistry {
  const startedAt = new Date().toISOString();
  const registry = new LeaseRegistry({
    endpoints: [spec.endpoint],
    key: `${INSTANCES_PREFIX}${spec.host}`,
    value: (): LainletInstance => ({ hostname: spec.host, version: VERSION, ip: '127.0.0.1', web: '', grpc: '', startedAt, revision: dataRevision() }),
    minRewriteMs: () => rewriteIntervalMs(liveInstances()),
    logger,
  });
  registry.start();
  return {
    registered: () => registry.status().state === 'registered',
    lastError: () => registry.status().lastError,
    close: () => registry.stop(),
  };
}

/** Whether an etcd key is cluster data, as opposed to the registry's own keys (as the daemon's mirror tells them apart). */
export function isClusterData(key: string): boolean {
  return !key.startsWith(INSTANCES_PREFIX);
}
