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
    const ip = param(req, 'ip');
    if (ip === undefined) return req.callerIp;
    // Go's AppName expects `ip:port` and cuts from the last `:`, so `ip=10.0.0.1:80` asks about
    // 10.0.0.1 (and `ip=::1` about `:`); a value that leaves nothing is Go's 500 `empty key`.
    const cut = ip.lastIndexOf(':');
    const key = cut < 0 ? ip : ip.slice(0, cut);
    if (key === '') throw new ViewError(500, 'empty key');
    return key;
  },
  // The key is an IP, not a key of either source: any change may move it.
  touches: () => true,
  render(ip, state) {
    const app = appNameOf(ip, state);
    if (app === undefined) throw new ViewError(500, `unkown address ${ip}`);
    return encodeAnswer<AppnameAnswer>({ appname: app });
  },
};
