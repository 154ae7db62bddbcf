// Shared pieces of the fault suite: the sample cluster, a writer that changes it, and the
// convergence check ("every watcher's last answer equals a GET of the same query").
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdHttp, loadSampleCluster, writeCluster, type ClusterSnapshot } from '../helpers/etcd.js';
import { get, watch, type SseWatch } from '../helpers/lainlet.js';

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

/** Waits until every watcher's last answer equals a GET of its query; returns the ms it took. */
export async function converge(port: number, watchers: Watcher[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  const answers = new Map<string, string>();
  for (;;) {
    answers.clear();
    for (const { path } of watchers) {
      if (!answers.has(path)) answers.set(path, (await get(port, path)).body);
    }
    const behind = watchers.filter(({ path, w }) => lastAnswer(w) !== answers.get(path));
    if (behind.length === 0) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      assert.fail(`${behind.length} of ${watchers.length} watchers not converged after ${timeoutMs} ms, e.g. ${behind[0].path}`);
    }
    await sleep(50);
  }
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
  etcd: { state: string; endpoint: string; revision: number; lastContactAgoMs: number | null; snapshots: number; compactionsSeen: number };
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
