// Builds a whole ClusterState from a snapshot of etcd (start-up, tests).
import { StateIndex } from './state-index.js';

export interface RejectedValue {
  etcdKey: string;
  reason: string;
}

export interface BuiltState {
  state: StateIndex;
  /** Values that could not be decoded; they are left out of `state`. */
  rejected: RejectedValue[];
}

/** Decodes every `/lain/...` key lainlet serves; other keys are ignored. */
export function buildState(kvs: ReadonlyMap<string, string>, revision: number): BuiltState {
  const state = new StateIndex();
  state.revision = revision;
  const rejected: RejectedValue[] = [];
  for (const [etcdKey, value] of kvs) {
    const result = state.put(etcdKey, value);
    if ('rejected' in result) rejected.push({ etcdKey, reason: result.rejected });
  }
  return { state, rejected };
}
