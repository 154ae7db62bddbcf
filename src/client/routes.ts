// The routes a client can ask for: one table for the typed client, `lainlet get/watch` and their
// help. A unit test checks it against the server's views (same paths, same watchability).
import type { RouteAnswers } from '../views/answers.js';

export interface RouteInfo {
  /** The client method and the CLI's short name, e.g. `coreinfo`. */
  readonly name: string;
  readonly path: keyof RouteAnswers;
  /** Query parameters, with what they mean. */
  readonly params: Readonly<Record<string, string>>;
  /** Does the route accept `watch=1`? */
  readonly watchable: boolean;
  readonly summary: string;
}

const APP = 'app name (default: all, or the caller\'s own app)';

export const ROUTES = [
  { name: 'config', path: '/v2/configwatcher', params: { target: 'config key prefix below /lain/config (default *)' }, watchable: true, summary: 'cluster config values' },
  { name: 'procs', path: '/v2/procwatcher', params: { appname: 'app name (required)' }, watchable: true, summary: "an app's procs and instance addresses" },
  { name: 'coreinfo', path: '/v2/coreinfowatcher', params: { appname: APP }, watchable: true, summary: 'procs with pods, containers and specs' },
  { name: 'proxy', path: '/v2/proxywatcher', params: { appname: APP }, watchable: true, summary: 'container addresses and exposed ports' },
  { name: 'webprocs', path: '/v2/webrouter/webprocs', params: { appname: APP }, watchable: true, summary: 'web procs for webrouter' },
  { name: 'localprocs', path: '/v2/rebellion/localprocs', params: { appname: APP }, watchable: true, summary: "pods on this lainlet's node (rebellion)" },
  { name: 'streamports', path: '/v2/streamrouter/ports', params: { appname: APP }, watchable: true, summary: 'stream listen ports (streamrouter)' },
  { name: 'streamprocs', path: '/v2/streamrouter/streamprocs', params: { appname: APP }, watchable: true, summary: 'stream procs, upstreams, services' },
  { name: 'apps', path: '/v2/appswatcher', params: {}, watchable: true, summary: 'apps with pod groups (super)' },
  { name: 'backupspec', path: '/v2/backupspec', params: { appname: 'app name (default *)' }, watchable: true, summary: 'pods and container placement (super)' },
  { name: 'depends', path: '/v2/depends', params: { target: 'portal name prefix (default *)' }, watchable: true, summary: 'shared portal pods (super)' },
  { name: 'nodes', path: '/v2/nodes', params: { name: 'node name (default *)' }, watchable: true, summary: 'cluster nodes (super)' },
  { name: 'containers', path: '/v2/containers', params: { nodename: 'node name or IP (default *)' }, watchable: true, summary: 'every container by node (super)' },
  { name: 'localspecquery', path: '/v2/localspecquery', params: { nodeip: "node IP (default: lainlet's -ip)" }, watchable: false, summary: 'procs with a container on a node (super; no watch)' },
  { name: 'lainlets', path: '/v2/lainlets', params: { hostname: 'host name (default *)' }, watchable: true, summary: 'live lainlets and how far each lags (super)' },
  { name: 'appname', path: '/appname', params: { ip: 'IP address (default: the caller)' }, watchable: false, summary: 'the app an IP belongs to (super; no watch)' },
] as const satisfies readonly RouteInfo[];

export type RouteName = (typeof ROUTES)[number]['name'];
export type RoutePath = keyof RouteAnswers;
type RouteByName<N extends RouteName> = Extract<(typeof ROUTES)[number], { name: N }>;
/** A route's answer type, by name or path. */
export type AnswerOf<R extends RouteName | RoutePath> = R extends RoutePath ? RouteAnswers[R] : R extends RouteName ? RouteAnswers[RouteByName<R>['path']] : never;
/** A route's parameters (all optional strings), by name or path. */
export type ParamsOf<R extends RouteName | RoutePath> = Partial<
  Record<keyof (R extends RouteName ? RouteByName<R> : Extract<(typeof ROUTES)[number], { path: R }>)['params'], string>
>;
/** Routes that accept `watch=1`. */
export type WatchableRoute = Extract<(typeof ROUTES)[number], { watchable: true }>['name'] | Extract<(typeof ROUTES)[number], { watchable: true }>['path'];

/**
 * A route by client name (`coreinfo`), path (`/v2/coreinfowatcher`), or path without the slash
 * and `/v2/` (`coreinfowatcher`, `webrouter/webprocs`).
 */
export function findRoute(nameOrPath: string): RouteInfo | undefined {
  const p = nameOrPath.replace(/\/+$/, '');
  return ROUTES.find((r) => r.name === p || r.path === p || r.path === `/${p}` || r.path === `/v2/${p}`);
}

/** The route table as help text (for `lainlet --help` and `lainlet get --help`). */
export function routesHelp(withParams = false): string {
  const lines = ['Routes (name or path):'];
  for (const r of ROUTES) {
    const params = Object.keys(r.params).map((p) => `${p}=`).join(' ');
    lines.push(`  ${r.name.padEnd(15)}${r.path.padEnd(30)}${params.padEnd(12)}${r.summary}`);
    if (withParams) for (const [p, what] of Object.entries(r.params)) lines.push(`${' '.repeat(19)}${p}=  ${what}`);
  }
  return `${lines.join('\n')}\n`;
}
