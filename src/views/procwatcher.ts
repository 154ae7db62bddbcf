// /v2/procwatcher: an app's procs with each instance's first container address.
import { pass } from '../auth/auth.js';
import type { ProcAnswer } from './answers.js';
import { firstContainer, param, podGroupsFor, selectorKey } from './common.js';
import { ViewError, type View } from './types.js';
import { encodeAnswer } from './wire.js';

const PROCNAME_ENV = 'LAIN_PROCNAME=';

/** The last `LAIN_PROCNAME=` of a container's runtime env (Go keeps looping, so the last one wins). */
function procNameOf(env: string[] | null): string {
  let name = '';
  for (const entry of env ?? []) if (entry.startsWith(PROCNAME_ENV)) name = entry.slice(PROCNAME_ENV.length);
  return name;
}

export const procWatcher: View = {
  path: '/v2/procwatcher',
  sources: ['podgroups'],
  watchable: true,
  key(req, state, node) {
    const app = param(req, 'appname');
    if (app === undefined) throw new ViewError(400, 'appname required');
    // `*` passes only for local and super callers (an app's own name is never `*`).
    if (!pass(req.callerIp, app, state, node)) throw new ViewError(400, 'authorize failed, no permission');
    return selectorKey(app, '/');
  },
  // Go lists the procs in map order (random); ours are in key order.
  render(queryKey, state) {
    return encodeAnswer<ProcAnswer>(
      podGroupsFor(queryKey, state).map((pg) => ({
        proc: (pg.Pods ?? []).map((pod) => {
          const c = firstContainer(pod.Containers);
          return { InstanceNo: pod.InstanceNo, IP: c.ContainerIp, Port: c.ContainerPort, ProcName: procNameOf(c.RuntimeEnv) };
        }),
      })),
    );
  },
};
