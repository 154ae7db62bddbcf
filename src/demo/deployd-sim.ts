// A stand-in for deployd (LAIN's cluster controller) for the demo: every few seconds it
// changes the cluster in etcd the way deployd would, so lainlet's watches have something to
// show. Changes are derived from the existing pod groups (copied, with new container ids and
// IPs), so the values keep deployd's real shape. Seeded: the same seed and cluster give the
// same sequence of changes.
import type { EtcdHttp } from './etcd-http.js';
import type { ClusterSnapshot } from './sample-cluster.js';

export interface DeploydSimOptions {
  /** Time between two changes. Default 3 s. */
  intervalMs?: number;
  /** Seed of the choices (which pod group, which node...). Default 1. */
  seed?: number;
  /** Only scale and move pod groups of these apps (default: any app). */
  apps?: string[];
  /**
   * An app someone is watching (the demo's printed commands): every other change scales its
   * first pod group up by one instance or back down, so that its procwatcher answer changes.
   */
  watchedApp?: string;
  /** Where the one line per change goes. Default console.log. */
  log?: (line: string) => void;
}

const POD_GROUPS = '/lain/deployd/pod_groups/';
const CONFIG_KEY = '/lain/config/features/maintaining';
const STEPS = ['scaleUp', 'moveContainer', 'addApp', 'changeConfig', 'scaleDown', 'moveContainer', 'removeApp', 'changeConfig'] as const;
type StepName = (typeof STEPS)[number];

// Just the parts of deployd's PodGroupWithSpec (as test/fixtures/gen_cluster.py writes it) that the simulator changes.
interface NodeInfo {
  Name: string;
  IP: string;
  Addr: string;
  [field: string]: unknown;
}
interface Container {
  Id: string;
  NodeName: string;
  NodeIp: string;
  ContainerIp: string;
  Runtime: { Node?: NodeInfo; Config?: { Labels?: Record<string, string> }; [field: string]: unknown };
  [field: string]: unknown;
}
interface Pod {
  InstanceNo: number;
  Containers: Container[];
  [field: string]: unknown;
}
interface PodGroup {
  Spec: { Name: string; Namespace: string; NumInstances: number; Pod: { Dependencies: unknown[] | null } };
  PrevState: { NodeName: string; IPs: string[] | null }[] | null;
  Pods: Pod[] | null;
  [field: string]: unknown;
}

export class DeploydSimulator {
  private readonly cluster: Map<string, string>;
  private readonly random: () => number;
  private readonly log: (line: string) => void;
  private readonly usedIps = new Set<string>();
  private nextIp = 0;
  private stepIndex = 0;
  private scaledUp: { key: string; instanceNo: number } | undefined;
  private watchedScaledUp: { key: string; instanceNo: number } | undefined;
  private ticks = 0;
  private addedApp: string | undefined;
  private addedApps = 0;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly etcd: EtcdHttp,
    cluster: ClusterSnapshot,
    private readonly opts: DeploydSimOptions = {},
  ) {
    this.cluster = new Map(Object.entries(cluster));
    this.random = mulberry32(opts.seed ?? 1);
    this.log = opts.log ?? ((line) => console.log(line));
    for (const value of this.cluster.values()) {
      for (const ip of value.match(/\b172\.20\.\d{1,3}\.\d{1,3}\b/g) ?? []) this.usedIps.add(ip);
    }
  }

  /** Make one change every `intervalMs` until stop(). Errors are logged, never thrown. */
  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.step()
          .then((line) => this.log(line))
          .catch((err: unknown) => this.log(`deployd-sim: change failed: ${err instanceof Error ? err.message : String(err)}`))
          .finally(() => {
            if (this.timer) tick();
          });
      }, this.opts.intervalMs ?? 3_000);
    };
    tick();
  }

  /** Stop changing things; waits for a change in progress. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.queue.catch(() => undefined);
  }

  /** Make the next change now; returns the line saying what it did. */
  step(): Promise<string> {
    const watched = this.opts.watchedApp !== undefined && this.ticks++ % 2 === 0;
    const name = watched ? 'toggleWatched' : STEPS[this.stepIndex++ % STEPS.length];
    const run = this.queue.catch(() => undefined).then(() => this.run(name));
    this.queue = run;
    return run.then((what) => `deployd-sim: ${what}`);
  }

  private run(step: StepName | 'toggleWatched'): Promise<string> {
    switch (step) {
      case 'toggleWatched':
        return this.toggleWatched();
      case 'scaleUp':
        return this.scaleUp();
      case 'scaleDown':
        return this.scaleDown();
      case 'moveContainer':
        return this.moveContainer();
      case 'addApp':
        return this.addApp();
      case 'removeApp':
        return this.removeApp();
      case 'changeConfig':
        return this.changeConfig();
    }
  }

  private async scaleUp(): Promise<string> {
    const { line, instanceNo, key } = await this.addInstance(this.pick(this.podGroupKeys(this.opts.apps)));
    if (instanceNo !== undefined) this.scaledUp = { key, instanceNo };
    return line;
  }

  private async scaleDown(): Promise<string> {
    if (!this.scaledUp || !this.cluster.has(this.scaledUp.key)) return 'scale down: nothing scaled up to undo, skipped';
    const line = await this.removeInstance(this.scaledUp.key, this.scaledUp.instanceNo);
    this.scaledUp = undefined;
    return line;
  }

  /** The watched app's first pod group one instance up, or back down. */
  private async toggleWatched(): Promise<string> {
    const undo = this.watchedScaledUp;
    if (undo && this.cluster.has(undo.key)) {
      this.watchedScaledUp = undefined;
      return this.removeInstance(undo.key, undo.instanceNo);
    }
    const { line, instanceNo, key } = await this.addInstance(this.podGroupKeys([this.opts.watchedApp!])[0]);
    if (instanceNo !== undefined) this.watchedScaledUp = { key, instanceNo };
    return line;
  }

  private async addInstance(key: string): Promise<{ line: string; key: string; instanceNo?: number }> {
    const pg = this.podGroup(key);
    const pods = pg.Pods ?? [];
    if (pods.length === 0) return { key, line: `scale up: ${pg.Spec.Name} has no pod to copy, skipped` };
    const source = pods.reduce((a, b) => (b.InstanceNo > a.InstanceNo ? b : a));
    const instanceNo = source.InstanceNo + 1;
    const pod = this.copyPod(source, pg.Spec.Name, instanceNo);
    const node = this.pick(this.nodes());
    for (const c of pod.Containers) placeOn(c, node);
    pg.Pods = [...pods, pod];
    pg.Spec.NumInstances = pg.Pods.length;
    pg.PrevState = [...(pg.PrevState ?? []), { NodeName: node.Name, IPs: pod.Containers.map((c) => c.ContainerIp) }];
    await this.write(key, pg);
    return { key, instanceNo, line: `scaled ${pg.Spec.Name} up to ${instances(pg.Spec.NumInstances)}: new instance ${instanceNo} on ${node.Name}, IP ${pod.Containers[0]?.ContainerIp}` };
  }

  private async removeInstance(key: string, instanceNo: number): Promise<string> {
    const pg = this.podGroup(key);
    const pod = (pg.Pods ?? []).find((p) => p.InstanceNo === instanceNo);
    if (!pod) return `scale down: ${pg.Spec.Name} has no instance ${instanceNo}, skipped`;
    const ips = new Set(pod.Containers.map((c) => c.ContainerIp));
    pg.Pods = (pg.Pods ?? []).filter((p) => p !== pod);
    pg.Spec.NumInstances = pg.Pods.length;
    pg.PrevState = (pg.PrevState ?? []).filter((s) => !(s.IPs ?? []).some((ip) => ips.has(ip)));
    await this.write(key, pg);
    return `scaled ${pg.Spec.Name} down to ${instances(pg.Spec.NumInstances)}: removed instance ${instanceNo}`;
  }

  private async moveContainer(): Promise<string> {
    const key = this.pick(this.podGroupKeys(this.opts.apps));
    const pg = this.podGroup(key);
    const pod = this.pick(pg.Pods ?? []);
    const container = pod?.Containers[0];
    const targets = this.nodes().filter((n) => n.Name !== container?.NodeName);
    if (!pod || !container || targets.length === 0) return `move: ${pg.Spec.Name} has nothing to move, skipped`;
    const from = container.NodeName;
    const node = this.pick(targets);
    placeOn(container, node);
    for (const state of pg.PrevState ?? []) {
      if ((state.IPs ?? []).includes(container.ContainerIp)) state.NodeName = node.Name;
    }
    await this.write(key, pg);
    return `moved ${pg.Spec.Name} instance ${pod.InstanceNo} (container ${container.Id.slice(0, 12)}, IP ${container.ContainerIp}) from ${from} to ${node.Name}`;
  }

  private async addApp(): Promise<string> {
    // A pod group without dependencies: renaming its app can't leave a dangling portal name.
    const sources = this.podGroupKeys().filter((k) => {
      const pg = this.podGroup(k);
      return !pg.Spec.Namespace.includes('.') && (pg.Spec.Pod.Dependencies ?? []).length === 0 && (pg.Pods ?? []).length > 0;
    });
    const sourceKey = this.pick(sources);
    const source = this.podGroup(sourceKey);
    const app = `simapp${++this.addedApps}`;
    const renamed = mapStrings(source, (s) => s.replace(wordPattern(source.Spec.Namespace), app)) as PodGroup;
    for (const pod of renamed.Pods ?? []) {
      pod.Containers = pod.Containers.map((c) => this.renewContainer(c));
    }
    renamed.PrevState = (renamed.Pods ?? []).map((p) => ({
      NodeName: p.Containers[0]?.NodeName ?? '',
      IPs: p.Containers.map((c) => c.ContainerIp),
    }));
    const key = `${POD_GROUPS}${app}/${renamed.Spec.Name}`;
    await this.write(key, renamed);
    this.addedApp = app;
    return `added app ${app} (${renamed.Spec.Name}, ${instances((renamed.Pods ?? []).length)}, a copy of ${source.Spec.Name})`;
  }

  private async removeApp(): Promise<string> {
    const app = this.addedApp;
    if (!app) return 'remove app: no added app to remove, skipped';
    const prefix = `${POD_GROUPS}${app}/`;
    await this.etcd.del(prefix, { prefix: true });
    for (const key of [...this.cluster.keys()]) if (key.startsWith(prefix)) this.cluster.delete(key);
    this.addedApp = undefined;
    return `removed app ${app}`;
  }

  private async changeConfig(): Promise<string> {
    const value = this.cluster.get(CONFIG_KEY) === 'True' ? 'False' : 'True';
    await this.etcd.put(CONFIG_KEY, value);
    this.cluster.set(CONFIG_KEY, value);
    return `set config ${CONFIG_KEY.slice('/lain/config/'.length)} = ${value}`;
  }

  /** A copy of `source` as instance `instanceNo`, with new container ids and IPs. */
  private copyPod(source: Pod, pgName: string, instanceNo: number): Pod {
    const old = source.InstanceNo;
    const containerName = new RegExp(`^/${escapeRegExp(pgName)}\\.v(\\d+)-i${old}-d(\\d+)$`); // /<pg>.v<ver>-i<inst>-d<drift>
    const pod = mapStrings(source, (s) =>
      s
        .replace(`DEPLOYD_POD_INSTANCE_NO=${old}`, `DEPLOYD_POD_INSTANCE_NO=${instanceNo}`)
        .replace(containerName, `/${pgName}.v$1-i${instanceNo}-d$2`)
        .replace(`/${pgName}/${old}/`, `/${pgName}/${instanceNo}/`), // volume paths
    ) as Pod;
    pod.InstanceNo = instanceNo;
    pod.Containers = pod.Containers.map((c) => {
      const labels = c.Runtime.Config?.Labels;
      if (labels?.['cc.bdp.lain.deployd.instance_no'] !== undefined) labels['cc.bdp.lain.deployd.instance_no'] = String(instanceNo);
      return this.renewContainer(c);
    });
    return pod;
  }

  /** The container with a fresh id and IP (every place they appear: hostname, paths, networks). */
  private renewContainer(c: Container): Container {
    const [oldId, oldIp] = [c.Id, c.ContainerIp];
    const [newId, newIp] = [this.newContainerId(), this.newContainerIp()];
    return mapStrings(c, (s) => {
      if (s === oldIp) return newIp;
      if (s === oldId.slice(0, 12)) return newId.slice(0, 12); // Config.Hostname
      return s.split(oldId).join(newId);
    }) as Container;
  }

  private newContainerId(): string {
    let id = '';
    while (id.length < 64) id += Math.floor(this.random() * 0x100000000).toString(16).padStart(8, '0');
    return id;
  }

  /** The next 172.20.x.y not used anywhere in the cluster (from 172.20.250.1 up: clear of the sample's). */
  private newContainerIp(): string {
    for (;;) {
      const n = this.nextIp++;
      const ip = `172.20.${250 + Math.floor(n / 254)}.${(n % 254) + 1}`;
      if (!this.usedIps.has(ip)) {
        this.usedIps.add(ip);
        return ip;
      }
    }
  }

  /** Every node that runs a container, as the containers' runtime describes it. */
  private nodes(): NodeInfo[] {
    const byName = new Map<string, NodeInfo>();
    for (const key of this.podGroupKeys()) {
      for (const pod of this.podGroup(key).Pods ?? []) {
        for (const c of pod.Containers) if (c.Runtime.Node) byName.set(c.Runtime.Node.Name, c.Runtime.Node);
      }
    }
    return [...byName.keys()].sort().map((name) => byName.get(name)!);
  }

  private podGroupKeys(apps?: string[]): string[] {
    const keys = [...this.cluster.keys()].filter((k) => k.startsWith(POD_GROUPS)).sort();
    if (!apps) return keys;
    const wanted = keys.filter((k) => apps.includes(k.slice(POD_GROUPS.length).split('/')[0]));
    if (wanted.length === 0) throw new Error(`no pod groups of the apps ${apps.join(', ')}`);
    return wanted;
  }

  /** A fresh parsed copy (callers change it freely). */
  private podGroup(key: string): PodGroup {
    return JSON.parse(this.cluster.get(key)!) as PodGroup;
  }

  /** Write to etcd first, then to our copy: a failed write leaves our copy as etcd has it. */
  private async write(key: string, pg: PodGroup): Promise<void> {
    const value = goJson(pg);
    await this.etcd.put(key, value);
    this.cluster.set(key, value);
  }

  private pick<T>(items: T[]): T {
    if (items.length === 0) throw new Error('nothing to choose from');
    return items[Math.floor(this.random() * items.length)];
  }
}

function instances(n: number): string {
  return n === 1 ? '1 instance' : `${n} instances`;
}

function placeOn(c: Container, node: NodeInfo): void {
  c.NodeName = node.Name;
  c.NodeIp = node.IP;
  c.Runtime.Node = structuredClone(node);
}

/**
 * A copy of `value` with every string passed through `fn`, object keys included: some maps
 * are keyed by names that change too (NetworkSettings.Networks is keyed by the app).
 */
function mapStrings(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [fn(k), mapStrings(v, fn)]));
  }
  return value;
}

/** `word` where it is a whole name (not part of a longer app name like `hello2`). */
function wordPattern(word: string): RegExp {
  return new RegExp(`(?<![A-Za-z0-9_-])${escapeRegExp(word)}(?![A-Za-z0-9_-])`, 'g');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** JSON as Go's encoding/json writes it (deployd is Go): compact, with <, >, & and U+2028/9 escaped. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Small seeded PRNG (mulberry32): the same seed gives the same changes. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
