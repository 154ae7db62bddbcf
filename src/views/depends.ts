// /v2/depends: the shared portal pods, per portal, node and client app.
import { requireSuper } from '../auth/auth.js';
import { goJson } from '../encode/gojson.js';
import { param } from './common.js';
import type { View } from './types.js';

export const dependsView: View = {
  path: '/v2/depends',
  sources: ['depends'],
  watchable: true,
  key(req, state, node) {
    requireSuper(req.callerIp, state, node);
    return param(req, 'target') ?? '*';
  },
  render(queryKey, state) {
    const portals = new Map<string, unknown>();
    for (const [name, entry] of state.depends.query(queryKey)) {
      const nodes = new Map<string, unknown>();
      for (const [nodeName, apps] of entry) {
        const byApp = new Map<string, unknown>();
        // Go builds this list with make(..., 0): a pod without containers is `[]`, never null.
        for (const [app, shared] of apps) byApp.set(app, { Annotation: shared.Annotation, Containers: shared.Containers ?? [] });
        nodes.set(nodeName, byApp);
      }
      portals.set(name, nodes);
    }
    return goJson(portals);
  },
};
