// The table of gRPC services that answer from a view: which route, which request fields are
// its query parameters, how its answer becomes the reply message. The server registers a Get
// (and a Watch where the proto has one) for every entry; nothing else is per service.
import type { RouteAnswers } from '../../views/answers.js';
import { findView } from '../../views/index.js';
import type { View } from '../../views/types.js';
import * as convert from './convert.js';
import * as pb from './gen/message.js';

/** A method of a generated service definition (ts-proto, outputServices=grpc-js). */
export interface GeneratedMethod<Req> {
  path: string;
  requestStream: false;
  responseStream: boolean;
  requestSerialize(value: Req): Buffer;
  requestDeserialize(value: Buffer): Req;
}

export interface ViewService {
  /** The proto service name, e.g. `Coreinfo` (full name `message.Coreinfo`). */
  readonly name: string;
  readonly view: View;
  readonly get: GeneratedMethod<unknown>;
  readonly watch?: GeneratedMethod<unknown>;
  /** The request message -> the route's query parameters (empty strings count as absent). */
  params(request: unknown): URLSearchParams;
  /** The view's answer (JSON bytes) -> the serialized reply message. */
  encode(json: Buffer): Buffer;
}

function viewService<P extends keyof RouteAnswers, Req, Rep>(spec: {
  name: string;
  path: P;
  definition: { get: GeneratedMethod<Req>; watch?: GeneratedMethod<Req> };
  /**
   * Request fields that are query parameters of the route. The parameter is the field's name in
   * lower case: the original proto capitalises the HTTP parameters as Go fields (`Appname`).
   */
  fields: ReadonlyArray<keyof Req & string>;
  reply: (answer: RouteAnswers[P]) => Rep;
  type: pb.MessageFns<Rep>;
}): ViewService {
  const view = findView(spec.path);
  if (!view) throw new Error(`gRPC service ${spec.name}: no view for ${spec.path}`);
  return {
    name: spec.name,
    view,
    get: spec.definition.get as GeneratedMethod<unknown>,
    watch: spec.definition.watch as GeneratedMethod<unknown> | undefined,
    params(request) {
      const params = new URLSearchParams();
      for (const field of spec.fields) {
        const value = (request as Record<string, unknown> | null)?.[field];
        if (typeof value === 'string' && value !== '') params.set(field.toLowerCase(), value);
      }
      return params;
    },
    encode(json) {
      const bytes = spec.type.encode(spec.reply(JSON.parse(json.toString('utf8')) as RouteAnswers[P])).finish();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}

export const VIEW_SERVICES: readonly ViewService[] = [
  viewService({ name: 'Appname', path: '/appname', definition: pb.AppnameService, fields: ['ip'], reply: convert.appnameReply, type: pb.AppnameReply }),
  viewService({ name: 'Apps', path: '/v2/appswatcher', definition: pb.AppsService, fields: [], reply: convert.appsReply, type: pb.AppsReply }),
  viewService({
    name: 'Backupctl',
    path: '/v2/backupspec',
    definition: pb.BackupctlService,
    fields: ['Appname'],
    reply: convert.backupctlReply,
    type: pb.BackupctlReply,
  }),
  viewService({ name: 'Config', path: '/v2/configwatcher', definition: pb.ConfigService, fields: ['Target'], reply: convert.configReply, type: pb.ConfigReply }),
  viewService({
    name: 'Containers',
    path: '/v2/containers',
    definition: pb.ContainersService,
    fields: ['Nodename'],
    reply: convert.containersReply,
    type: pb.ContainersReply,
  }),
  viewService({
    name: 'Coreinfo',
    path: '/v2/coreinfowatcher',
    definition: pb.CoreinfoService,
    fields: ['Appname'],
    reply: convert.coreinfoReply,
    type: pb.CoreinfoReply,
  }),
  viewService({ name: 'Depends', path: '/v2/depends', definition: pb.DependsService, fields: ['Target'], reply: convert.dependsReply, type: pb.DependsReply }),
  viewService({
    name: 'Localspec',
    path: '/v2/localspecquery',
    definition: pb.LocalspecService,
    fields: ['Nodeip'],
    reply: convert.localspecReply,
    type: pb.LocalspecReply,
  }),
  viewService({ name: 'Nodes', path: '/v2/nodes', definition: pb.NodesService, fields: ['Name'], reply: convert.nodesReply, type: pb.NodesReply }),
  viewService({
    name: 'Podgroup',
    path: '/v2/procwatcher',
    definition: pb.PodgroupService,
    fields: ['Appname'],
    reply: convert.podgroupReply,
    type: pb.PodgroupReply,
  }),
  viewService({ name: 'Proxy', path: '/v2/proxywatcher', definition: pb.ProxyService, fields: ['Appname'], reply: convert.proxyReply, type: pb.ProxyReply }),
  viewService({
    name: 'RebellionLocalprocs',
    path: '/v2/rebellion/localprocs',
    definition: pb.RebellionLocalprocsService,
    fields: ['Appname'],
    reply: convert.localprocsReply,
    type: pb.RebellionLocalprocsReply,
  }),
  viewService({
    name: 'StreamrouterPorts',
    path: '/v2/streamrouter/ports',
    definition: pb.StreamrouterPortsService,
    fields: ['Appname'],
    reply: convert.portsReply,
    type: pb.StreamrouterPortsReply,
  }),
  viewService({
    name: 'StreamrouterStreamprocs',
    path: '/v2/streamrouter/streamprocs',
    definition: pb.StreamrouterStreamprocsService,
    fields: ['Appname'],
    reply: convert.streamprocsReply,
    type: pb.StreamrouterStreamprocsReply,
  }),
  viewService({
    name: 'WebrouterWebprocs',
    path: '/v2/webrouter/webprocs',
    definition: pb.WebrouterWebprocsService,
    fields: ['Appname'],
    reply: convert.webprocsReply,
    type: pb.WebrouterWebprocsReply,
  }),
];
