// /v2/proxywatcher: every proc's container addresses, with the port its spec exposes.
import type { ProxyAnswer } from './answers.js';
import { appKeyAsCoreinfo, podGroupsFor } from './common.js';
import type { View } from './types.js';
import { encodeAnswer, type Wire } from './wire.js';

export const proxyWatcher: View = {
  path: '/v2/proxywatcher',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state) {
    const procs: Wire<ProxyAnswer> = new Map();
    for (const pg of podGroupsFor(queryKey, state)) {
      const containers = (pg.Pods ?? []).flatMap((pod) =>
        (pod.Containers ?? []).map((c, j) => ({
          container_ip: c.ContainerIp,
          container_port: pg.Containers?.[j]?.Expose ?? 0,
        })),
      );
      procs.set(pg.Name, { containers });
    }
    return encodeAnswer<ProxyAnswer>(procs);
  },
};
