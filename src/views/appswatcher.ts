// /v2/appswatcher: the apps that have pod groups.
import { requireSuper } from '../auth/auth.js';
import type { AppsAnswer } from './answers.js';
import type { View } from './types.js';
import { encodeAnswer, type Wire } from './wire.js';

export const appsWatcher: View = {
  path: '/v2/appswatcher',
  sources: ['podgroups'],
  watchable: true,
  key(req, state, node) {
    requireSuper(req.callerIp, state, node);
    return '*';
  },
  render(queryKey, state) {
    const apps: Wire<AppsAnswer> = new Map();
    for (const [, pg] of state.podGroups.query(queryKey)) apps.set(pg.Namespace, { Appname: pg.Namespace });
    return encodeAnswer<AppsAnswer>(apps);
  },
};
