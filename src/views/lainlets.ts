// /v2/lainlets: the live lainlets of the cluster (our own route; the Go lainlet had none), from
// the keys each one keeps alive with a lease under /lain/lainlet/instances/ (store/registry.ts).
// `lag` compares each one with the newest revision any of them reported, so every lainlet gives
// the same answer and it changes only when an instance comes, goes or reports a new revision.
import { requireSuper } from '../auth/auth.js';
import type { LainletsAnswer } from './answers.js';
import { param } from './common.js';
import type { View } from './types.js';
import { encodeAnswer, type Wire } from './wire.js';

export const lainletsView: View = {
  path: '/v2/lainlets',
  sources: ['lainlets'],
  watchable: true,
  key(req, state, node) {
    requireSuper(req.callerIp, state, node);
    return param(req, 'hostname') ?? '*';
  },
  render(queryKey, state) {
    let newest = 0;
    for (const [, instance] of state.lainlets.entries()) newest = Math.max(newest, instance.revision);
    const answer: Wire<LainletsAnswer> = new Map();
    for (const [hostname, instance] of state.lainlets.query(queryKey)) answer.set(hostname, { ...instance, lag: newest - instance.revision });
    return encodeAnswer<LainletsAnswer>(answer);
  },
};
