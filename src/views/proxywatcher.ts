// /v2/proxywatcher: every proc's container addresses, with the port its spec exposes.
import { goJson } from '../encode/gojson.js';
import { appKeyAsCoreinfo, podGroupsFor } from './common.js';
import type { View } from './types.js';

export const proxyWatcher: View = {
  path: '/v2/proxywatcher',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state) {
    const procs = new Map<string, unknown>();
    for (const pg of podGroupsFor(queryKey, state)) {
      const containers = (pg.Pods ?? []).flatMap((pod) =>
        (pod.Containers ?? []).map((c, j) => ({
          container_ip: c.ContainerIp,
          container_port: pg.Containers?.[j]?.Expose ?? 0,
        })),
      );
      procs.set(pg.Name, { containers });
    }
    return goJson(procs);
  },
};
