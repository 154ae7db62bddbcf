// Fan-out: N watchers of one query; one etcd write that changes its answer; the time from the
// write returning to each watcher holding the whole event. Also the RSS each idle watcher costs.
import { setTimeout as sleep } from 'node:timers/promises';
import { CpuWindow, pct, round, type Ctx } from './context.js';
import { now } from './target.js';

export interface FanoutFigure {
  path: string;
  watchers: number;
  opened: number;
  failed: number;
  firstError?: string;
  rounds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  missedEvents: number;
  /** RSS growth per connected idle watcher. */
  rssPerWatcherBytes: number;
  rssWithWatchersBytes: number;
  etcdWatchers?: number;
  connectSeconds: number;
  serverCpuPct: number;
  clientCpuPct: number;
}

/** `change(seq)` writes one change that alters the watched answer. */
export async function measureFanout(ctx: Ctx, path: string, watchers: number, change: (seq: number) => Promise<void>): Promise<FanoutFigure> {
  const rounds = ctx.opts.quick ? 2 : 5;
  await sleep(500);
  const rssBefore = ctx.target.rss();
  const opened = await ctx.client.call({
    type: 'watch',
    port: ctx.target.port,
    paths: Array.from({ length: watchers }, () => path),
    sources: ctx.opts.sources,
    concurrency: 128,
    timeoutMs: 120_000,
  });
  ctx.log(`watch ${path}: ${opened.opened}/${watchers} open in ${round(opened.elapsedMs / 1000, 2)} s${opened.failed ? `, ${opened.failed} failed (${opened.firstError})` : ''}`);
  await sleep(1500);
  const rssWith = ctx.target.rss();
  const etcdWatchers = await ctx.etcd.watchers();
  const latencies: number[] = [];
  let missed = 0;
  let clientCpu = 0;
  const w = new CpuWindow(ctx.target);
  for (let r = 0; r < rounds; r++) {
    await ctx.client.call({ type: 'arm' });
    await change(1_000_000 + r);
    const tPut = now();
    const got = await ctx.client.call({ type: 'await', timeoutMs: 30_000 });
    clientCpu += got.cpuMs;
    missed += got.missing;
    for (const t of got.times) latencies.push(Math.max(0, t - tPut));
    await sleep(300);
  }
  const cpu = w.end(clientCpu);
  await ctx.client.call({ type: 'close' });
  latencies.sort((a, b) => a - b);
  const fig: FanoutFigure = {
    path,
    watchers,
    opened: opened.opened,
    failed: opened.failed,
    firstError: opened.firstError,
    rounds,
    p50Ms: round(pct(latencies, 50)),
    p99Ms: round(pct(latencies, 99)),
    maxMs: round(latencies[latencies.length - 1] ?? NaN),
    missedEvents: missed,
    rssPerWatcherBytes: opened.opened ? Math.round((rssWith - rssBefore) / opened.opened) : NaN,
    rssWithWatchersBytes: rssWith,
    etcdWatchers,
    connectSeconds: round(opened.elapsedMs / 1000, 2),
    serverCpuPct: cpu.serverCpuPct,
    clientCpuPct: cpu.clientCpuPct,
  };
  ctx.log(
    `fan-out ${path} x${watchers}: p50 ${fig.p50Ms} ms p99 ${fig.p99Ms} ms max ${fig.maxMs} ms, missed ${missed}; ` +
      `RSS/watcher ${round(fig.rssPerWatcherBytes / 1024)} KB; etcd watchers ${etcdWatchers}`,
  );
  await sleep(500);
  return fig;
}
