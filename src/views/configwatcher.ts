// /v2/configwatcher: the raw strings under /lain/config, by `target` prefix.
import { isSecretConfigKey, isSecretConfigTarget, isSuper, requireSuper } from '../auth/auth.js';
import type { ConfigAnswer } from './answers.js';
import { param } from './common.js';
import { wantsWatch } from '../transports/http/params.js';
import type { Source } from '../state/types.js';
import type { View } from './types.js';
import { encodeAnswer } from './wire.js';

/**
 * The query key is `<rights><mode><target>`, built here and never taken from the caller, so no
 * target can reach another mode (a target `=rsyncd_secrets` once did):
 * - rights: `s` a super caller (every key), `p` anyone else (keys under a secret prefix left out);
 * - mode: `~` the plain exact-or-prefix rule, `=` one exact key. A watch whose target names an
 *   existing key follows that one key: when it is deleted the answer becomes `{}`, not the keys
 *   that merely start with the target (`domain` must not turn into `domains/*`). This is what the
 *   Go binary's watchers observe (recorded in test/fixtures/answers-go.json); GETs keep the plain rule.
 */
const SUPER = 's';
const PUBLIC = 'p';
const EXACT = '=';
const PREFIX = '~';

function parseKey(queryKey: string): { superCaller: boolean; exact: boolean; target: string } {
  return { superCaller: queryKey[0] === SUPER, exact: queryKey[1] === EXACT, target: queryKey.slice(2) };
}

export const configWatcher: View = {
  path: '/v2/configwatcher',
  sources: ['config'],
  watchable: true,
  key(req, state, node) {
    const target = param(req, 'target') ?? '*';
    if (isSecretConfigTarget(target)) requireSuper(req.callerIp, state, node);
    const rights = isSuper(req.callerIp, state, node) ? SUPER : PUBLIC;
    const exact = target !== '*' && wantsWatch(req.params) && state.config.get(target) !== undefined;
    return rights + (exact ? EXACT : PREFIX) + target;
  },
  rightsOf(queryKey) {
    return queryKey[0];
  },
  touches(queryKey: string, _source: Source, changedKey: string) {
    const { exact, target } = parseKey(queryKey);
    if (exact) return changedKey === target;
    return target === '*' || changedKey.startsWith(target);
  },
  render(queryKey, state) {
    const { superCaller, exact, target } = parseKey(queryKey);
    let entries: Array<[string, string]>;
    if (exact) {
      const value = state.config.get(target);
      entries = value === undefined ? [] : [[target, value]];
    } else {
      entries = state.config.query(target);
    }
    if (!superCaller) entries = entries.filter(([k]) => !isSecretConfigKey(k));
    return encodeAnswer<ConfigAnswer>(new Map(entries));
  },
};
