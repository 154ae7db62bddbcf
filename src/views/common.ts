// Helpers shared by the route views: parameters, the "as coreinfo" key rule, pod group lookups.
import { appNameOf, pass, requireSuper } from '../auth/auth.js';
import type { ClusterState, PodContainer, PodGroup } from '../state/types.js';
import { ViewError, type NodeContext, type ViewRequest } from './types.js';

/**
 * A query parameter the way Go's `r.FormValue` reads it: the first value (`?appname=a&appname=b`
 * is `a`); empty counts as absent. Transports build `req.params` with Go's parsing rules
 * (HTTP: goQueryParams; gRPC: the request's fields).
 */
export function param(req: ViewRequest, name: string): string | undefined {
  const value = req.params.get(name);
  return value === null || value === '' ? undefined : value;
}

/** The selector that means every entry, whether given explicitly or by default. */
export const EVERYTHING = '*';

/** `hello` -> `hello/`, so that an app name does not match `hello2/...`. */
export function withSlash(key: string): string {
  return key === '' || key.endsWith('/') ? key : `${key}/`;
}

/**
 * A selector parameter's value -> the query key, as Go makes it: `*` (explicit or default) stays
 * `*` and selects everything; any other value ends with `terminator` (`hello` -> `hello/`, so an
 * app name does not match `hello2/...`; `node1` -> `node1:` for `<name>:<ip>:<port>` keys).
 */
export function selectorKey(value: string, terminator: '/' | ':'): string {
  if (value === EVERYTHING || value === '' || value.endsWith(terminator)) return value;
  return value + terminator;
}

/** A selector parameter (default: everything) -> the query key; see selectorKey. */
export function selectorParam(req: ViewRequest, name: string, terminator: '/' | ':'): string {
  return selectorKey(param(req, name) ?? EVERYTHING, terminator);
}

/**
 * The key of the routes that work "as coreinfo": the `appname` param (default `*`), which the
 * caller must pass for; a caller that asked for no app and may not see all gets its own app.
 */
export function appKeyAsCoreinfo(req: ViewRequest, state: ClusterState, node: NodeContext): string {
  const app = param(req, 'appname') ?? EVERYTHING;
  if (pass(req.callerIp, app, state, node)) return selectorKey(app, '/');
  if (app !== EVERYTHING) throw new ViewError(400, 'authorize failed, no permission');
  const own = appNameOf(req.callerIp, state);
  if (own === undefined) throw new ViewError(400, 'authorize failed, can not confirm the app by request ip');
  return withSlash(own);
}

/** The key of super-only routes with an `appname` param (default `*`). */
export function superAppKey(req: ViewRequest, state: ClusterState, node: NodeContext): string {
  requireSuper(req.callerIp, state, node);
  return selectorParam(req, 'appname', '/');
}

/** The pod groups answering a query key, in key order. */
export function podGroupsFor(queryKey: string, state: ClusterState): PodGroup[] {
  return state.podGroups.query(queryKey).map(([, pg]) => pg);
}

/** A pod's first container, or the zero container when it has none (Go would crash there). */
export function firstContainer(containers: PodContainer[] | null): PodContainer {
  return (
    containers?.[0] ?? { Id: '', NodeName: '', NodeIp: '', ContainerIp: '', ContainerPort: 0, RuntimeEnv: null }
  );
}

/**
 * The safety rule of webrouter and streamrouter: refuse to answer (500) when no pod matched, or
 * fewer than half the pods' first containers have an IP, rather than let a router wipe its config
 * while the cluster is sick.
 */
export class LiveContainerCheck {
  private pods = 0;
  private alive = 0;

  count(containers: PodContainer[] | null): void {
    this.pods++;
    if ((containers?.[0]?.ContainerIp ?? '') !== '') this.alive++;
  }

  assertHealthy(): void {
    if (this.pods === 0 || this.alive * 2 < this.pods) {
      throw new ViewError(500, 'over half of the containers lost their IPs');
    }
  }
}

/** A stream proc's port mapping, from its annotation's `ports` list. */
export interface StreamPort {
  srcport: number;
  dstport: number;
  send: string;
  expect: string;
}

/**
 * The ports of an annotation (`{"ports":[{"srcport":n,"dstport":n,"proto":s,"healthcheck":{...}}]}`).
 * Like Go's lenient decode whose error is ignored: unparsable JSON gives no ports, a field of the
 * wrong type is left zero.
 */
export function annotationPorts(annotation: string): StreamPort[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(annotation);
  } catch {
    return [];
  }
  const ports = asRecord(parsed)?.ports;
  if (!Array.isArray(ports)) return [];
  return ports.map((p) => {
    const port = asRecord(p) ?? {};
    const healthcheck = asRecord(port.healthcheck) ?? {};
    return {
      srcport: asInt(port.srcport),
      dstport: asInt(port.dstport),
      send: asString(healthcheck.send),
      expect: asString(healthcheck.expect),
    };
  });
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function asInt(v: unknown): number {
  return typeof v === 'number' && Number.isInteger(v) ? v : 0;
}

function asString(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
