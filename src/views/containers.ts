// /v2/containers: every container, under `<nodename>/<cid>` and `<nodeip>/<cid>`.
import type { ContainersAnswer } from './answers.js';
import type { ContainerInfo } from '../state/types.js';
import { requireSuper } from '../auth/auth.js';
import { selectorParam } from './common.js';
import { FragmentCache, joinEncodedMap } from './fragments.js';
import type { View } from './types.js';
import type { Wire } from './wire.js';

/** One container's entry, encoded once per value (both of its keys share it). */
const containerEntries = new FragmentCache<ContainerInfo, Wire<ContainersAnswer[string]>>((info) => info);

export const containersView: View = {
  path: '/v2/containers',
  sources: ['containers'],
  watchable: true,
  // The Go binary re-sends this answer on every write of a pod group it covers, changed or not.
  resendWhenTouched: true,
  key(req, state, node) {
    requireSuper(req.callerIp, state, node);
    return selectorParam(req, 'nodename', '/');
  },
  render(queryKey, state) {
    return joinEncodedMap(state.containers.query(queryKey).map(([key, info]) => [key, containerEntries.get(info)]));
  },
};
