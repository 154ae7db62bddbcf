// /v2/nodes: the cluster's nodes, each value as its JSON object.
import { requireSuper } from '../auth/auth.js';
import { GoAny } from '../encode/gojson.js';
import type { NodesAnswer } from './answers.js';
import { selectorParam } from './common.js';
import type { View } from './types.js';
import { encodeAnswer, type Wire } from './wire.js';

export const nodesView: View = {
  path: '/v2/nodes',
  sources: ['nodes'],
  watchable: true,
  key(req, state, node) {
    requireSuper(req.callerIp, state, node);
    // Keys are `<name>:<ip>:<port>`: `node1` must not match `node10:...`.
    return selectorParam(req, 'name', ':');
  },
  render(queryKey, state) {
    const nodes: Wire<NodesAnswer> = new Map();
    for (const [key, value] of state.nodes.query(queryKey)) nodes.set(key, new GoAny(value));
    return encodeAnswer<NodesAnswer>(nodes);
  },
};
