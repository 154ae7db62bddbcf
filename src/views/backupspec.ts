// /v2/backupspec: every proc's pods and where their containers run (backupctl).
import type { BackupspecAnswer } from './answers.js';
import type { PodGroup } from '../state/types.js';
import { podGroupsFor, superAppKey } from './common.js';
import { FragmentCache, joinEncodedMap } from './fragments.js';
import type { View } from './types.js';
import type { Wire } from './wire.js';

/** One proc's entry, encoded once per pod group value. */
const procEntries = new FragmentCache<PodGroup, Wire<BackupspecAnswer[string]>>((pg) =>
  (pg.Pods ?? []).map((pod) => ({
    Annotation: pg.Annotation,
    Containers: (pod.Containers ?? []).map((c) => ({ Id: c.Id, Ip: c.ContainerIp, NodeIp: c.NodeIp, NodeName: c.NodeName })),
    InstanceNo: pod.InstanceNo,
  })),
);

export const backupSpec: View = {
  path: '/v2/backupspec',
  sources: ['podgroups'],
  watchable: true,
  key: superAppKey,
  render(queryKey, state) {
    return joinEncodedMap(podGroupsFor(queryKey, state).map((pg) => [pg.Name, procEntries.get(pg)]));
  },
};
