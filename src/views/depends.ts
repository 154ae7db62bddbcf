// /v2/depends: the shared portal pods, per portal, node and client app.
import { requireSuper } from '../auth/auth.js';
import type { DependsAnswer } from './answers.js';
import { param } from './common.js';
import type { View } from './types.js';
import { encodeAnswer, type Wire } from './wire.js';

export const dependsView: View = {
  path: '/v2/depends',
  sources: ['depends'],
  watchable: true,
  key(req, state, node) {
    requireSuper(req.callerIp, state, node);
    return param(req, 'target') ?? '*';
  },
  render(queryKey, state) {
    const portals: Wire<DependsAnswer> = new Map();
    for (const [name, entry] of state.depends.query(queryKey)) {
      const nodes: Wire<DependsAnswer[string]> = new Map();
      for (const [nodeName, apps] of entry) {
        const byApp: Wire<DependsAnswer[string][string]> = new Map();
        // Go builds this list with make(..., 0): a pod without containers is `[]`, never null.
        for (const [app, shared] of apps) byApp.set(app, { Annotation: shared.Annotation, Containers: shared.Containers ?? [] });
        nodes.set(nodeName, byApp);
      }
      portals.set(name, nodes);
    }
    return encodeAnswer<DependsAnswer>(portals);
  },
};
