// /v2/configwatcher: the raw strings under /lain/config, by `target` prefix.
import { isSecretConfigTarget, requireSuper } from '../auth/auth.js';
import type { ConfigAnswer } from './answers.js';
import { param } from './common.js';
import { wantsWatch } from '../transports/http/params.js';
import type { Source } from '../state/types.js';
import type { View } from './types.js';
import { encodeAnswer } from './wire.js';

/**
 * A watch whose target names an existing key follows that one key: when it is deleted the
 * answer becomes `{}`, not the keys that merely start with the target (`domain` must not turn
 * into `domains/*`). This is what the Go binary's watchers observe (recorded in
 * test/fixtures/answers-go.json); GETs keep the plain exact-or-prefix rule.
 */
const EXACT = '=';

export const configWatcher: View = {
  path: '/v2/configwatcher',
  sources: ['config'],
  watchable: true,
  key(req, state, node) {
    const target = param(req, 'target') ?? '*';
    if (isSecretConfigTarget(target)) requireSuper(req.callerIp, state, node);
    if (target !== '*' && wantsWatch(req.params) && state.config.get(target) !== undefined) return EXACT + target;
    return target;
  },
  touches(queryKey: string, _source: Source, changedKey: string) {
    if (queryKey.startsWith(EXACT)) return changedKey === queryKey.slice(1);
    return queryKey === '*' || changedKey.startsWith(queryKey);
  },
  render(queryKey, state) {
    if (queryKey.startsWith(EXACT)) {
      const key = queryKey.slice(1);
      const value = state.config.get(key);
      return encodeAnswer<ConfigAnswer>(new Map(value === undefined ? [] : [[key, value]]));
    }
    return encodeAnswer<ConfigAnswer>(new Map(state.config.query(queryKey)));
  },
};
