// /v2/streamrouter/ports: the listen ports streamrouter must open, from the procs' annotations.
import { goJson } from '../../encode/gojson.js';
import { annotationPorts, appKeyAsCoreinfo, podGroupsFor } from '../common.js';
import type { View } from '../types.js';

export const streamrouterPorts: View = {
  path: '/v2/streamrouter/ports',
  sources: ['podgroups'],
  watchable: true,
  key: appKeyAsCoreinfo,
  render(queryKey, state) {
    const ports = podGroupsFor(queryKey, state).flatMap((pg) => annotationPorts(pg.Annotation).map((p) => p.srcport));
    return goJson(ports.sort((a, b) => a - b));
  },
};
