// Decoders of the etcd values lainlet reads, with Go's json.Unmarshal rules for the fields we keep:
// a missing or null field is the Go zero value (lists stay `null`), a wrong JSON type is an error
// (a string or a float where Go has an int, a non-array where Go has a slice...), so a value the
// Go binary rejects is rejected here too, with a message saying where.
//
// Why hand validation and not zod: a pod group value is a large object (the container runtime
// alone has dozens of fields) of which we keep a dozen. JSON.parse (native) plus a walk over the
// kept fields allocates only the result; a schema library would walk and copy far more, and 20 MB
// of pod groups are decoded at every start-up. Fields we do not keep are not type-checked.
import type {
  ContainerInfo,
  ContainerSpec,
  Dependency,
  DependsContainer,
  DependsEntry,
  LainletInstance,
  NodeValue,
  Pod,
  PodContainer,
  PodGroup,
} from './types.js';
import { z } from 'zod';

type JsonObject = Record<string, unknown>;

function parse(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new Error(`${what}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function typeError(v: unknown, goType: string, path: string): Error {
  return new Error(`cannot unmarshal ${jsonType(v)} into ${path} of Go type ${goType}`);
}

/** A JSON object, or null when absent/null (Go: the zero struct). */
function object(v: unknown, path: string): JsonObject | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, 'struct', path);
  return v as JsonObject;
}

function string(v: unknown, path: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw typeError(v, 'string', path);
  return v;
}

const INT64_LIMIT = 2 ** 63;

function int(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number') throw typeError(v, 'int', path);
  if (!Number.isInteger(v) || Math.abs(v) >= INT64_LIMIT) {
    throw new Error(`cannot unmarshal number ${v} into ${path} of Go type int`);
  }
  return v === 0 ? 0 : v; // no -0
}

/** A JSON array mapped item by item, or null when absent/null (Go: a nil slice). */
function list<T>(v: unknown, path: string, item: (v: unknown, path: string) => T): T[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw typeError(v, 'slice', path);
  const out = new Array<T>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = item(v[i], path);
  return out;
}

function stringList(v: unknown, path: string): string[] | null {
  return list(v, path, string);
}

function containerSpec(v: unknown, path: string): ContainerSpec {
  const c = object(v, path) ?? {};
  return {
    Image: string(c.Image, `${path}.Image`),
    Env: stringList(c.Env, `${path}.Env`),
    Volumes: stringList(c.Volumes, `${path}.Volumes`),
    Command: stringList(c.Command, `${path}.Command`),
    CpuLimit: int(c.CpuLimit, `${path}.CpuLimit`),
    MemoryLimit: int(c.MemoryLimit, `${path}.MemoryLimit`),
    Expose: int(c.Expose, `${path}.Expose`),
  };
}

function dependency(v: unknown, path: string): Dependency {
  const d = object(v, path) ?? {};
  return { PodName: string(d.PodName, `${path}.PodName`), Policy: int(d.Policy, `${path}.Policy`) };
}

function podContainer(v: unknown, path: string): PodContainer {
  const c = object(v, path) ?? {};
  const runtime = object(c.Runtime, `${path}.Runtime`);
  const config = object(runtime?.Config, `${path}.Runtime.Config`);
  return {
    Id: string(c.Id, `${path}.Id`),
    NodeName: string(c.NodeName, `${path}.NodeName`),
    NodeIp: string(c.NodeIp, `${path}.NodeIp`),
    ContainerIp: string(c.ContainerIp, `${path}.ContainerIp`),
    ContainerPort: int(c.ContainerPort, `${path}.ContainerPort`),
    RuntimeEnv: stringList(config?.Env, `${path}.Runtime.Config.Env`),
  };
}

function pod(v: unknown, path: string): Pod {
  const p = object(v, path) ?? {};
  return {
    InstanceNo: int(p.InstanceNo, `${path}.InstanceNo`),
    Containers: list(p.Containers, `${path}.Containers`, podContainer),
  };
}

/** Decodes a `/lain/deployd/pod_groups/<app>/<proc>` value (deployd's PodGroupWithSpec). */
export function decodePodGroup(raw: string): PodGroup {
  const root = object(parse(raw, 'pod group'), 'PodGroupWithSpec') ?? {};
  const spec = object(root.Spec, 'Spec') ?? {};
  const podSpec = object(spec.Pod, 'Spec.Pod') ?? {};
  return {
    Name: string(spec.Name, 'Spec.Name'),
    Namespace: string(spec.Namespace, 'Spec.Namespace'),
    Annotation: string(podSpec.Annotation, 'Spec.Pod.Annotation'),
    Containers: list(podSpec.Containers, 'Spec.Pod.Containers', containerSpec),
    Dependencies: list(podSpec.Dependencies, 'Spec.Pod.Dependencies', dependency),
    Pods: list(root.Pods, 'Pods', pod),
  };
}

function dependsContainer(v: unknown, path: string): DependsContainer {
  const c = podContainer(v, path);
  return { ContainerID: c.Id, NodeIP: c.NodeIp, IP: c.ContainerIp, Port: c.ContainerPort };
}

/** Decodes a `/lain/deployd/depends/pods/<name>` value: node -> client app -> shared pod. */
export function decodeDepends(raw: string): DependsEntry {
  const root = object(parse(raw, 'depends'), 'Depends') ?? {};
  const entry: DependsEntry = new Map();
  for (const [node, apps] of Object.entries(root)) {
    const byApp = new Map<string, { Annotation: string; Containers: DependsContainer[] | null }>();
    for (const [app, shared] of Object.entries(object(apps, `[${node}]`) ?? {})) {
      const path = `[${node}][${app}]`;
      const s = object(shared, path) ?? {};
      const spec = object(s.Spec, `${path}.Spec`) ?? {};
      const sharedPod = object(s.Pod, `${path}.Pod`) ?? {};
      byApp.set(app, {
        Annotation: string(spec.Annotation, `${path}.Spec.Annotation`),
        Containers: list(sharedPod.Containers, `${path}.Pod.Containers`, dependsContainer),
      });
    }
    entry.set(node, byApp);
  }
  return entry;
}

/**
 * Decodes a `/lain/nodes/nodes/<name>:<ip>:<port>` value. Null when it is valid JSON but not an
 * object (the nodes route leaves such values out). Values may have leading spaces (ansible).
 */
export function decodeNode(raw: string): NodeValue | null {
  const value = parse(raw, 'node');
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  assertFiniteNumbers(value);
  return value as NodeValue;
}

const instanceSchema = z.object({
  hostname: z.string(),
  version: z.string(),
  ip: z.string(),
  web: z.string(),
  grpc: z.string(),
  startedAt: z.string(),
  revision: z.number().int().nonnegative(),
});

/** Decodes a `/lain/lainlet/instances/<hostname>` value (written by our own registry: small, so zod). */
export function decodeInstance(raw: string): LainletInstance {
  const result = instanceSchema.safeParse(parse(raw, 'lainlet instance'));
  if (!result.success) throw new Error(`lainlet instance: ${result.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}`);
  return result.data;
}

/** Go decodes numbers into float64 and refuses those out of its range (JSON.parse gives Infinity). */
function assertFiniteNumbers(v: unknown): void {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('node: number out of float64 range');
  } else if (v !== null && typeof v === 'object') {
    for (const item of Object.values(v)) assertFiniteNumbers(item);
  }
}

const RELEASE_VERSION = 'LAIN_APP_RELEASE_VERSION';

/** The app version: spec container 0's `LAIN_APP_RELEASE_VERSION=<v>` (an entry with a second `=` does not count, as in Go). */
export function appVersionOf(pg: PodGroup): string {
  for (const env of pg.Containers?.[0]?.Env ?? []) {
    const parts = env.split('=');
    if (parts.length === 2 && parts[0] === RELEASE_VERSION) return parts[1];
  }
  return '';
}

/** The derived containers source entries of a pod group: each container under `<nodename>/<cid>` and `<nodeip>/<cid>`. */
export function containersOf(pg: PodGroup): Array<[string, ContainerInfo]> {
  const out: Array<[string, ContainerInfo]> = [];
  const appVersion = appVersionOf(pg);
  for (const p of pg.Pods ?? []) {
    for (const c of p.Containers ?? []) {
      const info: ContainerInfo = {
        app: pg.Namespace,
        app_version: appVersion,
        proc: pg.Name,
        nodename: c.NodeName,
        nodeip: c.NodeIp,
        ip: c.ContainerIp,
        port: c.ContainerPort,
        instanceNo: p.InstanceNo,
      };
      out.push([`${c.NodeName}/${c.Id}`, info], [`${c.NodeIp}/${c.Id}`, info]);
    }
  }
  return out;
}

/** The service a depends key names: `<a>.<b>.<c>` -> `<a>`; with more dot parts, all but the last two. */
export function dependsServiceName(dependsKey: string): string {
  const fields = dependsKey.split('.');
  return fields.length > 3 ? fields.slice(0, -2).join('.') : fields[0];
}
