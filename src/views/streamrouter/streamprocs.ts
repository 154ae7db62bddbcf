// /v2/streamrouter/streamprocs: per app, the procs with stream ports, their upstreams and services.
import { compareBytewise } from '../../encode/gojson.js';
import type { StreamprocsAnswer } from '../answers.js';
import { annotationPorts, appKeyAsCoreinfo, firstContainer, LiveContainerCheck, podGroupsFor } from '../common.js';
import type { View } from '../types.js';
import { encodeAnswer, type Wire } from '../wire.js';

export const streamrouterStreamprocs: View = {
  path: '/v2/streamrouter/streamprocs',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state) {
    const byApp: Wire<StreamprocsAnswer> = new Map();
    const check = new LiveContainerCheck();
    for (const pg of podGroupsFor(queryKey, state)) {
      const ports = annotationPorts(pg.Annotation);
      if (ports.length === 0) continue;
      const upstreams = (pg.Pods ?? []).map((pod) => {
        check.count(pod.Containers);
        return { Host: firstContainer(pod.Containers).ContainerIp, InstanceNo: pod.InstanceNo };
      });
      const services = ports.map((p) => ({ UpstreamPort: p.dstport, ListenPort: p.srcport, Send: p.send, Expect: p.expect }));
      const procs = byApp.get(pg.Namespace) ?? [];
      procs.push({
        Name: pg.Name,
        Upstreams: upstreams.sort((a, b) => a.InstanceNo - b.InstanceNo),
        Services: services.sort((a, b) => a.ListenPort - b.ListenPort),
      });
      byApp.set(pg.Namespace, procs);
    }
    check.assertHealthy();
    for (const procs of byApp.values()) procs.sort((a, b) => compareBytewise(a.Name, b.Name));
    return encodeAnswer<StreamprocsAnswer>(byApp);
  },
};
