// /v2/proxywatcher: every proc's container addresses, with the port its spec exposes.
import type { ProxyAnswer } from './answers.js';
import type { PodGroup } from '../state/types.js';
import { appKeyAsCoreinfo, podGroupsFor } from './common.js';
import { FragmentCache, joinEncodedMap } from './fragments.js';
import type { View } from './types.js';
import type { Wire } from './wire.js';

/** One proc's entry, encoded once per pod group value. */
const procEntries = new FragmentCache<PodGroup, Wire<ProxyAnswer[string]>>((pg) => ({
  containers: (pg.Pods ?? []).flatMap((pod) =>
    (pod.Containers ?? []).map((c, j) => ({
      container_ip: c.ContainerIp,
      container_port: pg.Containers?.[j]?.Expose ?? 0,
    })),
  ),
}));

export const proxyWatcher: View = {
  path: '/v2/proxywatcher',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state) {
    return joinEncodedMap(podGroupsFor(queryKey, state).map((pg) => [pg.Name, procEntries.get(pg)]));
  },
};
