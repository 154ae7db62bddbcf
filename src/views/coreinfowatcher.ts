// /v2/coreinfowatcher: every proc's pods with their containers, merged with the spec's containers.
import type { CoreinfoAnswer } from './answers.js';
import type { ContainerSpec, PodGroup } from '../state/types.js';
import { appKeyAsCoreinfo, podGroupsFor } from './common.js';
import { FragmentCache, joinEncodedMap } from './fragments.js';
import type { View } from './types.js';
import type { Wire } from './wire.js';

const NO_SPEC: ContainerSpec = { Image: '', Env: null, Volumes: null, Command: null, CpuLimit: 0, MemoryLimit: 0, Expose: 0 };

/** One proc's entry, encoded once per pod group value. */
const procEntries = new FragmentCache<PodGroup, Wire<CoreinfoAnswer[string]>>((pg) => {
  const dependencies = (pg.Dependencies ?? []).map((d) => ({ PodName: d.PodName, Policy: d.Policy }));
  const podInfos = (pg.Pods ?? []).map((pod) => ({
    Annotation: pg.Annotation,
    ContainerInfos: (pod.Containers ?? []).map((c, j) => {
      // Container j of a pod is described by the spec's container j.
      const spec = pg.Containers?.[j] ?? NO_SPEC;
      return {
        Command: spec.Command,
        ContainerId: c.Id,
        ContainerIp: c.ContainerIp,
        Cpu: spec.CpuLimit,
        Env: spec.Env,
        Expose: spec.Expose,
        Image: spec.Image,
        Memory: spec.MemoryLimit,
        NodeIp: c.NodeIp,
        NodeName: c.NodeName,
        Volumes: spec.Volumes,
      };
    }),
    Dependencies: dependencies,
    InstanceNo: pod.InstanceNo,
  }));
  return { PodInfos: podInfos };
});

export const coreinfoWatcher: View = {
  path: '/v2/coreinfowatcher',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state) {
    return joinEncodedMap(podGroupsFor(queryKey, state).map((pg) => [pg.Name, procEntries.get(pg)]));
  },
};
