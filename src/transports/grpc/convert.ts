// A view's answer (the Go-compatible JSON of the HTTP route, typed in views/answers.ts) -> the
// reply message of the matching gRPC service (gen/message.ts, generated from
// proto/lainlet/message.proto). Pure functions; the transport runs them once per change.
import type {
  AppnameAnswer,
  AppsAnswer,
  BackupspecAnswer,
  ConfigAnswer,
  ContainersAnswer,
  CoreinfoAnswer,
  DependsAnswer,
  LocalprocsAnswer,
  LocalspecAnswer,
  NodesAnswer,
  ProcAnswer,
  ProxyAnswer,
  StreamPortsAnswer,
  StreamprocsAnswer,
  WebprocsAnswer,
} from '../../views/answers.js';
import {
  NodeInfo_Value_ValueType,
  type AppnameReply,
  type AppsReply,
  type BackupctlReply,
  type ConfigReply,
  type ContainersReply,
  type CoreinfoReply,
  type DependsReply,
  type LocalspecReply,
  type NodeInfo_Value,
  type NodesReply,
  type PodgroupReply,
  type ProxyReply,
  type RebellionLocalprocsReply,
  type StreamrouterPortsReply,
  type StreamrouterStreamprocsReply,
  type WebrouterWebprocsReply,
} from './gen/message.js';

/** Go wrote `int32(x)`: wrap like Go for integers, 0 for what is not a number. */
export function i32(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) ? Math.trunc(n) | 0 : 0;
}

/** int64 fields (Memory): whole numbers within JavaScript's exact range. */
export function i64(n: unknown): number {
  if (typeof n !== 'number' || !Number.isFinite(n)) return 0;
  return Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.trunc(n)));
}

const str = (s: unknown): string => (typeof s === 'string' ? s : '');
/** Go writes absent lists as `null`; protobuf has no null list. */
const list = <T>(l: T[] | null | undefined): T[] => (Array.isArray(l) ? l : []);
const strings = (l: unknown): string[] => (Array.isArray(l) ? l.map(str) : []);

function mapValues<A, B>(obj: Record<string, A> | null | undefined, f: (a: A) => B): Record<string, B> {
  const out: Record<string, B> = {};
  for (const [k, v] of Object.entries(obj ?? {})) out[k] = f(v);
  return out;
}

export function configReply(a: ConfigAnswer): ConfigReply {
  return { data: mapValues(a, str) };
}

export function podgroupReply(a: ProcAnswer): PodgroupReply {
  return {
    data: list(a).map((g) => ({
      pods: list(g.proc).map((p) => ({ procName: str(p.ProcName), instanceNo: i32(p.InstanceNo), IP: str(p.IP), port: i32(p.Port) })),
    })),
  };
}

export function coreinfoReply(a: CoreinfoAnswer): CoreinfoReply {
  return {
    data: mapValues(a, (proc) => ({
      podInfos: list(proc.PodInfos).map((pi) => ({
        annotation: str(pi.Annotation),
        instanceNo: i32(pi.InstanceNo),
        containers: list(pi.ContainerInfos).map((c) => ({
          command: strings(c.Command),
          id: str(c.ContainerId),
          ip: str(c.ContainerIp),
          cpu: i32(c.Cpu),
          env: strings(c.Env),
          expose: i32(c.Expose),
          image: str(c.Image),
          memory: i64(c.Memory),
          nodeIp: str(c.NodeIp),
          nodeName: str(c.NodeName),
          volumes: strings(c.Volumes),
        })),
        dependencies: list(pi.Dependencies).map((d) => ({ podName: str(d.PodName), policy: i32(d.Policy) })),
      })),
    })),
  };
}

export function proxyReply(a: ProxyAnswer): ProxyReply {
  return {
    data: mapValues(a, (proc) => ({
      containers: list(proc.containers).map((c) => ({ containerIp: str(c.container_ip), containerPort: i32(c.container_port) })),
    })),
  };
}

export function webprocsReply(a: WebprocsAnswer): WebrouterWebprocsReply {
  return {
    data: mapValues(a, (proc) => ({
      podInfos: list(proc.PodInfos).map((pi) => ({
        annotation: str(pi.Annotation),
        containers: list(pi.ContainerInfos).map((c) => ({ IP: str(c.ContainerIp), expose: i32(c.Expose) })),
      })),
    })),
  };
}

export function localprocsReply(a: LocalprocsAnswer): RebellionLocalprocsReply {
  return {
    data: mapValues(a, (proc) => ({
      podInfos: list(proc.PodInfos).map((p) => ({ annotation: str(p.Annotation), instanceNo: i32(p.InstanceNo), appVersion: str(p.AppVersion) })),
    })),
  };
}

export function portsReply(a: StreamPortsAnswer): StreamrouterPortsReply {
  return { data: list(a).map(i32) };
}

export function streamprocsReply(a: StreamprocsAnswer): StreamrouterStreamprocsReply {
  return {
    data: mapValues(a, (procs) => ({
      procs: list(procs).map((p) => ({
        name: str(p.Name),
        upstreams: list(p.Upstreams).map((u) => ({ host: str(u.Host), instanceNo: i32(u.InstanceNo) })),
        services: list(p.Services).map((s) => ({
          upstreamPort: i32(s.UpstreamPort),
          listenPort: i32(s.ListenPort),
          send: str(s.Send),
          expect: str(s.Expect),
        })),
      })),
    })),
  };
}

export function appsReply(a: AppsAnswer): AppsReply {
  return { data: mapValues(a, (app) => ({ appname: str(app.Appname) })) };
}

export function backupctlReply(a: BackupspecAnswer): BackupctlReply {
  return {
    data: mapValues(a, (pods) => ({
      pods: list(pods).map((p) => ({
        annotation: str(p.Annotation),
        instanceNo: i32(p.InstanceNo),
        containers: list(p.Containers).map((c) => ({ id: str(c.Id), ip: str(c.Ip), nodeIp: str(c.NodeIp), nodeName: str(c.NodeName) })),
      })),
    })),
  };
}

export function dependsReply(a: DependsAnswer): DependsReply {
  return {
    data: mapValues(a, (nodes) => ({
      nodes: mapValues(nodes, (apps) => ({
        apps: mapValues(apps, (item) => ({
          annotation: str(item.Annotation),
          containers: list(item.Containers).map((c) => ({
            containerID: str(c.ContainerID),
            nodeIP: str(c.NodeIP),
            IP: str(c.IP),
            port: i32(c.Port),
          })),
        })),
      })),
    })),
  };
}

/**
 * A node's JSON value -> NodeInfo.Value. Strings are STRING; objects are MAP (string members as
 * they are, others as their JSON text). Other values (numbers, booleans, lists), which the Go
 * server sent as an empty Value, are STRING with their JSON text, so nothing is lost.
 */
export function nodeValue(v: unknown): NodeInfo_Value {
  if (typeof v === 'string') return { vtype: NodeInfo_Value_ValueType.STRING, sval: v, mval: {} };
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    return { vtype: NodeInfo_Value_ValueType.MAP, sval: '', mval: mapValues(v as Record<string, unknown>, jsonText) };
  }
  return { vtype: NodeInfo_Value_ValueType.STRING, sval: jsonText(v), mval: {} };
}

function jsonText(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? '');
}

export function nodesReply(a: NodesAnswer): NodesReply {
  return { data: mapValues(a, (node) => ({ v: mapValues(node, nodeValue) })) };
}

export function containersReply(a: ContainersAnswer): ContainersReply {
  return {
    data: mapValues(a, (c) => ({
      appName: str(c.app),
      appVersion: str(c.app_version),
      procName: str(c.proc),
      nodeName: str(c.nodename),
      nodeIP: str(c.nodeip),
      IP: str(c.ip),
      port: i32(c.port),
      instanceNo: i32(c.instanceNo),
    })),
  };
}

export function localspecReply(a: LocalspecAnswer): LocalspecReply {
  return { data: strings(a) };
}

export function appnameReply(a: AppnameAnswer): AppnameReply {
  return { data: { appname: str(a?.appname) } };
}
