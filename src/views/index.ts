// Every route's view, and the lookup the transports use.
import { appnameView } from './appname.js';
import { appsWatcher } from './appswatcher.js';
import { backupSpec } from './backupspec.js';
import { configWatcher } from './configwatcher.js';
import { containersView } from './containers.js';
import { coreinfoWatcher } from './coreinfowatcher.js';
import { dependsView } from './depends.js';
import { lainletsView } from './lainlets.js';
import { localspecQuery } from './localspecquery.js';
import { nodesView } from './nodes.js';
import { procWatcher } from './procwatcher.js';
import { proxyWatcher } from './proxywatcher.js';
import { rebellionLocalprocs } from './rebellion/localprocs.js';
import { streamrouterPorts } from './streamrouter/ports.js';
import { streamrouterStreamprocs } from './streamrouter/streamprocs.js';
import type { View } from './types.js';
import { webrouterWebprocs } from './webrouter/webprocs.js';

export const views: readonly View[] = [
  configWatcher,
  procWatcher,
  coreinfoWatcher,
  proxyWatcher,
  webrouterWebprocs,
  rebellionLocalprocs,
  streamrouterPorts,
  streamrouterStreamprocs,
  appsWatcher,
  backupSpec,
  dependsView,
  nodesView,
  containersView,
  localspecQuery,
  appnameView,
  lainletsView,
];

const byPath = new Map(views.map((v) => [v.path, v]));

/** The view of a URL path; one trailing slash is accepted (`/v2/coreinfowatcher/`). */
export function findView(path: string): View | undefined {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return byPath.get(trimmed);
}
