// /appname: which app an IP belongs to (by pod group, else by the depends services listing it).
import { appNameOf, requireSuper } from '../auth/auth.js';
import type { AppnameAnswer } from './answers.js';
import { param } from './common.js';
import { ViewError, type View } from './types.js';
import { encodeAnswer } from './wire.js';

export const appnameView: View = {
  path: '/appname',
  sources: ['podgroups', 'depends'],
  // Not a /v2 route: the Go binary has no watch for it.
  watchable: false,
  key(req, state, node) {
    requireSuper(req.callerIp, state, node);
    return param(req, 'ip') ?? req.callerIp;
  },
  // The key is an IP, not a key of either source: any change may move it.
  touches: () => true,
  render(ip, state) {
    const app = appNameOf(ip, state);
    if (app === undefined) throw new ViewError(500, `unkown address ${ip}`);
    return encodeAnswer<AppnameAnswer>({ appname: app });
  },
};
