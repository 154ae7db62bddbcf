// /v2/appswatcher: the apps that have pod groups.
import { requireSuper } from '../auth/auth.js';
import { goJson } from '../encode/gojson.js';
import type { View } from './types.js';

export const appsWatcher: View = {
  path: '/v2/appswatcher',
  sources: ['podgroups'],
  watchable: true,
  key(req, state, node) {
    requireSuper(req.callerIp, state, node);
    return '*';
  },
  render(queryKey, state) {
    const apps = new Map<string, { Appname: string }>();
    for (const [, pg] of state.podGroups.query(queryKey)) apps.set(pg.Namespace, { Appname: pg.Namespace });
    return goJson(apps);
  },
};
