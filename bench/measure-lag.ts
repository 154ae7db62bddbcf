// Sustained writes: `rate` pod group writes per second to the pod groups of the watched apps,
// with 1000 watchers (10 per app of coreinfowatcher?appname=<app>, plus webrouter's global
// webprocs watchers). Each write carries a sequence marker; a watcher has caught up with write n
// once an event holding a marker >= n arrived (etcd and the implementation apply in order).
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { markPodGroup, podGroups } from './cluster.js';
import { CpuWindow, pct, round, type Ctx } from './context.js';
import { now } from './target.js';

/** Above every marker the other measurements write, so an old marker never looks new. */
const SEQ_BASE = 10_000_000;

export interface LagFigure {
  watchers: number;
  perAppWatchers: number;
  globalWatchers: number;
  apps: number;
  targetRate: number;
  achievedRate: number;
  writes: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  perAppP99Ms: number;
  globalP99Ms: number;
  notCaughtUp: number;
  serverCpuPct: number;
  clientCpuPct: number;
}

export async function measureLag(ctx: Ctx, opts: { watchers: number; globalWatchers: number; rate: number }): Promise<LagFigure> {
  const seconds = ctx.opts.quick ? 3 : 10;
  const webPgs = podGroups(ctx.cluster, { web: true });
  // One web pod group per app, for as many apps as give 10 watchers each.
  const perApp = new Map<string, (typeof webPgs)[number]>();
  for (const pg of webPgs) if (!perApp.has(pg.app)) perApp.set(pg.app, pg);
  const perAppWatchers = opts.watchers - opts.globalWatchers;
  const apps = [...perApp.values()].slice(0, Math.max(1, Math.floor(perAppWatchers / 10)));
  const paths: string[] = [];
  const watchedApp: string[] = [];
  for (let i = 0; i < perAppWatchers; i++) {
    const pg = apps[i % apps.length];
    paths.push(`/v2/coreinfowatcher?appname=${encodeURIComponent(pg.app)}`);
    watchedApp.push(pg.app);
  }
  for (let i = 0; i < opts.globalWatchers; i++) {
    paths.push('/v2/webrouter/webprocs');
    watchedApp.push('*');
  }
  const opened = await ctx.client.call({ type: 'watch', port: ctx.target.port, paths, sources: ctx.opts.sources, concurrency: 64, timeoutMs: 60_000 });
  ctx.log(`lag: ${opened.opened}/${paths.length} watchers open over ${apps.length} apps`);
  await sleep(1000);
  await ctx.client.call({ type: 'markers', on: true });

  // Writes are issued on schedule, several in flight (an etcd write takes a few ms): each one's
  // etcd revision tells the order etcd applied them in, whatever order they were issued in.
  const interval = 1000 / opts.rate;
  const total = Math.round(seconds * opts.rate);
  const putDone: number[] = [];
  const putRev: number[] = [];
  const putApp: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const w = new CpuWindow(ctx.target);
  const cpuClient0 = (await ctx.client.call({ type: 'collect-markers' })).cpuMs;
  const t0 = now();
  for (let n = 0; n < total && now() - t0 < seconds * 1000 + 10_000; n++) {
    const wait = t0 + n * interval - now();
    if (wait > 1) await sleep(wait);
    while (inFlight.size >= 32) await Promise.race(inFlight);
    const pg = apps[n % apps.length];
    putApp[n] = pg.app;
    const p: Promise<void> = ctx.etcd.put(pg.key, markPodGroup(pg.value, SEQ_BASE + n)).then((rev) => {
      putDone[n] = now();
      putRev[n] = rev;
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  const writeSeconds = (now() - t0) / 1000;
  await sleep(2000);
  const collected = await ctx.client.call({ type: 'collect-markers' });
  const cpu = w.end(collected.cpuMs - cpuClient0);
  await ctx.client.call({ type: 'markers', on: false });
  await ctx.client.call({ type: 'close' });

  // Per watcher, in arrival order: (time, highest etcd revision among this run's markers in the
  // event, carried forward). Write n is held once that revision reaches the write's revision.
  const held: Array<Array<[number, number]>> = paths.map(() => []);
  const m = collected.marks;
  for (let i = 0; i + 2 < m.length; ) {
    const wi = m[i];
    const t = m[i + 1];
    const count = m[i + 2];
    const list = held[wi];
    let rev = list.length ? list[list.length - 1][1] : -1;
    for (let k = 0; k < count; k++) {
      const n = m[i + 3 + k] - SEQ_BASE;
      if (n >= 0 && n < putRev.length && putRev[n] > rev) rev = putRev[n];
    }
    list?.push([t, rev]);
    i += 3 + count;
  }
  const all: number[] = [];
  const perAppLags: number[] = [];
  const globalLags: number[] = [];
  let notCaughtUp = 0;
  const dump: string[] = [];
  for (let wi = 0; wi < paths.length; wi++) {
    const app = watchedApp[wi];
    const list = held[wi];
    for (let n = 0; n < putDone.length; n++) {
      if (app !== '*' && putApp[n] !== app) continue;
      // First event holding write n (a binary search: the carried revision never decreases).
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (list[mid][1] < putRev[n]) lo = mid + 1;
        else hi = mid;
      }
      if (lo >= list.length) {
        notCaughtUp++;
        continue;
      }
      const lag = Math.max(0, list[lo][0] - putDone[n]);
      if (process.env.BENCH_LAG_DUMP) dump.push(`${wi} ${n} ${Math.round(putDone[n] - t0)} ${lag.toFixed(1)}`);
      all.push(lag);
      (app === '*' ? globalLags : perAppLags).push(lag);
    }
  }
  if (process.env.BENCH_LAG_DUMP) fs.writeFileSync(process.env.BENCH_LAG_DUMP, dump.join('\n'));
  for (const a of [all, perAppLags, globalLags]) a.sort((x, y) => x - y);
  const fig: LagFigure = {
    watchers: paths.length,
    perAppWatchers,
    globalWatchers: opts.globalWatchers,
    apps: apps.length,
    targetRate: opts.rate,
    achievedRate: Math.round(putDone.length / writeSeconds),
    writes: putDone.length,
    seconds: round(writeSeconds, 2),
    p50Ms: round(pct(all, 50)),
    p99Ms: round(pct(all, 99)),
    maxMs: round(all[all.length - 1] ?? NaN),
    perAppP99Ms: round(pct(perAppLags, 99)),
    globalP99Ms: round(pct(globalLags, 99)),
    notCaughtUp,
    serverCpuPct: cpu.serverCpuPct,
    clientCpuPct: cpu.clientCpuPct,
  };
  ctx.log(
    `lag: ${fig.achievedRate} writes/s x ${fig.seconds} s, ${fig.watchers} watchers: p50 ${fig.p50Ms} p99 ${fig.p99Ms} max ${fig.maxMs} ms ` +
      `(per-app p99 ${fig.perAppP99Ms}, webprocs p99 ${fig.globalP99Ms}), not caught up ${notCaughtUp}; server ${cpu.serverCpuPct}% client ${cpu.clientCpuPct}%`,
  );
  return fig;
}
