// CPU time the implementation spends per change of one pod group, from /proc/<pid>/stat, minus
// its idle CPU over the same time. Run at 1x and 4x cluster size: a cost that follows the pod
// group (and the views that include it) stays flat; one that follows the cluster grows 4x.
import { setTimeout as sleep } from 'node:timers/promises';
import { markPodGroup, podGroups } from './cluster.js';
import { round, type Ctx } from './context.js';
import { now } from './target.js';

export interface CpuScenario {
  name: string;
  watchers: number;
  cpuMsPerChange: number;
}

export interface CpuFigure {
  clusterContainers: number;
  podGroup: string;
  changes: number;
  scenarios: CpuScenario[];
}

async function cpuPerChange(ctx: Ctx, key: string, value: string, changes: number, seq0: number): Promise<number> {
  // Idle rate first (timers, GC), then the changes at 50/s so that each is its own etcd batch.
  const i0 = ctx.target.cpuMs();
  const ti = now();
  await sleep(1000);
  const idleRate = (ctx.target.cpuMs() - i0) / (now() - ti);
  const c0 = ctx.target.cpuMs();
  const t0 = now();
  for (let n = 0; n < changes; n++) {
    const wait = t0 + n * 20 - now();
    if (wait > 1) await sleep(wait);
    await ctx.etcd.put(key, markPodGroup(value, seq0 + n));
  }
  await sleep(700);
  const used = ctx.target.cpuMs() - c0 - idleRate * (now() - t0);
  return Math.max(0, used / changes);
}

export async function measureCpu(ctx: Ctx): Promise<CpuFigure> {
  const changes = ctx.opts.quick ? 50 : 200;
  const web = podGroups(ctx.cluster, { web: true });
  // A generated user app's web pod group from the middle of the list (not a system app).
  const pg = web[Math.floor(web.length / 2)];
  const scenarios: CpuScenario[] = [];
  const run = async (name: string, paths: string[]) => {
    if (paths.length) {
      const r = await ctx.client.call({ type: 'watch', port: ctx.target.port, paths, sources: ctx.opts.sources, concurrency: 32, timeoutMs: 60_000 });
      if (r.failed) ctx.log(`cpu: ${r.failed} watchers failed: ${r.firstError}`);
    }
    const ms = await cpuPerChange(ctx, pg.key, pg.value, changes, scenarios.length * 10_000);
    await ctx.client.call({ type: 'close' });
    scenarios.push({ name, watchers: paths.length, cpuMsPerChange: round(ms, 2) });
    ctx.log(`cpu per change (${name}, ${ctx.cluster.containers} containers): ${round(ms, 2)} ms`);
  };
  await run('no watchers', []);
  await run("10 watchers of the pod group's app (coreinfowatcher, procwatcher)", [
    ...Array.from({ length: 5 }, () => `/v2/coreinfowatcher?appname=${encodeURIComponent(pg.app)}`),
    ...Array.from({ length: 5 }, () => `/v2/procwatcher?appname=${encodeURIComponent(pg.app)}`),
  ]);
  await run('1 watcher of /v2/webrouter/webprocs (whole cluster)', ['/v2/webrouter/webprocs']);
  return { clusterContainers: ctx.cluster.containers, podGroup: pg.key, changes, scenarios };
}
