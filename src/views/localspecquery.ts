// /v2/localspecquery: the procs (`<app>/<proc>`) with a container on a node (default: this one).
import { requireSuper } from '../auth/auth.js';
import { sortKeysBytewise } from '../encode/gojson.js';
import type { LocalspecAnswer } from './answers.js';
import { param, withSlash } from './common.js';
import type { View } from './types.js';
import { encodeAnswer } from './wire.js';

export const localspecQuery: View = {
  path: '/v2/localspecquery',
  sources: ['containers'],
  watchable: false,
  key(req, state, node) {
    requireSuper(req.callerIp, state, node);
    // Not a selector: Go gives `*` no meaning here (`*/` matches nothing).
    return withSlash(param(req, 'nodeip') ?? node.nodeIp);
  },
  // Go lists them in map order (random); ours are sorted.
  render(queryKey, state) {
    const procs = new Set<string>();
    for (const [, c] of state.containers.query(queryKey)) procs.add(`${c.app}/${c.proc}`);
    return encodeAnswer<LocalspecAnswer>(sortKeysBytewise([...procs]));
  },
};
