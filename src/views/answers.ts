// The answer of every route, as JSON types: what the views build (through `Wire`, see wire.ts)
// and what `lainlet/client` hands to its callers. One source for both sides.
// Lists that Go writes as `null` when absent are typed `T[] | null`.
import type { ContainerInfo, LainletInstance } from '../state/types.js';

/** `/v2/configwatcher`: config key (below `/lain/config/`) -> raw string value. */
export type ConfigAnswer = Record<string, string>;

/** One instance of a proc in `/v2/procwatcher`: the pod's first container. */
export interface ProcInstance {
  InstanceNo: number;
  IP: string;
  Port: number;
  ProcName: string;
}
/** `/v2/procwatcher`: one element per proc of the app. */
export type ProcAnswer = Array<{ proc: ProcInstance[] }>;

export interface CoreinfoContainerInfo {
  Command: string[] | null;
  ContainerId: string;
  ContainerIp: string;
  Cpu: number;
  Env: string[] | null;
  Expose: number;
  Image: string;
  Memory: number;
  NodeIp: string;
  NodeName: string;
  Volumes: string[] | null;
}
export interface CoreinfoPodInfo {
  Annotation: string;
  ContainerInfos: CoreinfoContainerInfo[];
  Dependencies: Array<{ PodName: string; Policy: number }>;
  InstanceNo: number;
}
/** `/v2/coreinfowatcher`: proc full name -> its pods. */
export type CoreinfoAnswer = Record<string, { PodInfos: CoreinfoPodInfo[] }>;

/** `/v2/proxywatcher`: proc full name -> container addresses. */
export type ProxyAnswer = Record<string, { containers: Array<{ container_ip: string; container_port: number }> }>;

export interface WebprocsPodInfo {
  Annotation: string;
  ContainerInfos: Array<{ ContainerIp: string; Expose: number }>;
}
/** `/v2/webrouter/webprocs`: web proc full name -> its pods. */
export type WebprocsAnswer = Record<string, { PodInfos: WebprocsPodInfo[] }>;

/** `/v2/rebellion/localprocs`: proc full name -> its pods on this node. */
export type LocalprocsAnswer = Record<string, { PodInfos: Array<{ Annotation: string; AppVersion: string; InstanceNo: number }> }>;

/** `/v2/streamrouter/ports`: sorted listen ports. */
export type StreamPortsAnswer = number[];

export interface StreamProc {
  Name: string;
  Upstreams: Array<{ Host: string; InstanceNo: number }>;
  Services: Array<{ UpstreamPort: number; ListenPort: number; Send: string; Expect: string }>;
}
/** `/v2/streamrouter/streamprocs`: app -> its stream procs. */
export type StreamprocsAnswer = Record<string, StreamProc[]>;

/** `/v2/appswatcher`: app -> its name. */
export type AppsAnswer = Record<string, { Appname: string }>;

export interface BackupspecPod {
  Annotation: string;
  Containers: Array<{ Id: string; Ip: string; NodeIp: string; NodeName: string }>;
  InstanceNo: number;
}
/** `/v2/backupspec`: proc full name -> its pods. */
export type BackupspecAnswer = Record<string, BackupspecPod[]>;

export interface DependsContainerInfo {
  ContainerID: string;
  NodeIP: string;
  IP: string;
  Port: number;
}
/** `/v2/depends`: portal -> node -> client app -> the shared pod. */
export type DependsAnswer = Record<string, Record<string, Record<string, { Annotation: string; Containers: DependsContainerInfo[] }>>>;

/** A node's value: whatever JSON object the LAIN tools wrote. */
export type NodeInfo = Record<string, unknown>;
/** `/v2/nodes`: `<name>:<ip>:<port>` -> the node's JSON object. */
export type NodesAnswer = Record<string, NodeInfo>;

/** One container, as the derived containers source holds it (the answer is that value). */
export type ContainerEntry = ContainerInfo;
/** `/v2/containers`: `<nodename>/<cid>` and `<nodeip>/<cid>` -> the container. */
export type ContainersAnswer = Record<string, ContainerEntry>;

/** `/v2/localspecquery`: distinct `<app>/<procname>`, sorted. */
export type LocalspecAnswer = string[];

/** `/appname`: the app of an IP. */
export interface AppnameAnswer {
  appname: string;
}

/** Route path -> its answer type. */
/** `/v2/lainlets`: host name -> a live lainlet, with `lag`: revisions of cluster data it is behind the newest one any live lainlet reported. */
export type LainletsAnswer = Record<string, LainletInstance & { lag: number }>;

export interface RouteAnswers {
  '/v2/configwatcher': ConfigAnswer;
  '/v2/procwatcher': ProcAnswer;
  '/v2/coreinfowatcher': CoreinfoAnswer;
  '/v2/proxywatcher': ProxyAnswer;
  '/v2/webrouter/webprocs': WebprocsAnswer;
  '/v2/rebellion/localprocs': LocalprocsAnswer;
  '/v2/streamrouter/ports': StreamPortsAnswer;
  '/v2/streamrouter/streamprocs': StreamprocsAnswer;
  '/v2/appswatcher': AppsAnswer;
  '/v2/backupspec': BackupspecAnswer;
  '/v2/depends': DependsAnswer;
  '/v2/nodes': NodesAnswer;
  '/v2/containers': ContainersAnswer;
  '/v2/localspecquery': LocalspecAnswer;
  '/appname': AppnameAnswer;
  '/v2/lainlets': LainletsAnswer;
}
