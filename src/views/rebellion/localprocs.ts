// /v2/rebellion/localprocs: the pods with a container on this machine (rebellion ships their logs).
import type { LocalprocsAnswer } from '../answers.js';
import type { PodGroup } from '../../state/types.js';
import { appVersionOf } from '../../state/decode.js';
import { appKeyAsCoreinfo, podGroupsFor } from '../common.js';
import { FragmentCache, joinEncodedMap } from '../fragments.js';
import type { View } from '../types.js';
import type { Wire } from '../wire.js';

/** Per host name (fixed for a process; tests may use several), one proc's entry per pod group value. */
const byHost = new Map<string, FragmentCache<PodGroup, Wire<LocalprocsAnswer[string]>>>();

function procEntries(hostname: string) {
  let cache = byHost.get(hostname);
  if (!cache) {
    cache = new FragmentCache((pg) => {
      const localPods = (pg.Pods ?? []).filter((pod) => (pod.Containers ?? []).some((c) => c.NodeName === hostname));
      if (localPods.length === 0) return undefined; // procs without local pods are left out
      const appVersion = appVersionOf(pg);
      return { PodInfos: localPods.map((pod) => ({ Annotation: pg.Annotation, AppVersion: appVersion, InstanceNo: pod.InstanceNo })) };
    });
    byHost.set(hostname, cache);
  }
  return cache;
}

export const rebellionLocalprocs: View = {
  path: '/v2/rebellion/localprocs',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state, node) {
    const entries = procEntries(node.hostname);
    return joinEncodedMap(podGroupsFor(queryKey, state).map((pg) => [pg.Name, entries.get(pg)]));
  },
};
