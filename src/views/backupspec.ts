// /v2/backupspec: every proc's pods and where their containers run (backupctl).
import type { BackupspecAnswer } from './answers.js';
import { podGroupsFor, superAppKey } from './common.js';
import type { View } from './types.js';
import { encodeAnswer, type Wire } from './wire.js';

export const backupSpec: View = {
  path: '/v2/backupspec',
  sources: ['podgroups'],
  watchable: true,
  key: superAppKey,
  render(queryKey, state) {
    const procs: Wire<BackupspecAnswer> = new Map();
    for (const pg of podGroupsFor(queryKey, state)) {
      procs.set(
        pg.Name,
        (pg.Pods ?? []).map((pod) => ({
          Annotation: pg.Annotation,
          Containers: (pod.Containers ?? []).map((c) => ({ Id: c.Id, Ip: c.ContainerIp, NodeIp: c.NodeIp, NodeName: c.NodeName })),
          InstanceNo: pod.InstanceNo,
        })),
      );
    }
    return encodeAnswer<BackupspecAnswer>(procs);
  },
};
