// /v2/webrouter/webprocs: the web procs (`<app>.web.<name>`) webrouter proxies to.
import type { WebprocsAnswer } from '../answers.js';
import { appKeyAsCoreinfo, LiveContainerCheck, podGroupsFor } from '../common.js';
import type { View } from '../types.js';
import { encodeAnswer, type Wire } from '../wire.js';

function isWebProc(procName: string): boolean {
  const parts = procName.split('.');
  return parts.length >= 3 && parts[parts.length - 2] === 'web';
}

export const webrouterWebprocs: View = {
  path: '/v2/webrouter/webprocs',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state) {
    const procs: Wire<WebprocsAnswer> = new Map();
    const check = new LiveContainerCheck();
    for (const pg of podGroupsFor(queryKey, state)) {
      if (!isWebProc(pg.Name)) continue;
      const podInfos = (pg.Pods ?? []).map((pod) => {
        check.count(pod.Containers);
        return {
          Annotation: pg.Annotation,
          ContainerInfos: (pod.Containers ?? []).map((c, j) => ({
            ContainerIp: c.ContainerIp,
            Expose: pg.Containers?.[j]?.Expose ?? 0,
          })),
        };
      });
      procs.set(pg.Name, { PodInfos: podInfos });
    }
    check.assertHealthy();
    return encodeAnswer<WebprocsAnswer>(procs);
  },
};
