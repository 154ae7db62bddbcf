// /v2/containers: every container, under `<nodename>/<cid>` and `<nodeip>/<cid>`.
import type { ContainersAnswer } from './answers.js';
import { requireSuper } from '../auth/auth.js';
import { param, withSlash } from './common.js';
import type { View } from './types.js';
import { encodeAnswer } from './wire.js';

export const containersView: View = {
  path: '/v2/containers',
  sources: ['containers'],
  watchable: true,
  // The Go binary re-sends this answer on every write of a pod group it covers, changed or not.
  resendWhenTouched: true,
  key(req, state, node) {
    requireSuper(req.callerIp, state, node);
    const nodeName = param(req, 'nodename');
    return nodeName === undefined ? '*' : withSlash(nodeName);
  },
  render(queryKey, state) {
    return encodeAnswer<ContainersAnswer>(new Map(state.containers.query(queryKey)));
  },
};
