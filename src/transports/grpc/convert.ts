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
  NodeInfo_Value_Type,
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
  return { Data: mapValues(a, str) };
}

export function podgroupReply(a: ProcAnswer): PodgroupReply {
  return {
    Data: list(a).map((g) => ({
      Pods: list(g.proc).map((p) => ({ ProcName: str(p.ProcName), InstanceNo: i32(p.InstanceNo), IP: str(p.IP), Port: i32(p.Port) })),
    })),
  };
}

export function coreinfoReply(a: CoreinfoAnswer): CoreinfoReply {
  return {
    Data: mapValues(a, (proc) => ({
      PodInfos: list(proc.PodInfos).map((pi) => ({
        Annotation: str(pi.Annotation),
        InstanceNo: i32(pi.InstanceNo),
        Containers: list(pi.ContainerInfos).map((c) => ({
          Command: strings(c.Command),
          Id: str(c.ContainerId),
          Ip: str(c.ContainerIp),
          Cpu: i32(c.Cpu),
          Env: strings(c.Env),
          Expose: i32(c.Expose),
          Image: str(c.Image),
          Memory: i64(c.Memory),
          NodeIp: str(c.NodeIp),
          NodeName: str(c.NodeName),
          Volumes: strings(c.Volumes),
        })),
        Dependencies: list(pi.Dependencies).map((d) => ({ PodName: str(d.PodName), Policy: i32(d.Policy) })),
      })),
    })),
  };
}

export function proxyReply(a: ProxyAnswer): ProxyReply {
  return {
    Data: mapValues(a, (proc) => ({
      Containers: list(proc.containers).map((c) => ({ ContainerIp: str(c.container_ip), ContainerPort: i32(c.container_port) })),
    })),
  };
}

export function webprocsReply(a: WebprocsAnswer): WebrouterWebprocsReply {
  return {
    Data: mapValues(a, (proc) => ({
      PodInfos: list(proc.PodInfos).map((pi) => ({
        Annotation: str(pi.Annotation),
        Containers: list(pi.ContainerInfos).map((c) => ({ IP: str(c.ContainerIp), Expose: i32(c.Expose) })),
      })),
    })),
  };
}

export function localprocsReply(a: LocalprocsAnswer): RebellionLocalprocsReply {
  return {
    Data: mapValues(a, (proc) => ({
      PodInfos: list(proc.PodInfos).map((p) => ({ Annotation: str(p.Annotation), InstanceNo: i32(p.InstanceNo), AppVersion: str(p.AppVersion) })),
    })),
  };
}

export function portsReply(a: StreamPortsAnswer): StreamrouterPortsReply {
  return { Data: list(a).map(i32) };
}

export function streamprocsReply(a: StreamprocsAnswer): StreamrouterStreamprocsReply {
  return {
    Data: mapValues(a, (procs) => ({
      procs: list(procs).map((p) => ({
        Name: str(p.Name),
        Upstreams: list(p.Upstreams).map((u) => ({ Host: str(u.Host), InstanceNo: i32(u.InstanceNo) })),
        Services: list(p.Services).map((s) => ({
          UpstreamPort: i32(s.UpstreamPort),
          ListenPort: i32(s.ListenPort),
          Send: str(s.Send),
          Expect: str(s.Expect),
        })),
      })),
    })),
  };
}

export function appsReply(a: AppsAnswer): AppsReply {
  return { Data: mapValues(a, (app) => ({ Appname: str(app.Appname) })) };
}

export function backupctlReply(a: BackupspecAnswer): BackupctlReply {
  return {
    Data: mapValues(a, (pods) => ({
      pods: list(pods).map((p) => ({
        Annotation: str(p.Annotation),
        InstanceNo: i32(p.InstanceNo),
        Containers: list(p.Containers).map((c) => ({ Id: str(c.Id), Ip: str(c.Ip), NodeIp: str(c.NodeIp), NodeName: str(c.NodeName) })),
      })),
    })),
  };
}

export function dependsReply(a: DependsAnswer): DependsReply {
  return {
    Data: mapValues(a, (nodes) => ({
      nodes: mapValues(nodes, (apps) => ({
        apps: mapValues(apps, (item) => ({
          Annotation: str(item.Annotation),
          Containers: list(item.Containers).map((c) => ({
            ContainerID: str(c.ContainerID),
            NodeIP: str(c.NodeIP),
            IP: str(c.IP),
            Port: i32(c.Port),
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
  if (typeof v === 'string') return { Vtype: NodeInfo_Value_Type.STRING, sval: v, mval: {} };
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    return { Vtype: NodeInfo_Value_Type.MAP, sval: '', mval: mapValues(v as Record<string, unknown>, jsonText) };
  }
  return { Vtype: NodeInfo_Value_Type.STRING, sval: jsonText(v), mval: {} };
}

function jsonText(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? '');
}

export function nodesReply(a: NodesAnswer): NodesReply {
  return { Data: mapValues(a, (node) => ({ v: mapValues(node, nodeValue) })) };
}

export function containersReply(a: ContainersAnswer): ContainersReply {
  return {
    Data: mapValues(a, (c) => ({
      AppName: str(c.app),
      AppVersion: str(c.app_version),
      ProcName: str(c.proc),
      NodeName: str(c.nodename),
      NodeIP: str(c.nodeip),
      IP: str(c.ip),
      Port: i32(c.port),
      InstanceNo: i32(c.instanceNo),
    })),
  };
}

export function localspecReply(a: LocalspecAnswer): LocalspecReply {
  // LocalIP and ip are in the contract, but the Go server never set them.
  return { Data: strings(a), LocalIP: '', ip: '' };
}

export function appnameReply(a: AppnameAnswer): AppnameReply {
  return { Data: { appname: str(a?.appname) } };
}
