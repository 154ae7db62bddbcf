// A simulated node's registry lease: lainlet's own LeaseRegistry (src/store/registry.ts), with
// the node's host name as its key and a value shaped like the daemon's.
import type { Logger } from '../../src/util/log.js';
import type { NodeSpec } from './protocol.js';

export interface NodeRegistry {
  registered(): boolean;
  close(): Promise<void>;
}

export function startNodeRegistry(spec: NodeSpec, _logger: Logger, _revision: () => number): NodeRegistry {
  throw new Error(`registry for ${spec.host}: not available on this branch yet`);
}
