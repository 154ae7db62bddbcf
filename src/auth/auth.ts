// Who may see what (docs/API.md, "Who may call"). The caller is known by its source IP; every LAIN container has its own.
import type { ClusterState } from '../state/types.js';
import { ViewError, type NodeContext } from '../views/types.js';

/** Callers on this machine pass every check. */
export function isLocal(callerIp: string, node: NodeContext): boolean {
  return callerIp === '127.0.0.1' || callerIp === '::1' || callerIp === node.nodeIp;
}

/**
 * The app an IP belongs to: the pod group with a container on it, else the first depends service
 * listing it. An empty name is no app (deliberate difference: in Go it matched every app).
 */
export function appNameOf(ip: string, state: ClusterState): string | undefined {
  const app = state.appByIp(ip) || state.servicesByIp(ip).find((service) => service !== '');
  return app || undefined;
}

/**
 * Super callers: local ones, or containers of a super app. Only the pod group decides the app
 * here (a portal container of a super service is not super), as in Go. Super apps are matched
 * exactly (deliberate difference: Go's prefix lookup let `con` pass as `console`).
 */
export function isSuper(callerIp: string, state: ClusterState, node: NodeContext): boolean {
  if (node.noAuth || isLocal(callerIp, node)) return true;
  const app = state.appByIp(callerIp);
  return app !== undefined && state.isSuperApp(app);
}

/** May the caller see `app`'s data (`*`: everything)? */
export function pass(callerIp: string, app: string, state: ClusterState, node: NodeContext): boolean {
  if (node.noAuth || isLocal(callerIp, node)) return true;
  const callerApp = appNameOf(callerIp, state);
  if (callerApp === undefined) return false;
  // An app named `*` (bad data) is not every app.
  if ((callerApp === app && app !== '*') || state.isSuperApp(callerApp)) return true;
  // A client app may read the services it depends on.
  return state.servicesByIp(callerIp).includes(app);
}

export function requireSuper(callerIp: string, state: ClusterState, node: NodeContext): void {
  if (!isSuper(callerIp, state, node)) throw new ViewError(400, 'authorize failed, super required');
}

// Config keys only super callers may read (docs/API.md, "Who may call"): a target that starts
// with one of these needs super, and a key that starts with one is left out of every answer to
// any other caller.
const SECRET_CONFIG_PREFIXES = [
  'swarm_manager_ip',
  'super_apps',
  'dnsmasq_servers',
  'calico_default_rule',
  'calico_network',
  'dnsmasq_addresses',
  'ssl',
  'vips',
  'tinydns_fqdns',
  'bootstrap_node_ip',
  'dns_port',
  'vip',
  'etcd_cluster_token',
  'system_volumes',
  'rsyncd_secrets',
  'dns_ip',
  'node_network',
];

/** Does this `target` need a super caller (`*`, or a secret prefix)? */
export function isSecretConfigTarget(target: string): boolean {
  return target.startsWith('*') || isSecretConfigKey(target);
}

/**
 * Is this config key (below `/lain/config/`) a secret? Go checked only the target, so `target=r`
 * handed `rsyncd_secrets` to anyone; we leave such keys out of the answer instead (deliberate
 * difference, docs/API.md, "Differences from the Go lainlet").
 */
export function isSecretConfigKey(key: string): boolean {
  return SECRET_CONFIG_PREFIXES.some((prefix) => key.startsWith(prefix));
}
