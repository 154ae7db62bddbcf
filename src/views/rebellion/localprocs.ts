// /v2/rebellion/localprocs: the pods with a container on this machine (rebellion ships their logs).
import type { LocalprocsAnswer } from '../answers.js';
import { appVersionOf } from '../../state/decode.js';
import { appKeyAsCoreinfo, podGroupsFor } from '../common.js';
import type { View } from '../types.js';
import { encodeAnswer, type Wire } from '../wire.js';

export const rebellionLocalprocs: View = {
  path: '/v2/rebellion/localprocs',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state, node) {
    const procs: Wire<LocalprocsAnswer> = new Map();
    for (const pg of podGroupsFor(queryKey, state)) {
      const localPods = (pg.Pods ?? []).filter((pod) => (pod.Containers ?? []).some((c) => c.NodeName === node.hostname));
      if (localPods.length === 0) continue;
      const appVersion = appVersionOf(pg);
      procs.set(pg.Name, {
        PodInfos: localPods.map((pod) => ({ Annotation: pg.Annotation, AppVersion: appVersion, InstanceNo: pod.InstanceNo })),
      });
    }
    return encodeAnswer<LocalprocsAnswer>(procs);
  },
};
