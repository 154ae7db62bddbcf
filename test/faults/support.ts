// Shared pieces of the fault suite: the sample cluster, a writer that changes it, and the
// convergence check ("every watcher's last answer equals what etcd holds", read from etcd).
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdHttp, loadSampleCluster, writeCluster, type ClusterSnapshot } from '../helpers/etcd.js';
import { get, watch, type SseWatch } from '../helpers/lainlet.js';
import { StateIndex } from '../../src/state/state-index.js';
import type { StoreStatus } from '../../src/store/etcd-store.js';
import { findView } from '../../src/views/index.js';
import { ViewError, type NodeContext } from '../../src/views/types.js';

export const HELLO_WEB = '/lain/deployd/pod_groups/hello/hello.web.web';

/** Queries across the routes (all with non-empty answers on the sample cluster). */
export const WATCHED_PATHS = [
  '/v2/coreinfowatcher',
  '/v2/coreinfowatcher?appname=hello',
  '/v2/procwatcher?appname=hello',
  '/v2/webrouter/webprocs',
  '/v2/proxywatcher',
  '/v2/containers',
  '/v2/configwatcher?target=features',
  '/v2/appswatcher',
  '/v2/depends',
  '/v2/nodes',
];

export async function loadCluster(http: EtcdHttp): Promise<ClusterSnapshot> {
  const cluster = await loadSampleCluster();
  await writeCluster(http, cluster);
  return cluster;
}

/** Writes that change several views: hello's second container moves IP, a feature flag flips. */
export class ClusterWriter {
  private step = 0;
  constructor(
    private readonly http: EtcdHttp,
    private readonly cluster: ClusterSnapshot,
  ) {}

  async change(): Promise<number> {
    const n = ++this.step;
    await this.http.put('/lain/config/features/fault', `step-${n}`);
    const value = this.cluster[HELLO_WEB].replaceAll('"172.20.0.34"', `"172.20.${100 + Math.floor(n / 250)}.${n % 250}"`);
    return this.http.put(HELLO_WEB, value);
  }
}

export interface Watcher {
  path: string;
  w: SseWatch;
}

export function openWatchers(port: number, count: number, extra = '&heartbeat=1'): Watcher[] {
  return Array.from({ length: count }, (_, i) => {
    const path = WATCHED_PATHS[i % WATCHED_PATHS.length];
    const sep = path.includes('?') ? '&' : '?';
    return { path, w: watch(port, `${path}${sep}watch=1${extra}`) };
  });
}

/** The data of the last init/update/delete event. */
export function lastAnswer(w: SseWatch): string | undefined {
  for (let i = w.events.length - 1; i >= 0; i--) {
    const e = w.events[i];
    if (e.event === 'init' || e.event === 'update' || e.event === 'delete') return e.data;
  }
  return undefined;
}

/**
 * What etcd holds, as lainlet answers: one read of the `/lain/` prefix over etcd's JSON
 * gateway (not lainlet's store, not its gRPC client), fed into a fresh state index, each query
 * rendered by its view for a local caller. This is what a freshly started lainlet on the same
 * etcd would answer; the fault tests converge on it, never on the lainlet under test.
 */
export class EtcdTruth {
  private readonly http: EtcdHttp;
  private readonly node: NodeContext;
  private read: { revision: number; state: StateIndex } | undefined;

  /** `endpoint`: any etcd client URL (`127.0.0.1:PORT`); read it directly, not through a cache. */
  constructor(endpoint: string, node: Partial<NodeContext> = {}) {
    this.http = new EtcdHttp(endpoint);
    this.node = { nodeIp: '127.0.0.1', hostname: hostname(), noAuth: false, ...node };
  }

  /** etcd's current revision and the answer to each query (`HTTP <status>: <message>` for an error). */
  async answers(paths: Iterable<string>): Promise<{ revision: number; answers: Map<string, string> }> {
    const revision = await this.http.getRevision();
    if (this.read?.revision !== revision) {
      const kvs = await this.http.getPrefix('/lain/');
      const state = new StateIndex();
      for (const [key, value] of Object.entries(kvs)) state.put(key, value);
      // A write between the two requests only makes the next call read again.
      state.revision = revision;
      this.read = { revision, state };
    }
    const { state } = this.read;
    const answers = new Map<string, string>();
    for (const path of paths) if (!answers.has(path)) answers.set(path, this.answer(state, path));
    return { revision, answers };
  }

  private answer(state: StateIndex, path: string): string {
    const url = new URL(path, 'http://lainlet');
    const view = findView(url.pathname);
    if (!view) throw new Error(`EtcdTruth: no view for ${path}`);
    try {
      const key = view.key({ params: url.searchParams, callerIp: '127.0.0.1' }, state, this.node);
      const json = view.render(key, state, this.node);
      return typeof json === 'string' ? json : json.toString('utf8');
    } catch (err) {
      if (err instanceof ViewError) return `HTTP ${err.status}: ${err.message}`;
      throw err;
    }
  }
}

export interface ConvergeOptions {
  /** The etcd to compare with (an endpoint, read directly, or an EtcdTruth). */
  etcd: string | EtcdTruth;
  /** Also require this lainlet's GET answers to equal etcd's. */
  lainletPort?: number;
  timeoutMs: number;
}

/**
 * Waits until every watcher's last answer (and, with `lainletPort`, every GET of the watched
 * queries) equals the answer computed from a fresh read of etcd; returns the ms it took.
 */
export async function converge(watchers: Watcher[], opts: ConvergeOptions): Promise<number> {
  const truth = typeof opts.etcd === 'string' ? new EtcdTruth(opts.etcd) : opts.etcd;
  const started = Date.now();
  for (;;) {
    const { revision, answers } = await truth.answers(watchers.map(({ path }) => path));
    const behind: string[] = [];
    for (const { path, w } of watchers) {
      const got = lastAnswer(w);
      if (got !== answers.get(path)) behind.push(`watch ${path}: ${difference(got ?? '(no answer)', answers.get(path)!)}`);
    }
    let compared = watchers.length;
    if (opts.lainletPort !== undefined) {
      compared += answers.size;
      for (const [path, expected] of answers) {
        const got = await get(opts.lainletPort, path);
        const body = got.status === 200 ? got.body : `HTTP ${got.status}: ${got.body}`;
        if (body !== expected) behind.push(`GET ${path}: ${difference(body, expected)}`);
      }
    }
    if (behind.length === 0) return Date.now() - started;
    if (Date.now() - started > opts.timeoutMs) {
      assert.fail(`${behind.length} of ${compared} answers (watches and GETs) differ from etcd at revision ${revision} after ${opts.timeoutMs} ms, e.g. ${behind[0]}`);
    }
    await sleep(50);
  }
}

/** Where two answers part, for a failure message. */
function difference(got: string, expected: string): string {
  let i = 0;
  while (i < got.length && got[i] === expected[i]) i++;
  const at = Math.max(0, i - 40);
  return `differs at byte ${i}: got ...${got.slice(at, i + 80)}... expected ...${expected.slice(at, i + 80)}...`;
}

/** Per watcher: still open, ids only grow, and no empty answer was ever sent after a non-empty one. */
export function assertHealthyStreams(watchers: Watcher[]): void {
  for (const { path, w } of watchers) {
    const answers = w.events.filter((e) => e.event === 'init' || e.event === 'update' || e.event === 'delete');
    assert.ok(answers.length > 0 && answers[0].event === 'init' && answers[0].id === '1', `${path}: starts with init id 1`);
    const ids = answers.map((e) => Number(e.id));
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `${path}: ids grow (${ids.join(',')})`);
    for (const e of answers) assert.ok(e.data !== '{}' && e.data !== '[]' && e.data !== undefined, `${path}: no empty answer`);
    assert.equal(
      w.events.some((e) => e.event === 'error'),
      false,
      `${path}: no error event`,
    );
  }
}

export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

export interface Debug {
  ready: { ready: boolean; reason: string };
  revision: number;
  connections: number;
  /** The store's own status, as /debug passes it on (src/daemon/daemon.ts). */
  etcd: StoreStatus & { lastContactAgoMs: number | null; watchStreams: number };
  rejected: Array<{ key: string; reason: string }>;
  http: { watchersDropped: number; watchersRefused: number };
}

export async function debug(port: number): Promise<Debug> {
  return JSON.parse((await get(port, '/debug')).body) as Debug;
}

/** A figure the test asserts on, printed so the run shows it. */
export function figure(name: string, value: number | string, unit = ''): void {
  console.log(`figure: ${name} = ${value}${unit ? ' ' + unit : ''}`);
}
