// /v2/webrouter/webprocs: the web procs (`<app>.web.<name>`) webrouter proxies to.
import type { WebprocsAnswer } from '../answers.js';
import type { PodGroup } from '../../state/types.js';
import { appKeyAsCoreinfo, LiveContainerCheck, podGroupsFor } from '../common.js';
import { FragmentCache, joinEncodedMap } from '../fragments.js';
import type { View } from '../types.js';
import type { Wire } from '../wire.js';

function isWebProc(procName: string): boolean {
  const parts = procName.split('.');
  return parts.length >= 3 && parts[parts.length - 2] === 'web';
}

/** isWebProc per pod group value: asked for every pod group on every change. */
const webProcFlags = new WeakMap<PodGroup, boolean>();
function isWebPodGroup(pg: PodGroup): boolean {
  let web = webProcFlags.get(pg);
  if (web === undefined) webProcFlags.set(pg, (web = isWebProc(pg.Name)));
  return web;
}

/** One web proc's entry, encoded once per pod group value. */
const procEntries = new FragmentCache<PodGroup, Wire<WebprocsAnswer[string]>>((pg) => ({
  PodInfos: (pg.Pods ?? []).map((pod) => ({
    Annotation: pg.Annotation,
    ContainerInfos: (pod.Containers ?? []).map((c, j) => ({
      ContainerIp: c.ContainerIp,
      Expose: pg.Containers?.[j]?.Expose ?? 0,
    })),
  })),
}));

export const webrouterWebprocs: View = {
  path: '/v2/webrouter/webprocs',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state) {
    const check = new LiveContainerCheck();
    const webProcs = podGroupsFor(queryKey, state).filter(isWebPodGroup);
    for (const pg of webProcs) for (const pod of pg.Pods ?? []) check.count(pod.Containers);
    check.assertHealthy();
    return joinEncodedMap(webProcs.map((pg) => [pg.Name, procEntries.get(pg)]));
  },
};
