// /v2/streamrouter/ports: the listen ports streamrouter must open, from the procs' annotations.
import type { StreamPortsAnswer } from '../answers.js';
import { annotationPorts, appKeyAsCoreinfo, podGroupsFor } from '../common.js';
import type { View } from '../types.js';
import { encodeAnswer } from '../wire.js';

export const streamrouterPorts: View = {
  path: '/v2/streamrouter/ports',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state) {
    const ports = podGroupsFor(queryKey, state).flatMap((pg) => annotationPorts(pg.Annotation).map((p) => p.srcport));
    return encodeAnswer<StreamPortsAnswer>(ports.sort((a, b) => a - b));
  },
};
