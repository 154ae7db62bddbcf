// The gRPC wire contract cannot drift again: the Go lainlet 2.4.3's message/message.proto
// (github.com/laincloud/lainlet at 1b3d1b8) is written below as a field table, independently of
// proto/lainlet/message.proto. Our proto must declare exactly these messages, fields (names,
// numbers, types), enums and services, and every message our generated code encodes must decode
// with the original definitions to the same values, and the other way round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import * as pb from '../../src/transports/grpc/gen/message.js';

const PROTO = fileURLToPath(new URL('../../proto/lainlet/message.proto', import.meta.url));

/** [field name, number, type]; type `repeated T` or `map<string,T>` for those labels. */
type Field = [string, number, string];

/** Every message of the original file, nested ones as `Outer.Inner`. */
const ORIGINAL_MESSAGES: Record<string, Field[]> = {
  AppnameRequest: [['ip', 1, 'string']],
  AppnameReply: [['Data', 1, 'map<string,string>']],
  AppInfo: [['Appname', 1, 'string']],
  AppsReply: [['Data', 1, 'map<string,AppInfo>']],
  AppsRequest: [],
  ContainerForBackupctl: [['Id', 1, 'string'], ['Ip', 2, 'string'], ['NodeIp', 3, 'string'], ['NodeName', 4, 'string']],
  PodInfoForBackupctl: [['Annotation', 1, 'string'], ['Containers', 2, 'repeated ContainerForBackupctl'], ['InstanceNo', 3, 'int32']],
  BackupctlReply: [['Data', 1, 'map<string,BackupctlReply.PodInfoList>']],
  'BackupctlReply.PodInfoList': [['pods', 1, 'repeated PodInfoForBackupctl']],
  BackupctlRequest: [['Appname', 1, 'string']],
  ConfigRequest: [['Target', 1, 'string']],
  ConfigReply: [['Data', 1, 'map<string,string>']],
  Info: [
    ['AppName', 1, 'string'], ['AppVersion', 2, 'string'], ['ProcName', 3, 'string'], ['NodeName', 4, 'string'],
    ['NodeIP', 5, 'string'], ['IP', 6, 'string'], ['Port', 7, 'int32'], ['InstanceNo', 8, 'int32'],
  ],
  ContainersReply: [['Data', 1, 'map<string,Info>']],
  ContainersRequest: [['Nodename', 1, 'string']],
  Container: [
    ['Command', 1, 'repeated string'], ['Id', 2, 'string'], ['Ip', 3, 'string'], ['Cpu', 4, 'int32'], ['Env', 5, 'repeated string'],
    ['Expose', 6, 'int32'], ['Image', 7, 'string'], ['Memory', 8, 'int64'], ['NodeIp', 9, 'string'], ['NodeName', 10, 'string'],
    ['Volumes', 11, 'repeated string'],
  ],
  Dependency: [['PodName', 1, 'string'], ['Policy', 2, 'int32']],
  PodInfo: [['Annotation', 1, 'string'], ['Containers', 2, 'repeated Container'], ['Dependencies', 3, 'repeated Dependency'], ['InstanceNo', 4, 'int32']],
  CoreInfo: [['PodInfos', 1, 'repeated PodInfo']],
  CoreinfoReply: [['Data', 1, 'map<string,CoreInfo>']],
  CoreinfoRequest: [['Appname', 1, 'string']],
  ContainerInfo: [['ContainerID', 1, 'string'], ['NodeIP', 2, 'string'], ['IP', 3, 'string'], ['Port', 4, 'int32']],
  DependsItem: [['Annotation', 1, 'string'], ['Containers', 2, 'repeated ContainerInfo']],
  DependsAppMap: [['apps', 1, 'map<string,DependsItem>']],
  DependsNodeMap: [['nodes', 1, 'map<string,DependsAppMap>']],
  DependsReply: [['Data', 1, 'map<string,DependsNodeMap>']],
  DependsRequest: [['Target', 1, 'string']],
  LocalspecReply: [['Data', 1, 'repeated string'], ['LocalIP', 2, 'string'], ['ip', 3, 'string']],
  LocalspecRequest: [['Nodeip', 1, 'string']],
  NodeInfo: [['v', 1, 'map<string,NodeInfo.Value>']],
  'NodeInfo.Value': [['Vtype', 1, 'NodeInfo.Value.Type'], ['sval', 2, 'string'], ['mval', 3, 'map<string,string>']],
  NodesReply: [['Data', 1, 'map<string,NodeInfo>']],
  NodesRequest: [['Name', 1, 'string']],
  Pod: [['InstanceNo', 1, 'int32'], ['IP', 2, 'string'], ['Port', 3, 'int32'], ['ProcName', 4, 'string']],
  PodGroup: [['Pods', 1, 'repeated Pod']],
  PodgroupReply: [['Data', 1, 'repeated PodGroup']],
  PodgroupRequest: [['Appname', 1, 'string']],
  ContainerForProxy: [['ContainerIp', 1, 'string'], ['ContainerPort', 2, 'int32']],
  ProcInfo: [['Containers', 1, 'repeated ContainerForProxy']],
  ProxyReply: [['Data', 1, 'map<string,ProcInfo>']],
  ProxyRequest: [['Appname', 1, 'string']],
  PodInfoForRebellion: [['Annotation', 1, 'string'], ['AppVersion', 2, 'string'], ['InstanceNo', 3, 'int32']],
  CoreInfoForRebellion: [['PodInfos', 1, 'repeated PodInfoForRebellion']],
  RebellionLocalprocsReply: [['Data', 1, 'map<string,CoreInfoForRebellion>']],
  RebellionLocalprocsRequest: [['Appname', 1, 'string']],
  StreamrouterPortsRequest: [['Appname', 1, 'string']],
  StreamrouterPortsReply: [['Data', 1, 'repeated int32']],
  StreamUpstream: [['Host', 1, 'string'], ['InstanceNo', 2, 'int32']],
  StreamService: [['UpstreamPort', 1, 'int32'], ['ListenPort', 2, 'int32'], ['Send', 3, 'string'], ['Expect', 4, 'string']],
  StreamProc: [['Name', 1, 'string'], ['Upstreams', 2, 'repeated StreamUpstream'], ['Services', 3, 'repeated StreamService']],
  StreamProcList: [['procs', 1, 'repeated StreamProc']],
  Port: [['Srcport', 1, 'int32'], ['Dstport', 2, 'int32'], ['Proto', 3, 'string']],
  Annotation: [['Ports', 1, 'repeated Port']],
  StreamrouterStreamprocsReply: [['Data', 1, 'map<string,StreamProcList>']],
  StreamrouterStreamprocsRequest: [['Appname', 1, 'string']],
  ContainerForWebrouter: [['IP', 1, 'string'], ['Expose', 2, 'int32']],
  PodInfoForWebrouter: [['Annotation', 1, 'string'], ['Containers', 2, 'repeated ContainerForWebrouter']],
  CoreInfoForWebrouter: [['PodInfos', 1, 'repeated PodInfoForWebrouter']],
  WebrouterWebprocsReply: [['Data', 1, 'map<string,CoreInfoForWebrouter>']],
  WebrouterWebprocsRequest: [['Appname', 1, 'string']],
  EmptyRequest: [],
  VersionReply: [['Version', 1, 'string'], ['APIVersion', 2, 'string']],
  WatcherStatus: [['NumReceivers', 1, 'int32'], ['UpdateTime', 2, 'int64'], ['LastEvent', 3, 'bytes'], ['TotalKeys', 4, 'int32']],
  StatusReply: [['Goroutines', 1, 'int32'], ['Status', 2, 'map<string,WatcherStatus>']],
};

const ORIGINAL_ENUMS: Record<string, Record<string, number>> = { 'NodeInfo.Value.Type': { STRING: 0, MAP: 1 } };

/** service -> method -> [request, reply, reply streamed]. */
const ORIGINAL_SERVICES: Record<string, Record<string, [string, string, boolean]>> = {
  Appname: { Get: ['AppnameRequest', 'AppnameReply', false] },
  Lainlet: { Version: ['EmptyRequest', 'VersionReply', false], Status: ['EmptyRequest', 'StatusReply', false] },
  Localspec: { Get: ['LocalspecRequest', 'LocalspecReply', false] },
};
for (const name of [
  'Apps', 'Backupctl', 'Config', 'Containers', 'Coreinfo', 'Depends', 'Nodes', 'Podgroup', 'Proxy',
  'RebellionLocalprocs', 'StreamrouterPorts', 'StreamrouterStreamprocs', 'WebrouterWebprocs',
]) {
  ORIGINAL_SERVICES[name] = { Get: [`${name}Request`, `${name}Reply`, false], Watch: [`${name}Request`, `${name}Reply`, true] };
}

/** The field table as a protobufjs root (package `message`), i.e. the original file's definitions. */
function originalRoot(): protobuf.Root {
  const pkg: protobuf.INamespace & { nested: Record<string, protobuf.AnyNestedObject> } = { nested: {} };
  const place = (dotted: string, def: protobuf.AnyNestedObject) => {
    const parts = dotted.split('.');
    let ns = pkg as { nested?: Record<string, protobuf.AnyNestedObject> };
    for (const p of parts.slice(0, -1)) ns = (ns.nested![p] as { nested?: Record<string, protobuf.AnyNestedObject> });
    ns.nested ??= {};
    ns.nested[parts[parts.length - 1]] = { ...def, ...(ns.nested[parts[parts.length - 1]] ?? {}) };
  };
  // Outer messages first, so nested ones find their parent.
  for (const name of Object.keys(ORIGINAL_MESSAGES).sort((a, b) => a.split('.').length - b.split('.').length)) {
    const fields: Record<string, protobuf.IField & { keyType?: string; rule?: string }> = {};
    for (const [field, id, spec] of ORIGINAL_MESSAGES[name]) {
      const map = /^map<(\w+),([\w.]+)>$/.exec(spec);
      if (map) fields[field] = { id, keyType: map[1], type: `message.${map[2]}`.replace('message.string', 'string') };
      else if (spec.startsWith('repeated ')) fields[field] = { id, rule: 'repeated', type: scalarOr(spec.slice(9)) };
      else fields[field] = { id, type: scalarOr(spec) };
    }
    place(name, { fields } as protobuf.AnyNestedObject);
  }
  for (const [name, values] of Object.entries(ORIGINAL_ENUMS)) place(name, { values } as protobuf.AnyNestedObject);
  for (const [name, methods] of Object.entries(ORIGINAL_SERVICES)) {
    const m: Record<string, Omit<protobuf.IMethod, 'comment'>> = {};
    for (const [method, [req, rep, stream]] of Object.entries(methods)) m[method] = { requestType: req, responseType: rep, responseStream: stream || undefined };
    place(name, { methods: m } as protobuf.AnyNestedObject);
  }
  const root = protobuf.Root.fromJSON({ nested: { message: pkg } });
  root.resolveAll();
  return root;
}

const SCALARS = new Set(['string', 'int32', 'int64', 'bytes', 'bool', 'uint32', 'uint64', 'double', 'float']);
const scalarOr = (t: string) => (SCALARS.has(t) ? t : `message.${t}`);

/** A root's definitions as comparable lines: one per field, enum value and method. */
function describe(root: protobuf.Root): string[] {
  const lines: string[] = [];
  const walk = (ns: protobuf.NamespaceBase) => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) {
        lines.push(`message ${obj.fullName}`);
        for (const f of obj.fieldsArray) {
          const type = f.resolvedType ? f.resolvedType.fullName : f.type;
          const label = f instanceof protobuf.MapField ? `map<${f.keyType},${type}>` : f.repeated ? `repeated ${type}` : type;
          lines.push(`  ${obj.fullName}.${f.name} = ${f.id} ${label}`);
        }
      } else if (obj instanceof protobuf.Enum) {
        for (const [k, v] of Object.entries(obj.values)) lines.push(`enum ${obj.fullName}.${k} = ${v}`);
      } else if (obj instanceof protobuf.Service) {
        for (const m of obj.methodsArray) {
          m.resolve();
          lines.push(`rpc ${obj.fullName}.${m.name}(${m.resolvedRequestType!.fullName}) returns (${m.responseStream ? 'stream ' : ''}${m.resolvedResponseType!.fullName})`);
        }
      }
      if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) walk(obj);
    }
  };
  walk(root.lookup('message') as protobuf.Namespace);
  return lines.sort();
}

const original = originalRoot();

test('our proto declares exactly the original messages, fields (names, numbers, types), enums and services', () => {
  const ours = new protobuf.Root().loadSync(path.resolve(PROTO), { keepCase: true });
  ours.resolveAll();
  const want = describe(original);
  const got = describe(ours);
  const missing = want.filter((l) => !got.includes(l));
  const extra = got.filter((l) => !want.includes(l));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, 'differences from the original message.proto');
  assert.ok(want.length > 150, `the table covers the whole file (${want.length} lines)`);
});

// ---- every message through both definitions ----

/** A value for every field of a message, distinct per field, lists and maps with two entries. */
function sample(type: protobuf.Type, seq = { n: 0 }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of type.fieldsArray) {
    f.resolve();
    const one = (): unknown => {
      seq.n++;
      if (f.resolvedType instanceof protobuf.Type) return sample(f.resolvedType, seq);
      if (f.resolvedType instanceof protobuf.Enum) return 1; // a non-default value
      switch (f.type) {
        case 'string':
          return `${type.name}.${f.name}#${seq.n}`;
        case 'bytes':
          return Buffer.from(`bytes#${seq.n}`);
        case 'int64':
          return 2 ** 40 + seq.n; // beyond 32 bits
        default:
          return 1000 + seq.n;
      }
    };
    if (f instanceof protobuf.MapField) out[f.name] = { [`k${seq.n}a`]: one(), [`k${seq.n}b`]: one() };
    else if (f.repeated) out[f.name] = [one(), one()];
    else out[f.name] = one();
  }
  return out;
}

/** Buffers as base64 text, so values compare the same whichever library made them. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** Our generated code for a message: ts-proto names nested messages `Outer_Inner`. */
function ourCodec(fullName: string): pb.MessageFns<unknown> {
  const codec = (pb as unknown as Record<string, pb.MessageFns<unknown> | undefined>)[fullName.replace(/^\.?message\./, '').replace(/\./g, '_')];
  assert.ok(codec?.encode, `our generated code has ${fullName}`);
  return codec;
}

const TO_OBJECT = { longs: Number, enums: Number, bytes: String, defaults: true, arrays: true, objects: true } as const;

/** Throws unless a message with every field set survives ours -> `type` and `type` -> ours. */
function assertSameOnTheWire(type: protobuf.Type): void {
  const values = sample(type);
  const ours = ourCodec(type.fullName);
  const ourMessage = ours.fromPartial(values as never);
  const decoded = type.toObject(type.decode(ours.encode(ourMessage).finish()), TO_OBJECT);
  assert.deepEqual(plain(decoded), plain(values), `${type.fullName}: our encoding, read with the original definitions`);
  const theirs = type.encode(type.fromObject(values)).finish();
  assert.deepEqual(plain(ours.decode(theirs)), plain(ourMessage), `${type.fullName}: the original encoding, read by our code`);
}

test('every message: encoded by our generated code, the original definitions decode the same values (and back)', () => {
  const types: protobuf.Type[] = [];
  const collect = (ns: protobuf.NamespaceBase) => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) types.push(obj);
      if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) collect(obj);
    }
  };
  collect(original.lookup('message') as protobuf.Namespace);
  assert.equal(types.length, Object.keys(ORIGINAL_MESSAGES).length);
  for (const type of types) assertSameOnTheWire(type);
});

test('the wire check fails on a drifted definition (Pod numbered as our proto once had it, wrongly)', () => {
  const drifted = protobuf.Root.fromJSON({
    nested: {
      message: {
        nested: {
          Pod: { fields: { ProcName: { id: 1, type: 'string' }, InstanceNo: { id: 2, type: 'int32' }, IP: { id: 3, type: 'string' }, Port: { id: 4, type: 'int32' } } },
        },
      },
    },
  });
  assert.throws(() => assertSameOnTheWire(drifted.lookupType('message.Pod')));
});
